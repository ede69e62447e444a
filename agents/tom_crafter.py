"""``ToMCrafter``: the talking Craft teammate with a theory-of-mind memory.

:class:`ToMCrafter` is :class:`~palaestra.agents.CooperativeCrafter` (same planner, same
answers to ``need`` requests) plus a :class:`~palaestra.memory.BeliefTracker` fed with its
own observation and info every step. What the tracker adds is a model of the partner's
mind, and the crafter acts on it:

- **Perspective taking on hearing.** A message reaches only agents within
  ``hearing_range`` tiles. Before it asks for a recipe, a ``ToMCrafter`` checks that a
  partner who may know it is in earshot *by where it last saw that partner*; if not, it
  walks back until it is, instead of asking into the void and waiting (which is how a
  ``CooperativeCrafter`` that wandered off to gather gets stuck).
- **Asking for what it lacks, all of it.** It asks for every recipe on its goal's path it
  does not know (``say need <recipe>``, one per step), not only for the first one its plan
  is blocked on.
- **Teaching what the partner lacks.** Once a partner has shown it lacks a recipe (it said
  ``need``), the crafter teaches every recipe on the goal's path it knows and believes the
  partner does not (the tracker's model of who knows what: recipes the partner said, was
  taught in earshot, or learned), without waiting for each request.
- **Telling the partner what it has wrong.** Where the tracker says a partner believes a
  tracked item is somewhere it is not (:meth:`~palaestra.memory.BeliefTracker.discrepancies`)
  and the crafter holds that item, it says ``have <item>`` once.

Persistent memory (optional ``store``, a :class:`~palaestra.memory.MemoryStore`): after an
episode, :meth:`ToMCrafter.end_episode` writes what it knows (``recipe`` facts), what it
believes its partners know (``knows`` facts, keyed ``"<partner> <recipe>"``) and the
episode (summary, outcome, key events) under its ``identity``; the next episode's expert
then does not teach a partner what it already taught it, and a caller can give a novice the
recipes it remembers (:func:`remembered_recipes`) as its task ``knowledge``: in Craft, what
an agent knows at the start of an episode is the task's ``knowledge``.

Like the planner, it reads the map from the simulator (``env.unwrapped.world``) and the
task's hearing range, so it takes the env in its constructor; its beliefs about the partner
come from its own observations and infos only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from palaestra.agents.craft_baselines import CooperativeCrafter
from palaestra.envs.craft.task import requirements
from palaestra.envs.craft.vocabulary import (
    ACTION_INDEX,
    GOALS,
    ITEMS,
    NOOP,
    PRIMITIVE_ACTIONS,
    RECIPE_INDEX,
)
from palaestra.memory.store import Episode, MemoryStore
from palaestra.memory.tracker import BeliefTracker

__all__ = ["ToMCrafter", "remembered_recipes"]

_RECIPE_ORDER = tuple(sorted(RECIPE_INDEX, key=RECIPE_INDEX.__getitem__))


def remembered_recipes(store: MemoryStore, identity: str) -> list[str]:
    """The recipes ``identity`` has in semantic memory (``recipe`` facts), in recipe order."""
    known = {fact.key for fact in store.facts(identity, "recipe")}
    return [r for r in _RECIPE_ORDER if r in known]


def _path_recipes(goal: str) -> list[str]:
    """The recipes crafted on the way to ``goal``, inputs first."""
    recipes = requirements(goal)[1]
    return [r for r in _RECIPE_ORDER if r in recipes]


class ToMCrafter:
    """A :class:`CooperativeCrafter` that tracks its partners' minds (see the module).

    Args:
        env: The env (``craft-v0`` or ``Craft-v0``).
        agent: The agent it plays.
        talk: Whether it uses ``say`` actions at all.
        ask_every: Steps before it asks again for a recipe it still lacks.
        tracker: The belief tracker to feed (default: a new one for ``agent``).
        store: Optional persistent memory (see the module).
        identity: Its name in the store (default: ``agent``).
        partner_identities: Names of the other agents in the store (default: their agent
            names), so a later episode can find them again.
    """

    def __init__(
        self,
        env: Any,
        agent: str,
        *,
        talk: bool = True,
        ask_every: int = 8,
        tracker: BeliefTracker | None = None,
        store: MemoryStore | None = None,
        identity: str | None = None,
        partner_identities: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(ask_every, bool) or not isinstance(ask_every, int) or ask_every < 1:
            raise ValueError(f"ask_every must be a positive integer; got {ask_every!r}")
        if store is not None and not callable(getattr(store, "commit_episode", None)):
            raise TypeError(f"store must be a palaestra.memory.MemoryStore; got {store!r}")
        self.env = env.unwrapped
        self.agent = agent
        self.crafter = CooperativeCrafter(env, agent, talk=talk, ask_every=ask_every)
        self.tracker = tracker if tracker is not None else BeliefTracker(agent)
        if self.tracker.agent != agent:
            raise ValueError(f"tracker is for {self.tracker.agent!r}, not {agent!r}")
        self.talk = talk
        self.ask_every = ask_every
        self.store = store
        self.identity = identity or agent
        self.partner_identities = dict(partner_identities or {})
        self.reset()

    # ------------------------------------------------------------------ episodes
    def reset(self, seed: int | None = None) -> None:
        """Start an episode: forget the tracker's beliefs and the talk so far.

        With a store, what it remembers of its partners' knowledge is loaded again.
        Deterministic: ``seed`` is unused.
        """
        self.crafter.reset()
        self.tracker.reset()
        self._t = 0
        self._asked: dict[str, int] = {}
        self._taught: dict[str, set[str]] = {}
        self._told: set[tuple[str, str]] = set()
        self._said: list[str] = []
        self._counts = {"asks": 0, "teaches": 0, "tells": 0, "walks_to_earshot": 0}
        self._remembered: dict[str, set[str]] = {}
        if self.store is not None:
            for fact in self.store.facts(self.identity, "knows"):
                who, _, recipe = fact.key.partition(" ")
                self._remembered.setdefault(who, set()).add(recipe)

    def _partners(self) -> list[str]:
        names = self.env.agents if hasattr(self.env, "agents") else [self.agent]
        return [a for a in names if a != self.agent]

    def _partner_knows(self, partner: str) -> set[str]:
        known = set(self.tracker.known_recipes(partner))
        known |= self._taught.get(partner, set())
        known |= self._remembered.get(self.partner_identities.get(partner, partner), set())
        return known

    # ------------------------------------------------------------------ acting
    def act(self, observation: Mapping[str, Any], info: Mapping[str, Any] | None = None) -> int:
        """The next action, from a vector (or ``both``) observation and this step's info.

        Without ``info`` the tracker sees the observation only (no events, no messages).
        """
        self.tracker.observe(observation, info if info is not None else {})
        self._t += 1
        self._xy = tuple(int(v) for v in np.asarray(observation["position"])[:2])
        mask = np.asarray(observation["action_mask"])
        if self.talk:
            action = self._talk(observation, mask)
            if action is not None:
                self._said.append(self._text(action))
                return action
        action = self._walk_to_earshot()
        if action is not None:
            return action
        action = self.crafter.act(observation, info)
        return action if mask[action] else NOOP

    def _text(self, action: int) -> str:
        return PRIMITIVE_ACTIONS[action]

    def _goal(self, observation: Mapping[str, Any]) -> str:
        return GOALS[int(np.argmax(np.asarray(observation["goal"])))]

    def _in_earshot(self, partner: str) -> bool:
        """Whether ``partner`` would hear me, judged from where I last saw it."""
        seen = self.tracker.last_seen(partner)
        if seen is None:
            return False
        hearing = int(self.env.task["hearing_range"])
        x, y = self._xy
        return max(abs(seen[0] - x), abs(seen[1] - y)) <= hearing

    def _missing(self, observation: Mapping[str, Any]) -> list[str]:
        mine = self.tracker.known_recipes(self.agent)
        return [r for r in _path_recipes(self._goal(observation)) if r not in mine]

    def _talk(self, observation: Mapping[str, Any], mask: np.ndarray) -> int | None:
        goal = self._goal(observation)
        mine = self.tracker.known_recipes(self.agent)
        # Answer and teach: everything on the goal's path a needy partner lacks.
        for partner in self._partners():
            wants = [d.item for d in self.tracker.desires(partner)]
            if not wants or not self._in_earshot(partner):
                continue
            knows = self._partner_knows(partner)
            path = list(dict.fromkeys(_path_recipes(goal) + [w for w in wants if w in mine]))
            for recipe in path:
                action = ACTION_INDEX[f"say recipe {recipe}"]
                if recipe in mine and recipe not in knows and mask[action]:
                    self._taught.setdefault(partner, set()).add(recipe)
                    self.crafter._taught.add(recipe)  # its answer to a request is given
                    self._counts["teaches"] += 1
                    return action
        # Tell a partner where a tracked item really is, when it is with me.
        inventory = np.asarray(observation["inventory"])
        for partner in self._partners():
            for gap in self.tracker.discrepancies(self.agent, partner):
                item = gap.key
                if item not in ITEMS or not inventory[ITEMS.index(item)]:
                    continue
                action = ACTION_INDEX[f"say have {item}"]
                if (partner, item) not in self._told and mask[action]:
                    self._told.add((partner, item))
                    self._counts["tells"] += 1
                    return action
        # Ask for what I lack, while someone who may know it can hear me.
        for recipe in self._missing(observation):
            if self._t - self._asked.get(recipe, -(10**9)) < self.ask_every:
                continue
            if not any(self._in_earshot(p) for p in self._partners()):
                return None
            action = ACTION_INDEX[f"say need {recipe}"]
            if mask[action]:
                self._asked[recipe] = self._t
                self._counts["asks"] += 1
                return action
        return None

    def _walk_to_earshot(self) -> int | None:
        """A step back towards earshot of the partner, while its plan waits on a recipe."""
        sub = self.crafter.planner.subgoal()
        if sub is None or sub[0] != "unknown":
            return None
        partners = self._partners()
        if not self.talk or not partners or any(self._in_earshot(p) for p in partners):
            return None
        seen = [self.tracker.last_seen(p) for p in partners]
        seen = [s for s in seen if s is not None]
        if not seen:
            return None
        px, py, _ = max(seen, key=lambda s: s[2])
        world = self.env.world
        hearing = int(self.env.task["hearing_range"])

        def heard_from(p: int) -> bool:
            x, y = world.xy(p)
            return max(abs(x - px), abs(y - py)) <= hearing

        action = self.crafter.planner._walk(("earshot", px, py), heard_from)
        if action != NOOP:
            self._counts["walks_to_earshot"] += 1
        return action

    # ------------------------------------------------------------------ memory
    def observe(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> None:
        """The episode's last observation and info (the episode runner's end hook).

        When ``info`` says the episode ended (``end_reason``), this is
        :meth:`end_episode`; otherwise nothing (``act`` feeds the tracker).
        """
        if "end_reason" in info:
            self.end_episode(observation, info)

    def end_episode(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> int | None:
        """Feed the last observation and, with a store, commit what the episode taught.

        Returns:
            The stored episode's id, or None without a store.
        """
        self.tracker.observe(observation, info)
        if self.store is None:
            return None
        mine = sorted(self.tracker.known_recipes(self.agent), key=RECIPE_INDEX.__getitem__)
        for recipe in mine:
            self.store.learn(self.identity, "recipe", recipe)
        for partner in self._partners():
            who = self.partner_identities.get(partner, partner)
            for recipe in sorted(self._partner_knows(partner)):
                self.store.learn(self.identity, "knows", f"{who} {recipe}", source="inferred")
        goal = info.get("goal", "")
        success = bool(info.get("success", False))
        steps = int(info.get("steps", self._t))
        summary = f"{goal}: {'success' if success else 'failure'} in {steps} steps"
        if mine:
            summary += f"; knows {', '.join(mine)}"
        episode = Episode(
            agent=self.identity,
            summary=summary,
            outcome={"success": success, "steps": steps, **self._counts},
            events=tuple(self._said),
        )
        return self.store.commit_episode(episode)

    def stats(self) -> dict[str, float]:
        """Asks, teaches, tells and steps walked back to earshot this episode."""
        return {k: float(v) for k, v in self._counts.items()}
