"""Mixed-expertise Craft tasks: valid, deterministic, and a team needs talk to solve them."""

from __future__ import annotations

from collections import deque

import pettingzoo
import pytest

import palaestra  # noqa: F401
from palaestra.agents import CooperativeCrafter
from palaestra.envs.craft.task import craft_task_space
from palaestra.envs.craft.teams import MIXED_GOALS, mixed_expertise_tasks


def _reachable(layout, start):
    height, width = len(layout), len(layout[0])
    seen, queue = {start}, deque([start])
    while queue:
        x, y = queue.popleft()
        for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            inside = 0 <= nx < width and 0 <= ny < height
            if inside and (nx, ny) not in seen and layout[ny][nx] in ".0123":
                seen.add((nx, ny))
                queue.append((nx, ny))
    return seen


@pytest.mark.parametrize("events", [False, True])
def test_tasks_are_valid_deterministic_and_the_expert_cannot_leave(events):
    tasks = mixed_expertise_tasks(40, 3, events=events)
    assert tasks == mixed_expertise_tasks(40, 3, events=events)
    assert tasks != mixed_expertise_tasks(40, 4, events=events)
    space = craft_task_space(max_agents=2)
    for task in tasks:
        space.validate(task)
        layout = task["layout"]
        cells = {c: (x, y) for y, row in enumerate(layout) for x, c in enumerate(row)}
        expert, novice = cells["1"], cells["0"]
        assert _reachable(layout, expert) == {expert}  # an island of one tile
        assert max(abs(expert[0] - novice[0]), abs(expert[1] - novice[1])) == 2
        assert task["knowledge"][0] == [] and len(task["knowledge"][1]) == 5
        assert ("events" in task) == events
    assert {t["goal"] for t in tasks} == set(MIXED_GOALS)


def _team(task, talk):
    env = pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=2, max_cycles=150)
    obs, infos = env.reset(seed=0, options={"task": task})
    team = {a: CooperativeCrafter(env, a, talk=talk) for a in env.agents}
    while env.agents:
        obs, _, _, _, infos = env.step({a: team[a].act(obs[a]) for a in env.agents})
    return infos["agent_0"]


def test_only_a_taught_novice_crafts_and_gathering_needs_no_talk():
    tasks = mixed_expertise_tasks(12, 0, goals=("craft planks", "collect wood"))
    for task in tasks:
        taught, silent = _team(task, True), _team(task, False)
        assert taught["success"]
        assert silent["success"] == (task["goal"] == "collect wood")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="n must be"):
        mixed_expertise_tasks(0, 0)
    with pytest.raises(ValueError, match="goals"):
        mixed_expertise_tasks(1, 0, goals=("mine stone",))
    with pytest.raises(ValueError, match="hearing_range"):
        mixed_expertise_tasks(1, 0, hearing_range=1)
