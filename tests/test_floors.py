"""The layout rules of DESIGN.md, read from the source with ``ast`` (nothing is imported).

Floors: a package imports only packages on lower floors (envs, llm: 1; memory, skills,
curriculum: 2; agents: 3; train: 4; bench, cli, ``__main__``, benchmarks/: 5, which may import
anything). Imports within one package are free. The root ``__init__.py`` may import only envs,
and importing the bare ``palaestra`` (or a name from it that is not a package) counts as
importing floor 1, since that is all the root package loads. Every import counts wherever it
stands: at the top, inside a function, or under ``if TYPE_CHECKING:``; a type-only import
upwards still couples the floors, and the code base needs none (its few TYPE_CHECKING imports
stay inside their package). A package missing from the table (a new folder) is an offence
until it is given a floor; llm, memory, skills and bench are checked as soon as they exist.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = {
    "envs": 1,
    "llm": 1,
    "memory": 2,
    "skills": 2,
    "curriculum": 2,
    "agents": 3,
    "train": 4,
    "bench": 5,
    "cli": 5,
    "__main__": 5,
    "benchmarks": 5,
}
TOP = "palaestra"  # the root __init__.py, as importer and as import target
SKIP = {"tests", "build", "dist", "runs", "venv"}
MAX_MODULE_LINES = 600
MAX_TRAIN_FUNCTION_LINES = 100
_DYNAMIC = {"import_module", "__import__"}  # importlib.import_module("torch")


def _sources() -> list[str]:
    """Relative paths of the package's modules and benchmarks/*.py; never tests/."""
    found = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        first = rel.parts[0]
        if first in SKIP or first.startswith(".") or first.endswith(".egg-info"):
            continue
        found.append(rel.as_posix())
    return sorted(found)


def _owner(rel: str) -> str:
    """The floors-table package a module belongs to (may be unknown to the table)."""
    parts = rel.split("/")
    if len(parts) > 1:
        return parts[0]
    return {"__init__.py": TOP}.get(parts[0], parts[0].removesuffix(".py"))


def imports(rel: str, source: str) -> list[tuple[int, str]]:
    """Every import in ``source`` as (line, absolute dotted module), relative ones resolved."""
    parts = rel.removesuffix(".py").split("/")
    here = [TOP, *parts[:-1]] if rel.split("/")[0] != "benchmarks" else parts[:-1]
    found = []
    for node in ast.walk(ast.parse(source, filename=rel)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            if node.level > len(here):
                found.append((node.lineno, "<beyond the package>"))
                continue
            module = ".".join([*base, *([node.module] if node.module else [])])
            if module == TOP:  # `from palaestra import envs` names a package
                names = [a.name for a in node.names if a.name in FLOORS]
                found += [(node.lineno, f"{TOP}.{n}") for n in names] or [(node.lineno, TOP)]
            else:
                found.append((node.lineno, module))
    return sorted(found)


def check_floors(rel: str, source: str) -> list[str]:
    """Offences of the floors table in one module, as ``path:line: ...`` lines."""
    src = _owner(rel)
    if src != TOP and src not in FLOORS:
        return [f"{rel}:1: {src} has no floor: add it to FLOORS and DESIGN.md"]
    src_floor = 5 if src == TOP else FLOORS[src]
    offences = []
    for line, target in imports(rel, source):
        if target == "<beyond the package>":
            offences.append(f"{rel}:{line}: relative import beyond the package")
            continue
        parts = target.split(".")
        if parts[0] != TOP:
            continue
        dst = parts[1] if len(parts) > 1 else TOP
        if dst not in FLOORS and dst != TOP:
            offences.append(f"{rel}:{line}: {src} imports {target} (no floor: unknown package)")
            continue
        dst_floor = 1 if dst == TOP else FLOORS[dst]
        ok = (
            (dst == src or src_floor == 5 or dst_floor < src_floor) if src != TOP else dst == "envs"
        )
        if not ok:
            msg = f"{rel}:{line}: {src} (floor {src_floor}) imports {target} (floor {dst_floor})"
            offences.append(msg + ("; the root __init__ may import only envs" * (src == TOP)))
    return offences


def torch_imports(rel: str, source: str) -> list[str]:
    """Every import of torch in a module, also lazy ones and ``importlib.import_module``."""
    found = [(line, t) for line, t in imports(rel, source) if t.split(".")[0] == "torch"]
    for node in ast.walk(ast.parse(source, filename=rel)):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in _DYNAMIC
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).split(".")[0] == "torch"
        ):
            found.append((node.lineno, str(node.args[0].value)))
    return [f"{rel}:{line}: imports {target}" for line, target in sorted(found)]


