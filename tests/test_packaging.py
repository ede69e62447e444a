"""Guardrails of the layout in DESIGN.md: the repository root is the package ``palaestra``."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import palaestra

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
NOT_PACKAGES = {"tests", "benchmarks", "build", "dist", "runs", "assets"}


def test_only_entry_modules_at_the_root():
    # Any other root .py file would ship as palaestra.<name> (a stray conftest.py or setup.py).
    stray = sorted(p.name for p in ROOT.glob("*.py"))
    assert stray == ["__init__.py", "__main__.py", "cli.py"]


def test_tests_folder_is_not_a_package():
    assert not (ROOT / "tests" / "__init__.py").exists()
    assert not (ROOT / "conftest.py").exists()


def _package_folders() -> set[str]:
    found = {"palaestra"}
    for init in ROOT.rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT)
        if rel == Path("."):
            continue
        if rel.parts[0] in NOT_PACKAGES or any(p.startswith(".") for p in rel.parts):
            continue
        if any(p.endswith(".egg-info") or p in {"venv", "__pycache__"} for p in rel.parts):
            continue
        found.add("palaestra." + ".".join(rel.parts))
    return found


def test_packages_list_matches_folders_on_disk():
    # A folder missing from the list silently drops out of the wheel (an editable install
    # still works, which hides the mistake).
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == _package_folders()
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"palaestra": "."}


def test_every_package_folder_has_only_python_or_data():
    # Each listed package folder exists and has an __init__.py.
    for name in PYPROJECT["tool"]["setuptools"]["packages"]:
        folder = ROOT.joinpath(*name.split(".")[1:])
        assert (folder / "__init__.py").is_file(), name


def test_pytest_runs_from_root_with_importlib_and_confcutdir():
    addopts = PYPROJECT["tool"]["pytest"]["ini_options"]["addopts"]
    assert "--import-mode=importlib" in addopts
    assert "--confcutdir=tests" in addopts


def test_root_init_imported_only_as_palaestra():
    root_init = (ROOT / "__init__.py").resolve()
    if Path(palaestra.__file__).resolve() != root_init:
        pytest.skip("palaestra is installed from elsewhere, not from this checkout")
    names = [
        name
        for name, module in list(sys.modules.items())
        if getattr(module, "__file__", None) and Path(module.__file__).resolve() == root_init
    ]
    assert names == ["palaestra"]
    # Sub-folders must never be importable as top-level modules of their own.
    for module in list(sys.modules):
        assert module.split(".")[0] not in {"envs", "agents", "cli"}, module


def test_editable_install_is_not_compat_mode():
    # compat mode puts a plain path in a .pth file, which exposes the root's folders
    # (envs, agents, ...) as top-level modules; default and strict modes install a finder.
    editable = []
    for dist in importlib.metadata.distributions():
        if dist.metadata["Name"] != "palaestra":
            continue
        direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
        if direct_url.get("dir_info", {}).get("editable"):
            editable.append(dist)
    if not editable:
        pytest.skip("palaestra is not installed in editable mode")
    for dist in editable:
        pth_files = [f for f in dist.files or [] if str(f).endswith(".pth")]
        assert pth_files, "an editable install without a .pth file"
        for rel in pth_files:
            text = Path(dist.locate_file(rel)).read_text(encoding="utf-8")
            for line in text.splitlines():
                if line.strip() and not line.startswith("import "):
                    pytest.fail(f"{rel} adds a path to sys.path (compat editable mode): {line}")


HEAVY = ("torch", "pybullet", "transformers", "peft", "tokenizers", "sentence_transformers")


@pytest.mark.parametrize("module", ["palaestra", "palaestra.llm", "palaestra.agents"])
def test_import_is_light(module):
    # Importing the package, its language backends' protocol or its agents must not pull in
    # torch, pybullet or the language-model libraries: each is imported where it is used.
    code = f"import sys, {module}; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"import {module} loaded {out.stdout.strip()}"


def test_py_typed_ships():
    assert (ROOT / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["palaestra"]
