"""``BeliefTracker``: one Craft agent's beliefs about the world and other minds.

A tracker belongs to one agent and is fed, after ``reset`` and after every step, that agent's
observation (a vector ``Dict``, ``obs_mode="vector"`` or ``"both"``) and info (for the
parallel env, ``infos[agent]``): :meth:`BeliefTracker.observe`. Nothing else reaches it (no
env, no world state). It keeps two layers:

- **Perception** (sources ``observed`` and, for other minds, ``inferred``): first- and
  second-order beliefs about item locations and tiles, by exactly the rules the simulator
  uses for its probe answers (:mod:`palaestra.envs.craft.beliefs`): item moves witnessed
  through the events (the destination in view: the new place; else the source in view:
  ``unknown``), the contents of the chest the observation shows (the first adjacent one),
  tiles in the view window; and about another agent, only while it is in this agent's
  window, what this agent could tell it perceived (the places in both windows, the chest
  next to it inside this agent's window, the tiles both windows hold). The tracker does not
  know which items and tiles the simulator tracks, so it keeps beliefs about every item it
  has evidence for and every tile it has seen. It tells items apart by kind, as the
  simulator's tracked items are (one of each kind): where a task lets agents make more of
  a tracked kind, its answers can differ; so can a second-order answer about an agent next
  to two chests when the one it sees lies on a tile this agent never saw
  (:mod:`palaestra.memory._perception`). :meth:`BeliefTracker.answer` answers the probes
  from this layer.
- **Told**: what messages say (never changing the perception layer). Hearing ``have X``
  from S: this agent is told X is with S (confidence: its trust in S), and S believes so;
  ``recipe X``: S knows X (and so does every agent in view within hearing range of S, who
  heard it too); ``need X``: S desires X; ``at x y``: where S is; ``go x y``: an intention
  of S. For what this agent says itself, the agents in its window within ``hearing_range``
  heard it: after ``say have X`` they believe X is with this agent, after ``say recipe X``
  they know X. The *merged* layer (:meth:`BeliefTracker.belief`, :meth:`beliefs`,
  :meth:`discrepancies`, :meth:`render`, ``answer(..., use_messages=True)``) takes, key by
  key, the newer of the two; at equal steps perception wins.

Episodes: :meth:`BeliefTracker.reset` forgets everything; an observation whose ``time``
entry is 0 (the one ``reset`` returns) starts a new episode by itself, so a tracker fed
every observation needs no explicit reset. Steps are counted from that observation (0).

Chest indices (``"chest <i>"``) are read from the text view's chest lines (``obs_mode
"both"``) and from ``chest`` events; in ``vector`` mode, a chest whose index is not known
yet is called ``"chest at <x> <y>"`` until it is learned (answers then differ from the
simulator's). The view radius is the view's; other agents are assumed to see as far.
Per-step work is bounded by the view window (array slices of at most 9 x 9), the step's
events and the few tracked items: nothing scans the map.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from palaestra.envs.craft.beliefs import Probe
from palaestra.envs.craft.task import MAX_SIZE
from palaestra.envs.craft.vocabulary import ITEMS, RECIPE_INDEX, TILES
from palaestra.memory._perception import Perception
from palaestra.memory._percepts import (
    UNKNOWN,
    StepReading,
    check_view,
    read_events,
    said_text,
    text_chests,
)
from palaestra.memory._told import Told
from palaestra.memory.records import (
    AGENT_NAMES,
    Action,
    Belief,
    Desire,
    Intention,
    Message,
    Percept,
    check_agent,
)

__all__ = ["PROBE_KINDS", "UNKNOWN", "BeliefTracker", "Discrepancy"]

PROBE_KINDS = ("item_location", "tile")
_RECIPES = tuple(sorted(RECIPE_INDEX, key=RECIPE_INDEX.__getitem__))
_CHARS = np.frombuffer(b"#.TdS~BC", dtype=np.uint8)
Place = tuple[int, int]


@dataclass(frozen=True)
class Discrepancy:
    """A key where the holder thinks another agent is wrong or does not know.

    Attributes:
        key: An item name or ``"x y"`` (a tile).
        holder_value: What the holder believes.
        other_value: What the holder thinks the other agent believes.
        kind: ``"wrong"`` (the other believes a different known value) or ``"ignorant"``
            (the other believes ``unknown``).
    """

    key: str
    holder_value: str
    other_value: str
    kind: str


class BeliefTracker:
    """One agent's first- and second-order beliefs, from its own observations (see module).

    Args:
        agent: The agent it belongs to (``agent_0`` .. ``agent_3``).
        max_order: 1 (own beliefs only) or 2 (also what it thinks each other agent believes).
        trust: Confidence in what each speaker says, in [0, 1], by agent name.
        default_trust: Trust in speakers ``trust`` does not name.
        hearing_range: The task's hearing range (max-norm tiles): agents in view this close
            are taken to have heard what this agent says.

    Raises:
        ValueError: for an unknown agent name, ``max_order`` outside 1..2, a trust outside
            [0, 1] or a hearing range below 1.
    """

    def __init__(
        self,
        agent: str,
        *,
        max_order: int = 2,
        trust: Mapping[str, float] | None = None,
        default_trust: float = 1.0,
        hearing_range: int = 8,
    ) -> None:
        self.agent = check_agent(agent, "BeliefTracker agent")
        if isinstance(max_order, bool) or max_order not in (1, 2):
            raise ValueError(f"max_order must be 1 or 2; got {max_order!r}")
        self.max_order = int(max_order)
        self.trust = {
            check_agent(k, "trust"): _unit(f"trust[{k}]", v) for k, v in (trust or {}).items()
        }
        self.default_trust = _unit("default_trust", default_trust)
        if (
            isinstance(hearing_range, bool)
            or not isinstance(hearing_range, int)
            or hearing_range < 1
        ):
            raise ValueError(f"hearing_range must be an integer >= 1; got {hearing_range!r}")
        self.hearing_range = hearing_range
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything (a new episode)."""
        self._step: int | None = None
        self.perception = Perception(self.agent, self.max_order >= 2)
        self.told = Told(self.agent, self._trust, self.hearing_range, self.max_order >= 2)
        self.actions: list[Action] = []
        self.changed_tiles: dict[Place, tuple[str, int]] = {}
        self._seen: dict[str, tuple[int, int, int]] = {}
        self._present: set[str] = {self.agent}
        self._last: tuple[Any, ...] | None = None

    @property
    def step(self) -> int:
        """Steps since the episode's first observation (0 there; -1 before any)."""
        return -1 if self._step is None else self._step

    @property
    def position(self) -> Place:
        """This agent's position at its latest observation."""
        return self.perception.position

    @property
    def agents(self) -> tuple[str, ...]:
        """This agent and every agent it has seen or heard this episode, in name order."""
        return tuple(a for a in AGENT_NAMES if a in self._present)

    @property
    def messages(self) -> list[Message]:
        """Every message heard or said this episode, in order."""
        return list(self.told.messages)

    @property
    def intentions(self) -> list[Intention]:
        """Intentions heard or said this episode (``go x y``), in order."""
        return list(self.told.intentions)

    def _trust(self, speaker: str) -> float:
        return self.trust.get(speaker, self.default_trust)

    # ------------------------------------------------------------------ observe
    def observe(
        self, observation: Mapping[str, Any], info: Mapping[str, Any] | None = None
    ) -> None:
        """Update from this agent's observation and info of the step just taken (or reset).

        Raises:
            ValueError: for a text observation or one without a proper ``view``.
        """
        view = check_view(observation)
        time = observation.get("time")
        if self._step is None or (time is not None and float(np.asarray(time).ravel()[0]) == 0):
            self.reset()
            self._step = 0
        else:
            self._step += 1
        t, seeing = self._step, self.perception
        x, y = (int(v) for v in np.asarray(observation["position"]).ravel()[:2])
        seeing.look(view, (x, y), t)
        for name, (ox, oy) in seeing.others.items():
            self._seen[name] = (ox, oy, t)
            self._present.add(name)
        text = observation.get("text")
        if isinstance(text, str):
            for c, place in text_chests(text, x, y):
                seeing.learn_chest(c, place)
        events = list((info or {}).get("events", ()) or ())
        reading = read_events(events, t, self.agent, (x, y), seeing.others)
        for c, place in reading.chests:
            seeing.learn_chest(c, place)
        for move in reading.moves:
            seeing.move(move, t)
        contents = seeing.contents_of(observation)
        shown = seeing.chest_view(contents, t)
        seeing.second_order_view(view, t)
        knowledge = observation.get("knowledge")
        if knowledge is not None:
            for k, bit in enumerate(np.asarray(knowledge).ravel().tolist()):
                if bit and k < len(_RECIPES):
                    self.told.know(self.agent, _RECIPES[k], "observed", t)
        self._read_talk(reading, view)
        self._last = (view.copy(), shown, contents.copy(), events)

    def _read_talk(self, reading: StepReading, view: np.ndarray) -> None:
        t, here, told = self._step or 0, self.position, self.told
        others = self.perception.others
        self.actions += reading.actions
        for tx, ty, after in reading.tiles:
            self.changed_tiles[(tx, ty)] = (after, t)
        for agent, recipe in reading.crafted:
            told.know(agent, recipe, "observed", t)
        for recipe, teacher in reading.learned:
            told.know(self.agent, recipe, "observed", t)
            if teacher in AGENT_NAMES:
                told.know(teacher, recipe, "told", t)
        for action in reading.actions:
            self._present.add(action.agent)
            if action.agent == self.agent and action.ok and action.text.startswith("say "):
                told.said(said_text(action.text, *here, view), t, here, others)
        for message, heard_at in reading.messages:
            self._present.add(message.speaker)
            if heard_at is not None:
                self._seen[message.speaker] = (*heard_at, t)
            told.heard(message, heard_at, others)

    # ------------------------------------------------------------------ queries
    def answer(self, probe: Probe, use_messages: bool = False) -> str:
        """The answer to a probe of ``env.probes(agent)``, in the probe's vocabulary.

        From the perception layer by default (probes score beliefs from perception); with
        ``use_messages=True``, from the merged layer.

        Raises:
            ValueError: for a probe of an unknown kind, one about another agent's beliefs
                (its first subject is not this tracker's agent), an unknown agent name or a
                chain deeper than ``max_order``.
        """
        if probe.kind not in PROBE_KINDS:
            raise ValueError(f"unknown probe kind {probe.kind!r}; kinds: {', '.join(PROBE_KINDS)}")
        subjects = tuple(probe.subjects)
        if not subjects or subjects[0] != self.agent:
            first = subjects[0] if subjects else None
            raise ValueError(
                f"probe subject {first!r} is not this tracker's agent; allowed: {self.agent!r}"
            )
        if probe.order != len(subjects):
            raise ValueError(f"probe order {probe.order} does not match its subjects {subjects}")
        key = probe.target
        if (probe.kind == "tile") != (_tile(key) is not None) or not (key in ITEMS or _tile(key)):
            raise ValueError(f"probe target {key!r} does not fit its kind {probe.kind!r}")
        return self._value(key, subjects[1:], use_messages)[0]

    def belief(self, key: str, about: tuple[str, ...] = ()) -> Belief:
        """The merged-layer belief about ``key`` (an item, ``"x y"`` or ``"knows <recipe>"``).

        Raises:
            ValueError: for a bad key, an unknown agent or a chain deeper than ``max_order``.
        """
        about = self._check_about(about)
        if key.startswith("knows "):
            if key[6:] not in RECIPE_INDEX:
                raise ValueError(f"unknown recipe in {key!r}; recipes: {', '.join(_RECIPES)}")
            return self._knows_belief(about, key[6:])
        if key not in ITEMS and _tile(key) is None:
            raise ValueError(
                f"unknown belief key {key!r}; keys: an item ({', '.join(ITEMS)}), 'x y' with "
                f"x, y in 0..{MAX_SIZE - 1}, or 'knows <recipe>'"
            )
        value, step, told = self._value(key, about, True)
        if told is not None:
            return told
        source = "observed" if not about else "inferred"
        evidence = (f"perceived at step {step}",) if step >= 0 else ("nothing perceived",)
        confidence = 1.0 if step >= 0 else 0.0
        return Belief(self.agent, about, key, value, source, step, confidence, evidence)

    def beliefs(self, about: tuple[str, ...] = ()) -> list[Belief]:
        """Every merged-layer belief with evidence: items, tiles seen, known recipes."""
        about = self._check_about(about)
        mind = self.perception.mind(about)
        keys = [
            i for i in ITEMS if (mind and i in mind.items) or i in self.told.beliefs.get(about, {})
        ]
        out = [self.belief(k, about) for k in keys]
        if mind is not None:
            ys, xs = np.nonzero(mind.tiles >= 0)
            out += [
                self.belief(f"{x} {y}", about)
                for y, x in zip(ys.tolist(), xs.tolist(), strict=True)
            ]
        holder = about[-1] if about else self.agent
        out += [self._knows_belief(about, r) for r in _RECIPES if r in self.told.known[holder]]
        return out

    def known_recipes(self, agent: str) -> frozenset[str]:
        """The recipes this agent knows (``agent`` itself) or believes ``agent`` knows."""
        return frozenset(self.told.known[check_agent(agent, "known_recipes")])

    def desires(self, agent: str) -> list[Desire]:
        """What ``agent`` said it needs this episode (the latest ``need`` per item)."""
        return sorted(
            self.told.desires[check_agent(agent, "desires")].values(), key=lambda d: d.step
        )

    def last_seen(self, agent: str) -> tuple[int, int, int] | None:
        """``(x, y, step)`` where ``agent`` was last seen or heard (told ``at`` if newer).

        For this tracker's own agent: its position now. None if never seen nor heard.
        """
        check_agent(agent, "last_seen")
        if agent == self.agent:
            return None if self._step is None else (*self.position, self._step)
        seen, told = self._seen.get(agent), self.told.at.get(agent)
        if told is not None and (seen is None or told[2] > seen[2]):
            return told
        return seen

    @property
    def last_percept(self) -> Percept | None:
        """The latest observation as a :class:`~palaestra.memory.records.Percept`."""
        if self._last is None:
            return None
        view, shown, contents, events = self._last
        chest = None if shown is None else self.perception.chest_index.get(shown)
        return Percept(
            self.agent,
            self.step,
            self.position,
            tuple((a, px, py) for a, (px, py) in sorted(self.perception.others.items())),
            chest,
            tuple((ITEMS[k], int(c)) for k, c in enumerate(contents.tolist()) if c)
            if shown
            else (),
            tuple(bytes(_CHARS[np.clip(row, 0, 7)]).decode() for row in view[0]),
            tuple(copy.deepcopy(events)),
        )

    def discrepancies(
        self, holder: str, other: str, *, use_messages: bool = True
    ) -> list[Discrepancy]:
        """Keys where ``holder`` thinks ``other`` is wrong or ignorant (merged layer).

        Items: ``wrong`` where the holder believes a known place and thinks ``other``
        believes a different known one; ``ignorant`` where it thinks ``other`` believes
        ``unknown``. Tiles: ``wrong`` only (what a tracker knows of another's map is what it
        saw it see, so unseen tiles are no sign of ignorance). Keys the holder does not know
        are left out. ``holder`` is this tracker's agent (another holder would need order 3).

        Raises:
            ValueError: for an unknown agent, ``other == holder``, or ``max_order`` 1.
        """
        check_agent(holder, "discrepancies holder")
        check_agent(other, "discrepancies other")
        if other == holder:
            raise ValueError(f"discrepancies: other must differ from holder {holder!r}")
        chain = (holder, other) if holder == self.agent else (self.agent, holder, other)
        self._check_about(chain[1:])
        mind = self.perception.mind((other,))
        items = {
            i for i in ITEMS if i in self.perception.me.items or i in self.told.beliefs.get((), {})
        }
        out = []
        for item in sorted(items, key=ITEMS.index):
            mine = self._value(item, (), use_messages)[0]
            theirs = self._value(item, (other,), use_messages)[0]
            if mine != UNKNOWN and theirs != mine:
                kind = "ignorant" if theirs == UNKNOWN else "wrong"
                out.append(Discrepancy(item, mine, theirs, kind))
        if mind is not None:
            a, b = self.perception.me.tiles, mind.tiles
            ys, xs = np.nonzero((a >= 0) & (b >= 0) & (a != b))
            for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
                out.append(Discrepancy(f"{x} {y}", TILES[a[y, x]], TILES[b[y, x]], "wrong"))
        return out

    def render(self, holder: str | None = None) -> str:
        """A few lines for a language agent's prompt (see :mod:`palaestra.memory._render`)."""
        from palaestra.memory._render import render

        return render(self, holder)

    # ------------------------------------------------------------------ helpers
    def _check_about(self, about: Any) -> tuple[str, ...]:
        about = tuple(about)
        chain = (self.agent, *about)
        for k, name in enumerate(about):
            check_agent(name, f"belief chain {chain}")
            if name == chain[k]:
                raise ValueError(f"belief chain {chain}: {name} follows itself")
        if len(chain) > self.max_order:
            raise ValueError(
                f"belief chain {chain} is order {len(chain)}; this tracker's max_order is "
                f"{self.max_order}"
            )
        return about

    def _value(
        self, key: str, about: tuple[str, ...], use_messages: bool
    ) -> tuple[str, int, Belief | None]:
        """``(value, step, told belief or None)``: perception, or the newer told belief."""
        about = self._check_about(about)
        mind = self.perception.mind(about)
        tile = _tile(key)
        value, step = UNKNOWN, -1
        if mind is not None and tile is not None:
            code = int(mind.tiles[tile[1], tile[0]])
            if code >= 0:
                value, step = TILES[code], int(mind.tile_step[tile[1], tile[0]])
        elif mind is not None:
            value, step = mind.items.get(key, (UNKNOWN, -1))
        if use_messages:
            told = self.told.beliefs.get(about, {}).get(key)
            if told is not None and told.step > step:
                return told.value, told.step, told
        return value, step, None

    def _knows_belief(self, about: tuple[str, ...], recipe: str) -> Belief:
        holder = about[-1] if about else self.agent
        source, step = self.told.known[holder].get(recipe, ("inferred", -1))
        value = "yes" if step >= 0 else UNKNOWN
        note = (f"{source} at step {step}",) if step >= 0 else ("nothing perceived",)
        conf = 1.0 if step >= 0 else 0.0
        return Belief(self.agent, about, f"knows {recipe}", value, source, step, conf, note)


def _unit(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}")
    return float(value)


def _tile(key: str) -> tuple[int, int] | None:
    """``(x, y)`` of a ``"x y"`` key on a Craft map, else None."""
    parts = key.split(" ")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        x, y = int(parts[0]), int(parts[1])
        if x < MAX_SIZE and y < MAX_SIZE:
            return x, y
    return None
