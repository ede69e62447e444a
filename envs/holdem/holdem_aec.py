"""``palaestra/holdem-v0``: no-limit hold'em for 2 to 9 players (PettingZoo AEC API)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv

from palaestra.envs.games import check_agent_name, check_render_mode, resolve_action
from palaestra.envs.holdem.common import (
    HoldemEnvBase,
    check_hands,
    fallback_action,
)
from palaestra.envs.holdem.engine import ACTIONS
from palaestra.envs.holdem.table import Table
from palaestra.envs.holdem.task import MAX_PLAYERS

__all__ = ["HoldemAECEnv"]


class HoldemAECEnv(HoldemEnvBase, AECEnv):
    """Rules-correct no-limit Texas hold'em for 2 to 9 players, one action at a time.

    ## Description
    After PokerGPT. Every seat is an agent. The engine (:mod:`palaestra.envs.holdem.engine`)
    plays card-room rules: antes and blinds (a seat that cannot cover posts all it has),
    heads-up the button posts the small blind and acts first pre-flop and last after it,
    the minimum raise is the last full raise, an all-in for less does not reopen the
    betting, side pots, showdown with a 7-card evaluator, the odd chip of a split pot to the
    first winner left of the button, and uncalled bets returned. An episode is one hand, or
    with ``hands=k`` up to ``k`` hands with stacks carried over, the button moving to the
    next seat with chips and busted seats out.

    Deal order: hole cards one at a time to each seat dealt in, starting left of the button,
    two rounds; then the flop (3 cards), the turn and the river; no burn cards. A task's
    ``deck`` lists the cards in this order (``2 * seats + 5`` cards at least).

    ## Agents
    ``player_0`` ... ``player_{n-1}`` for ``n = num_players``, seated in that order
    clockwise; the task's ``num_players`` may be lower (the first seats play). Seats that
    start without chips are not in ``agents``. An agent that busts is terminated at the end
    of that hand, with its episode metrics in its info.

    ## Action Space
    ``Discrete(6)``: 0 ``fold``, 1 ``check_call``, 2 ``raise_min`` (raise by the last full
    raise, at least the big blind), 3 ``raise_half_pot`` and 4 ``raise_pot`` (call, then
    raise by half of / all of the pot after the call), 5 ``all_in``. The mask allows
    ``fold`` only when there is something to call (folding when checking is free is
    masked); ``check_call`` always (calling more than the stack puts the seat all-in); a
    raise size only when the betting is open to the seat (not closed by an all-in for less
    than a full raise), an opponent still has chips, the size is at least the minimum raise
    and it leaves chips behind; ``all_in`` when the betting is open and the stack exceeds the
    amount to call. ``info["legal_actions"]`` gives each legal action's text
    (``"call 4"``, ``"raise to 12 (pot)"``). An illegal action raises ``ValueError`` by
    default; with ``illegal_action="penalize"`` the seat checks if checking is free and
    folds otherwise, loses ``illegal_penalty`` (big blinds) and gets
    ``info["invalid_action"] = True``. A non-integer, NaN or out-of-range action always
    raises ``ValueError``.

    ## Observation Space
    ``obs_mode="vector"`` (default): a ``Dict`` of ``float32`` Boxes, seats in order from the
    observer (index 0) clockwise, padded to 9, chips in big blinds: ``hole_cards`` (52,
    one-hot, card index ``13 * suit + rank``, suits ``c d h s``, ranks ``2`` ... ``A``),
    ``board`` (52), ``street`` (4, one-hot: pre-flop, flop, turn, river), ``pot`` (1, all
    chips put in this hand), ``to_call`` (1), ``stacks`` (9, chips behind), ``bets`` (9, this
    street), ``in_hand`` (9, dealt in and not folded), ``position`` (9, one-hot: seats dealt
    in from the button to the observer, 0 = button), and ``action_mask`` (6, ``int8``; all
    zeros when it is not the observer's turn). ``"text"``: the text view (a ``Text`` space,
    printable characters), whose first line is ``holdem-v0 text/1``; ``"both"``: the vector
    ``Dict`` plus a ``"text"`` key.

    ## Rewards
    At the end of each hand every agent gets its net chip change divided by the big blind
    (zero-sum, chips conserved exactly), minus ``illegal_penalty`` for each penalized action.

    ## Starting State
    The task's stacks, the button on the task's seat, blinds and antes posted, hole cards
    dealt; the first seat to act is selected.

    ## Episode End
    All agents terminate after the last hand (or when fewer than two seats have chips).
    After every hand each agent's ``info["hand_history"]`` holds ``players``, ``button``,
    ``stacks_before``, ``stacks_after``, ``contributions`` (after uncalled bets are
    returned), ``folded``, ``hole_cards`` (every seat; ``None`` for seats sitting out),
    ``board``, ``actions``, ``uncalled`` (chips returned, by player), ``pots`` (amount and
    eligible players), ``showdown``, ``hands_shown`` and ``payouts``, with
    ``stacks_after = stacks_before - contributions + payouts``. The last infos (and those of
    an agent that busts) also hold ``net_chips``, ``net_bb``, ``won``, ``showdown``,
    ``hands_played``, ``invalid_actions`` and ``difficulty``. Every step's infos hold
    ``events``, the public events of the step as text. A step once no agents are left
    raises ``gymnasium.error.ResetNeeded``.

    ## Tasks and difficulty
    Knobs (``env.task_space``): ``num_players`` (2-9), ``stacks`` (one per seat; None: 100
    big blinds each), ``small_blind`` (None: half the big blind), ``big_blind``, ``ante``,
    ``button`` and ``deck`` (the first hand's card order). Set by ``reset(options={"task":
    ...})`` or ``set_task``; bad keys or values raise ``ValueError``.
    ``task_space.difficulty`` grows with the player count and the stack depth.

    ## Arguments
    * ``num_players``: the agents (2-9); None: the task's (default 2).
    * ``task``: the task used until another is set.
    * ``obs_mode``: ``"vector"``, ``"text"`` or ``"both"``.
    * ``illegal_action``: ``"raise"`` (default) or ``"penalize"``.
    * ``illegal_penalty``: big blinds lost per penalized action (default 0.1).
    * ``hands``: hands per episode (default 1).
    * ``render_mode``: ``None`` or ``"ansi"`` (the text view of the seat to act).

    ## Version History
    * v0: first version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "holdem_v0",
        "render_modes": ["ansi"],
        "render_fps": 1,
        "is_parallelizable": False,
    }

    def __init__(
        self,
        num_players: int | None = None,
        task: Mapping[str, Any] | None = None,
        obs_mode: str = "vector",
        illegal_action: str = "raise",
        illegal_penalty: float = 0.1,
        hands: int = 1,
        render_mode: str | None = None,
    ) -> None:
        super().__init__()
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        observation_space = self._setup_modes(obs_mode, illegal_action)
        if task is not None and "num_players" in task and num_players is None:
            num_players = task["num_players"]
        if num_players is None:
            num_players = self.task_space.knobs["num_players"].default
        if isinstance(num_players, bool) or not isinstance(num_players, int):
            raise ValueError(f"num_players must be an integer in [2, {MAX_PLAYERS}]")
        if not 2 <= num_players <= MAX_PLAYERS:
            raise ValueError(f"num_players must be in [2, {MAX_PLAYERS}], got {num_players}")
        self.illegal_penalty = float(illegal_penalty)
        self.hands = check_hands(hands)
        self.possible_agents = [f"player_{k}" for k in range(num_players)]
        self.agents = []
        self._observation_space = observation_space
        self._action_space = spaces.Discrete(len(ACTIONS))
        self.observation_spaces = {a: observation_space for a in self.possible_agents}
        self.action_spaces = {a: self._action_space for a in self.possible_agents}
        self._seat = {a: k for k, a in enumerate(self.possible_agents)}
        self._task = self._validate(task)
        self._table = None
        self.np_random: np.random.Generator | None = None
        self._invalid = [0] * num_players
        self._net = [0] * num_players

    # ------------------------------------------------------------------ spaces
    def _check_agent(self, agent: Any) -> int:
        check_agent_name(agent, self.possible_agents)
        return self._seat[agent]

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        """The observation space of ``agent``."""
        self._check_agent(agent)
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Discrete:
        """The action space of ``agent``: ``Discrete(6)``."""
        self._check_agent(agent)
        return self._action_space

    def _validate(self, task: Mapping[str, Any] | None) -> dict[str, Any]:
        task = dict(task or {})
        limit = len(self.possible_agents)
        task.setdefault("num_players", limit)
        full = self.task_space.validate(task)
        if full["num_players"] > limit:
            raise ValueError(
                f"task key 'num_players': {full['num_players']} seats, but this env has "
                f"{limit} agents (make it with num_players={full['num_players']})"
            )
        return full

    def set_task(self, task: Mapping[str, Any]) -> None:
        """Validate ``task`` and use it from the next reset on."""
        self._task = self._validate(task)

    @property
    def _viewer(self) -> int:  # type: ignore[override]
        table = self._table
        return table.hand.to_act if table is not None and table.hand.to_act >= 0 else 0

    # ------------------------------------------------------------------ API
    def observe(self, agent: str) -> Any:
        """The observation of ``agent`` (in ``obs_mode``)."""
        seat = self._check_agent(agent)
        if self._table is None:
            raise gym.error.ResetNeeded("holdem-v0: call reset() before observe()")
        return self._observation(seat)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Deal the first hand; ``options={"task": {...}}`` sets the task first."""
        if seed is not None or self.np_random is None:
            self.np_random, _ = seeding.np_random(seed)
        self._set_task_from_options(options)
        n = self._task["num_players"]
        players = self.possible_agents[:n]
        self.agents = [players[k] for k in range(n) if self._task["stacks"][k] > 0]
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self._skip_agent_selection = None
        self._invalid = [0] * n
        self._net = [0] * n
        self._table = Table(self._task, self.hands, self.np_random, players)
        self.agent_selection = self.agents[0]
        self._after_action(0, self._table.start(), None)

    def step(self, action: Any) -> None:
        """Take ``action`` for ``agent_selection`` (``None`` for a terminated agent)."""
        if not self.agents or self._table is None:
            raise gym.error.ResetNeeded(
                "holdem-v0: the episode has ended (or never started); call reset() before step()"
            )
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        table = self._table
        hand = table.hand
        mask, names = self._mask_and_names(hand.to_act)
        taken, invalid = resolve_action(
            action,
            mask,
            agent=agent,
            names=names,
            illegal_action=self.illegal_action,
            fallback=fallback_action(hand) if self.illegal_action == "penalize" else 0,
        )
        self._cumulative_rewards[agent] = 0.0
        if invalid:
            self._invalid[hand.to_act] += 1
        before = table.hands_played
        self._after_action(before, table.act(taken), agent if invalid else None)

    def _after_action(self, before: int, deltas: list[int], penalized: str | None) -> None:
        """Hand out rewards, infos and terminations after the table moved on."""
        table: Table = self._table  # type: ignore[assignment]
        big = self._task["big_blind"]
        seat_of = self._seat
        ended = table.hands_played > before
        rewards = {a: 0.0 for a in self.agents}
        if ended:
            for a in self.agents:
                seat = seat_of[a]
                rewards[a] = deltas[seat] / big
                self._net[seat] += deltas[seat]
        if penalized is not None:
            rewards[penalized] -= self.illegal_penalty
        self.rewards = rewards
        self._accumulate_rewards()
        to_act = table.hand.to_act
        events = table.take_events()
        infos: dict[str, dict[str, Any]] = {}
        for a in self.agents:
            seat = seat_of[a]
            infos[a] = {
                "legal_actions": self._legal_info(seat) if seat == to_act else {},
                "events": list(events),
            }
            if ended:
                infos[a]["hand_history"] = table.history
        if penalized is not None:
            infos[penalized]["invalid_action"] = True
        if table.done:
            for a in self.agents:
                seat = seat_of[a]
                infos[a].update(self._metrics(seat, self._net[seat], self._invalid[seat]))
                self.terminations[a] = True
        elif ended:
            for a in self.agents:
                seat = seat_of[a]
                if table.stacks[seat] == 0:
                    infos[a].update(self._metrics(seat, self._net[seat], self._invalid[seat]))
                    self.terminations[a] = True
        self.infos = infos
        self.agent_selection = table.players[to_act] if to_act >= 0 else self.agents[0]
        self._deads_step_first()
