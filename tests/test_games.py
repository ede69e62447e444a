"""The shared game interface: observation modes, text spaces and illegal-action handling."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from palaestra.envs.games import (
    check_agent_name,
    check_illegal_action,
    check_obs_mode,
    check_parallel_step,
    check_render_mode,
    game_observation_space,
    legal_actions,
    resolve_action,
    text_space,
)

NAMES = ("fold", "check", "raise")
MASK = np.array([1, 0, 1], np.int8)


def _vector():
    return spaces.Dict(
        {
            "cards": spaces.Box(0, 1, (4,), np.float32),
            "action_mask": spaces.Box(0, 1, (3,), np.int8),
        }
    )


def test_text_space_accepts_spaces_punctuation_and_empty_strings():
    space = text_space(40)
    assert space.contains("pot: 12, to call 2 (raise?)")
    assert space.contains("")
    assert not space.contains("x" * 41)
    assert not space.contains("\u00e9")


def test_observation_space_per_mode():
    vector = _vector()
    assert game_observation_space(vector, "vector", 10) is vector
    assert isinstance(game_observation_space(vector, "text", 10), spaces.Text)
    both = game_observation_space(vector, "both", 10)
    assert set(both.spaces) == {"cards", "action_mask", "text"}
    with pytest.raises(ValueError, match="obs_mode must be one of vector, text, both; got 'image'"):
        game_observation_space(vector, "image", 10)


def test_legal_actions_list_exactly_the_unmasked_actions():
    assert legal_actions(MASK, NAMES) == {0: "fold", 2: "raise"}
    assert legal_actions(np.zeros(3, np.int8), NAMES) == {}


def test_legal_action_passes_through():
    for action in (2, np.int64(2), np.array(2), np.array([2]), 2.0):
        assert resolve_action(
            action, MASK, agent="p0", names=NAMES, illegal_action="raise", fallback=0
        ) == (2, False)


def test_illegal_action_raises_naming_agent_action_and_legal_ones():
    with pytest.raises(ValueError, match=r"action 1 \(check\) is not legal for p0 now; legal: "
                       r"0 \(fold\), 2 \(raise\)"):  # fmt: skip
        resolve_action(1, MASK, agent="p0", names=NAMES, illegal_action="raise", fallback=0)


def test_illegal_action_penalized_takes_the_fallback():
    taken = resolve_action(1, MASK, agent="p0", names=NAMES, illegal_action="penalize", fallback=2)
    assert taken == (2, True)
    with pytest.raises(RuntimeError, match="fallback action 1"):
        resolve_action(2, np.array([0, 0, 0]), agent="p0", names=NAMES,
                       illegal_action="penalize", fallback=1)  # fmt: skip


@pytest.mark.parametrize("action", [3, -1, 1.5, float("nan"), "1", True, np.array([1, 2]), None])
def test_malformed_actions_raise_even_when_penalizing(action):
    with pytest.raises(ValueError, match="action for p0"):
        resolve_action(action, MASK, agent="p0", names=NAMES, illegal_action="penalize",
                       fallback=0)  # fmt: skip


def test_mode_checks():
    assert check_obs_mode("both") == "both"
    assert check_illegal_action("penalize") == "penalize"
    with pytest.raises(ValueError, match="illegal_action must be one of raise, penalize"):
        check_illegal_action("ignore")


def test_text_spaces_refuse_async_shared_memory_with_a_clear_error():
    import gymnasium as gym
    from gymnasium.error import CustomSpaceError
    from gymnasium.vector.utils import create_shared_memory

    with pytest.raises(CustomSpaceError, match="shared_memory': False"):
        create_shared_memory(text_space(10), n=2)
    both = game_observation_space(_vector(), "both", 10)
    with pytest.raises(CustomSpaceError, match="shared_memory': False"):
        create_shared_memory(both, n=2)

    import palaestra  # noqa: F401  (registers the envs)

    with pytest.raises((CustomSpaceError, ValueError), match="shared_memory"):
        gym.make_vec("palaestra/Craft-v0", 2, vectorization_mode="async", obs_mode="text")


def test_render_mode_and_agent_name_checks():
    check_render_mode(None, ["ansi"])
    check_render_mode("ansi", ["ansi"])
    with pytest.raises(
        ValueError, match=r"render_mode must be one of \['ansi'\] or None, got 'human'"
    ):
        check_render_mode("human", ["ansi"])
    check_agent_name("a_0", ["a_0", "a_1"])
    with pytest.raises(ValueError, match=r"unknown agent 'a_9'; agents are \['a_0', 'a_1'\]"):
        check_agent_name("a_9", ["a_0", "a_1"])
    with pytest.raises(ValueError, match="unknown agent"):
        check_agent_name(["unhashable"], ["a_0"])


def test_parallel_step_checks_name_the_agents():
    from gymnasium.error import ResetNeeded

    live = ["a_0", "a_1"]
    check_parallel_step("toy-v0", {"a_0": 1, "a_1": 0}, live)
    with pytest.raises(ResetNeeded, match=r"toy-v0: the episode has ended .* call reset\(\)"):
        check_parallel_step("toy-v0", {}, [])
    with pytest.raises(ResetNeeded, match="toy-v0"):
        check_parallel_step("toy-v0", {"a_0": 1, "a_1": 0}, live, running=False)
    with pytest.raises(ValueError, match="actions must be a dict from agent name to action"):
        check_parallel_step("toy-v0", [1, 0], live)
    with pytest.raises(ValueError, match=r"unknown agent 'a_7' in actions; live agents: \['a_0'"):
        check_parallel_step("toy-v0", {"a_0": 1, "a_1": 0, "a_7": 0}, live)
    with pytest.raises(ValueError, match=r"actions are missing agent\(s\) \['a_1'\]"):
        check_parallel_step("toy-v0", {"a_0": 1}, live)


def test_every_env_uses_the_shared_checks():
    # One copy of each check: the env modules import them from games.py.
    import importlib

    from palaestra.envs import games

    modules = [
        "palaestra.envs.carry.core",
        "palaestra.envs.carry.carry_parallel",
        "palaestra.envs.craft.craft_env",
        "palaestra.envs.craft.craft_parallel",
        "palaestra.envs.holdem.holdem_gym",
        "palaestra.envs.holdem.holdem_aec",
    ]
    for name in modules:
        module = importlib.import_module(name)
        for check in ("check_render_mode", "check_parallel_step", "check_agent_name"):
            if hasattr(module, check):
                assert getattr(module, check) is getattr(games, check), (name, check)
    for name in ("palaestra.envs.craft.base", "palaestra.envs.holdem.common"):
        assert not hasattr(importlib.import_module(name), "check_render_mode"), name
