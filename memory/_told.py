"""The told layer of a belief tracker: what messages say, who knows which recipe, who needs what.

Hearing S say (a ``message`` event):

- ``have X``: X is with S (a told belief, confidence = trust in S) and, in the model of S,
  S believes so;
- ``recipe X``: S knows X, and so does every agent in view within hearing range of S (it
  heard the message too, and hearing a recipe teaches it);
- ``need X``: S desires X (the latest ``need`` per item is kept);
- ``at x y``: S is at (x, y); ``go x y``: S means someone to go to (x, y) (an intention).

Saying it (this agent's own ``say`` action): the agents in view within hearing range heard
it: after ``have X`` they believe X is with this agent, after ``recipe X`` they know X;
``need X`` is this agent's own desire. ``learned`` events (this agent was taught a recipe)
and crafts seen (``craft X`` worked) are recipe knowledge too. Nothing here changes the
perception layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from palaestra.memory._percepts import parse_message
from palaestra.memory.records import AGENT_NAMES, Belief, Desire, Intention, Message

__all__ = ["Told"]

Place = tuple[int, int]


class Told:
    """Told beliefs, recipe knowledge, desires and intentions of one tracker's agent.

    Args:
        agent: The tracker's agent.
        trust: Trust in a speaker, by name (a callable).
        hearing_range: Who is close enough to hear (max-norm tiles).
        second: Whether to keep beliefs about other minds (order 2).
    """

    def __init__(
        self, agent: str, trust: Callable[[str], float], hearing_range: int, second: bool
    ) -> None:
        self.agent = agent
        self.trust = trust
        self.hearing_range = hearing_range
        self.second = second
        self.beliefs: dict[tuple[str, ...], dict[str, Belief]] = {}
        self.known: dict[str, dict[str, tuple[str, int]]] = {a: {} for a in AGENT_NAMES}
        self.desires: dict[str, dict[str, Desire]] = {a: {} for a in AGENT_NAMES}
        self.intentions: list[Intention] = []
        self.messages: list[Message] = []
        self.at: dict[str, tuple[int, int, int]] = {}

    def know(self, agent: str, recipe: str, source: str, step: int) -> None:
        """``agent`` knows ``recipe`` (the first evidence is kept)."""
        if recipe not in self.known[agent]:
            self.known[agent][recipe] = (source, step)

    def tell(
        self, about: tuple[str, ...], key: str, value: str, step: int, conf: float, note: str
    ) -> None:
        """Keep a told belief (it replaces an older one of the same chain and key)."""
        beliefs = self.beliefs.setdefault(about, {})
        beliefs[key] = Belief(self.agent, about, key, value, "told", step, conf, (note,))

    def listeners(self, others: Mapping[str, Place], at: Place, but: str) -> list[str]:
        """Agents in view within hearing range of ``at``, other than ``but``."""
        h, (sx, sy) = self.hearing_range, at
        return [
            a for a, (ax, ay) in others.items() if a != but and max(abs(ax - sx), abs(ay - sy)) <= h
        ]

    def said(self, text: str, step: int, here: Place, others: Mapping[str, Place]) -> None:
        """This agent said ``text`` (as its listeners heard it)."""
        message = parse_message(self.agent, self.agent, step, text)
        self.messages.append(message)
        if not message.parsed:
            return
        listeners = self.listeners(others, here, self.agent)
        verb, args = message.verb, message.args
        if verb == "need":
            self.desires[self.agent][args[0]] = Desire(self.agent, args[0], step, "observed")
        elif verb == "recipe":
            for name in listeners:
                self.know(name, args[0], "inferred", step)
        elif verb == "have" and self.second:
            for name in listeners:
                self.tell((name,), args[0], self.agent, step, 1.0, f"{self.agent} said {text}")
        elif verb == "go":
            self.intentions.append(Intention(self.agent, text, step))

    def heard(self, message: Message, at: Place | None, others: Mapping[str, Place]) -> None:
        """This agent heard ``message``, its speaker standing at ``at``."""
        self.messages.append(message)
        if not message.parsed:
            return
        step, speaker, verb, args = message.step, message.speaker, message.verb, message.args
        trust, note = self.trust(speaker), f"{speaker} said {message.text}"
        if verb == "have":
            self.tell((), args[0], speaker, step, trust, note)
            if self.second:
                self.tell((speaker,), args[0], speaker, step, trust, note)
        elif verb == "need":
            self.desires[speaker][args[0]] = Desire(speaker, args[0], step, "told")
        elif verb == "recipe":
            self.know(speaker, args[0], "told", step)
            if at is not None:
                for name in self.listeners(others, at, speaker):
                    self.know(name, args[0], "inferred", step)
        elif verb == "at":
            self.at[speaker] = (args[0], args[1], step)
        elif verb == "go":
            self.intentions.append(Intention(speaker, message.text, step))