def _read(rel: str) -> str:
    return (ROOT / rel).read_text(encoding="utf-8")


def test_imports_respect_the_floors():
    offences = [o for rel in _sources() for o in check_floors(rel, _read(rel))]
    assert not offences, "imports against the floors of DESIGN.md:\n" + "\n".join(offences)


def test_the_scan_sees_every_package():
    owners = {_owner(rel) for rel in _sources()}
    assert {TOP, "envs", "curriculum", "agents", "train", "cli", "benchmarks"} <= owners


def test_envs_never_import_torch():
    envs = [rel for rel in _sources() if rel.startswith("envs/")]
    assert len(envs) > 10
    found = [o for rel in envs for o in torch_imports(rel, _read(rel))]
    assert not found, "envs must never import torch:\n" + "\n".join(found)


def test_import_palaestra_loads_no_heavy_dependency():
    # tests/test_packaging.py::test_import_is_light already checks torch and pybullet.
    heavy = ("transformers", "peft", "ray")
    code = f"import sys, palaestra; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_checker_catches_bad_imports():
    bad_env = "import numpy as np\n\nfrom palaestra.train import ppo\nfrom . import tasks\n"
    assert check_floors("envs/x.py", bad_env) == [
        "envs/x.py:3: envs (floor 1) imports palaestra.train (floor 4)"
    ]
    bad_curriculum = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from ..base import Scheduler\n"
        "if TYPE_CHECKING:\n"
        "    from ...agents import base\n"
        "def f():\n"
        "    from palaestra import envs, skills\n"
    )
    assert check_floors("curriculum/sub/y.py", bad_curriculum) == [
        "curriculum/sub/y.py:5: curriculum (floor 2) imports palaestra.agents (floor 3)",
        "curriculum/sub/y.py:7: curriculum (floor 2) imports palaestra.skills (floor 2)",
    ]
    assert check_floors(
        "__init__.py", "from palaestra.train import x\nimport palaestra.envs\n"
    ) == [
        "__init__.py:1: palaestra (floor 5) imports palaestra.train (floor 4)"
        "; the root __init__ may import only envs"
    ]
    assert check_floors("cli.py", "def main():\n    from palaestra.bench import run\n") == []
    assert check_floors("utils/z.py", "") == [
        "utils/z.py:1: utils has no floor: add it to FLOORS and DESIGN.md"
    ]
    lazy = (
        "def f():\n    import torch.nn\n    import importlib\n    importlib.import_module('torch')"
    )
    assert torch_imports("envs/z.py", lazy) == [
        "envs/z.py:2: imports torch.nn",
        "envs/z.py:4: imports torch",
    ]


def test_no_module_is_too_long():
    long = [
        f"{rel}:1: {n} lines"
        for rel in _sources()
        if (n := len(_read(rel).splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long)


def test_no_train_function_is_too_long():
    long = []
    for rel in (r for r in _sources() if r.startswith("train/")):
        for node in ast.walk(ast.parse(_read(rel), filename=rel)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_TRAIN_FUNCTION_LINES:
                    long.append(f"{rel}:{node.lineno}: {node.name}() is {n} lines")
    assert not long, f"train/ functions over {MAX_TRAIN_FUNCTION_LINES} lines:\n" + "\n".join(long)
