"""Hold'em's built-in opponents as agents: random, calling station and tight-aggressive.

``palaestra/Holdem-v0`` seats these players around its learner; here they are agents that
follow the agent interface (:mod:`palaestra.agents.base`), so they can take the learner's
seat of ``palaestra/Holdem-v0`` (a reference point for a learned policy) or any seat of
``palaestra/holdem-v0`` (a table of scripted players, or sparring partners for a learner).

Each one calls the env's own opponent function (:mod:`palaestra.envs.holdem.opponents`),
which reads the engine's hand: these agents read the simulator (``env.unwrapped.hand``: the
hole cards of their seat, the board, the bets), not their observation, and so take the env
in their constructor, and for ``holdem-v0`` the seat they play. A seat's hole cards are in
its own observation too, so they see nothing a player at the table could not.

Example::

    env = pettingzoo.make("aec", "palaestra/holdem-v0", num_players=3)
    players = {a: TagAgent(env, seat=a) for a in env.possible_agents}
    env.reset(seed=0)
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        done = termination or truncation
        env.step(None if done else players[agent].act(observation, info))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from palaestra.envs.holdem.opponents import OPPONENTS

__all__ = [
    "HOLDEM_AGENTS",
    "CallingStationAgent",
    "HoldemBaseline",
    "RandomHoldemAgent",
    "TagAgent",
]


def resolve_seat(env: Any, seat: str | None, name: str) -> tuple[Any, int | None]:
    """The unwrapped hold'em env and the seat index an agent named ``name`` plays.

    Returns:
        ``(unwrapped env, seat index)``; the index is None for ``Holdem-v0``, where the
        agent plays the learner's seat wherever the episode puts it.

    Raises:
        ValueError: for an env that is not a hold'em env, a missing or unknown seat for
            ``holdem-v0``, or a seat given for ``Holdem-v0``.
    """
    from palaestra.envs.holdem.holdem_aec import HoldemAECEnv
    from palaestra.envs.holdem.holdem_gym import HoldemEnv

    unwrapped = getattr(env, "unwrapped", env)
    if isinstance(unwrapped, HoldemAECEnv):
        if seat not in unwrapped.possible_agents:
            raise ValueError(
                f"{name}: seat must name the agent it plays in holdem-v0, one of "
                f"{unwrapped.possible_agents}; got {seat!r}"
            )
        return unwrapped, unwrapped.possible_agents.index(seat)
    if isinstance(unwrapped, HoldemEnv):
        if seat is not None:
            raise ValueError(
                f"{name}: in Holdem-v0 it plays the learner's seat; leave seat None (got {seat!r})"
            )
        return unwrapped, None
    raise ValueError(
        f"{name} plays palaestra/Holdem-v0 or palaestra/holdem-v0, not {type(unwrapped).__name__}"
    )


class HoldemBaseline:
    """A built-in hold'em opponent playing one seat, as an agent.

    It reads the simulator: at each ``act`` it takes the env's running hand
    (``env.unwrapped.hand``) and returns what the built-in opponent named
    :attr:`opponent` would play in its seat; the observation and info are not read.

    Args:
        env: ``palaestra/Holdem-v0`` or ``palaestra/holdem-v0`` (wrapped or not).
        seat: For ``holdem-v0``, the agent it plays (``"player_0"``, ...); for
            ``Holdem-v0``, None: it plays the learner's seat, wherever the episode puts it.
        seed: Seed of its own generator (used by the random player only); ``reset(seed)``
            reseeds it.

    Raises:
        ValueError: for an env that is not a hold'em env, a missing or unknown seat for
            ``holdem-v0``, or a seat given for ``Holdem-v0``.
    """

    opponent: ClassVar[str] = ""
    """The name of the built-in opponent it plays (a key of ``OPPONENTS``)."""

    def __init__(self, env: Any, seat: str | None = None, seed: int | None = None) -> None:
        self.env, self._seat = resolve_seat(env, seat, type(self).__name__)
        self.seat = seat
        self._policy = OPPONENTS[self.opponent]
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Reseed the generator when ``seed`` is given; there is nothing else to forget."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, observation: Any = None, info: Mapping[str, Any] | None = None) -> int:
        """The built-in opponent's action in its seat of the running hand.

        Args:
            observation: Ignored: it reads the simulator (see the class).
            info: Ignored.

        Raises:
            ValueError: when it is not its seat's turn (or the episode is over).
            gymnasium.error.ResetNeeded: before the env's first reset.
        """
        env = self.env
        hand = env.hand
        seat = env.learner_seat if self._seat is None else self._seat
        if hand.to_act != seat:
            who = self.seat or f"the learner (player_{seat})"
            raise ValueError(
                f"{type(self).__name__}: it is not {who}'s turn "
                + ("(the episode is over)" if hand.to_act < 0 else f"(player_{hand.to_act} acts)")
            )
        return int(self._policy(hand, seat, hand.legal_mask(), self.rng))


class RandomHoldemAgent(HoldemBaseline):
    """Plays a uniformly random legal action with its own generator (``random``).

    It reads the simulator and takes the env (and seat) in its constructor: see
    :class:`HoldemBaseline` for the arguments.
    """

    opponent = "random"


class CallingStationAgent(HoldemBaseline):
    """Always checks or calls (``calling_station``).

    It reads the simulator and takes the env (and seat) in its constructor: see
    :class:`HoldemBaseline` for the arguments.
    """

    opponent = "calling_station"


class TagAgent(HoldemBaseline):
    """A tight-aggressive heuristic player (``tag``; its rules are in the opponents module).

    It reads the simulator (its hole cards, the board, the bets) and takes the env (and
    seat) in its constructor: see :class:`HoldemBaseline` for the arguments.
    """

    opponent = "tag"


HOLDEM_AGENTS: dict[str, type[HoldemBaseline]] = {
    cls.opponent: cls for cls in (RandomHoldemAgent, CallingStationAgent, TagAgent)
}
"""The agent class of each built-in opponent, by the opponent's name."""
