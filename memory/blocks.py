"""The memory prompt block: beliefs, remembered knowledge and past episodes for a language agent.

:class:`MemoryBlock` is a prompt-block provider for :class:`~palaestra.agents.LLMAgent`
(an object with ``name``, ``render(observation, info)``, ``reset(seed)`` and
``on_action(action, text)``). Each step it renders, in this order and only the parts it has:

- ``beliefs``: the tracker's :meth:`~palaestra.memory.tracker.BeliefTracker.render`
  (what the agent believes about the tracked things, where it thinks the others are wrong,
  who knows which recipe, open requests). The block feeds the tracker with the step's
  observation and info itself (``feed=True``, the default); pass ``feed=False`` when
  another component already feeds the same tracker.
- ``known``: semantic facts the store holds for ``identity`` (recipes learned, facts kinds
  given in ``fact_kinds``), one line.
- ``insights``: the ``insights`` highest-count insights (ExpeL's rules of thumb).
- ``recalled``: ``recall`` past episodes: by similarity to the current goal line of the
  text view when the store has an embedder, else the most recent ones.

The env's ``obs_mode`` must be ``"both"`` for the tracker (it reads the vector view) and
for the agent (it reads the text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MemoryBlock"]


def _goal_line(observation: Any) -> str:
    text = observation.get("text", "") if isinstance(observation, Mapping) else str(observation)
    for line in text.splitlines():
        if line.lower().startswith("goal"):
            return line
    return text.splitlines()[0] if text else ""


class MemoryBlock:
    """A prompt block from a belief tracker and a memory store (see the module).

    Args:
        tracker: A :class:`~palaestra.memory.tracker.BeliefTracker`, or None.
        store: A :class:`~palaestra.memory.store.MemoryStore`, or None.
        identity: The agent's name in the store (default: the tracker's agent).
        recall: Past episodes to show (0: none).
        insights: Insights to show (0: none).
        fact_kinds: Semantic fact kinds listed under ``known``.
        feed: Whether the block feeds the tracker each step.
        name: The section's name in the prompt.
    """

    def __init__(
        self,
        tracker: Any = None,
        store: Any = None,
        *,
        identity: str | None = None,
        recall: int = 2,
        insights: int = 3,
        fact_kinds: Sequence[str] = ("recipe",),
        feed: bool = True,
        name: str = "memory",
    ) -> None:
        if tracker is None and store is None:
            raise ValueError("MemoryBlock needs a tracker, a store or both")
        for label, value in (("recall", recall), ("insights", insights)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{label} must be a non-negative integer; got {value!r}")
        if identity is None and tracker is None:
            raise ValueError("MemoryBlock needs an identity when it has no tracker")
        self.tracker = tracker
        self.store = store
        self.identity = identity if identity is not None else tracker.agent
        self.recall = recall
        self.insights = insights
        self.fact_kinds = tuple(fact_kinds)
        self.feed = feed
        self.name = name
        self._past: list[str] | None = None

    def reset(self, seed: int | None = None) -> None:
        """Start an episode: the tracker forgets; past episodes are looked up again."""
        if self.tracker is not None and self.feed:
            self.tracker.reset()
        self._past = None

    def on_action(self, action: int, text: str) -> None:
        """Nothing to do: the next observation shows the action's effects."""

    def render(self, observation: Any, info: Mapping[str, Any]) -> str | None:
        """The block's text for this step (None when there is nothing to say)."""
        parts: list[str] = []
        if self.tracker is not None:
            if self.feed:
                self.tracker.observe(observation, info)
            beliefs = self.tracker.render()
            if beliefs:
                parts.append(f"beliefs:\n{beliefs}")
        if self.store is not None:
            parts += self._stored(observation)
        return "\n".join(parts) or None

    def _stored(self, observation: Any) -> list[str]:
        store, parts = self.store, []
        for kind in self.fact_kinds:
            keys = sorted(f.key for f in store.facts(self.identity, kind))
            if keys:
                parts.append(f"known {kind}s: {', '.join(keys)}")
        if self.insights:
            rules = store.insights(self.identity, k=self.insights)
            if rules:
                parts.append("insights:\n" + "\n".join(f"- {r.text}" for r in rules))
        if self.recall:
            if self._past is None:
                if store.embedder is not None:
                    found = store.recall(_goal_line(observation), self.recall, agent=self.identity)
                    self._past = [episode.summary for episode, _ in found]
                else:
                    self._past = [e.summary for e in store.recent(self.recall, agent=self.identity)]
            if self._past:
                parts.append("past episodes:\n" + "\n".join(f"- {s}" for s in self._past))
        return parts
