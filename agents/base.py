"""The interface every palaestra agent shares."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Agent"]


@runtime_checkable
class Agent(Protocol):
    """Something that picks an action from an observation.

    Scripted baselines, trained policies and language agents all implement it, so
    evaluation loops and benchmarks treat them alike.
    """

    def act(self, observation: Any) -> Any:
        """Return the action for ``observation``."""
        ...

    def reset(self) -> None:
        """Forget any state kept from the previous episode."""
        ...
