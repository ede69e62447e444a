"""The README's promises: its Python snippets run, its tables match the code, CI runs its tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from palaestra.envs.carry import CARRY_TASK_SPACE
from palaestra.envs.craft import CRAFT_TASK_SPACE
from palaestra.envs.holdem import HOLDEM_TASK_SPACE

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _quickstart_commands() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    assert block, "the Quickstart has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_snippets_run(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # snippets may write run folders
    code = _blocks("python")[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "readme"})


def test_quickstart_is_two_commands_install_and_run_then_test():
    commands = _quickstart_commands()
    assert len(commands) == 2
    main, tests = commands
    assert "pip install" in main and "palaestra train palaestra/Carry-v0" in main
    assert "pip install" in tests and tests.rstrip().endswith("pytest")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = _quickstart_commands()[1]
    assert test_command in ci.splitlines()
    assert "torch==2.13.0" in ci


@pytest.mark.parametrize("family", ["carry", "craft", "holdem"])
def test_task_tables_match_the_task_spaces(family):
    spaces = {"carry": CARRY_TASK_SPACE, "craft": CRAFT_TASK_SPACE, "holdem": HOLDEM_TASK_SPACE}
    space = spaces[family]
    marker = f"<!-- task-table:{family} -->\n"
    table = README.split(marker, 1)[1].split("<!-- /task-table -->", 1)[0]
    assert table.strip() == space.table()


def test_env_ids_are_documented():
    from palaestra.envs import ENV_IDS

    for entry in ENV_IDS:
        assert f"`{entry.id}`" in README
