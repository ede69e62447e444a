"""The training progress bar: updates done, steps per second, return, success and ETA."""

from __future__ import annotations

from typing import Any

__all__ = ["Progress"]


class Progress:
    """A rich progress bar with SPS, return and ETA (nothing in quiet mode)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.bar = None
        if quiet:
            return
        from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        self.bar = RichProgress(
            TextColumn("[bold]train[/]"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"), TimeRemainingColumn(), transient=False,
        )  # fmt: skip
        self.task = self.bar.add_task("train", total=total, info="")
        self.bar.start()

    def advance(self, n: int) -> None:
        """Mark ``n`` updates done (a resumed run starts part-way)."""
        if self.bar is not None and n:
            self.bar.update(self.task, completed=n)

    def update(self, done: int, step: int, metrics: dict[str, Any]) -> None:
        """Show the latest update's figures."""
        if self.bar is None:
            return
        ret = metrics.get("episodic_return")
        info = f"step {step:,}  sps {metrics['sps']:,.0f}"
        if ret is not None:
            info += f"  return {ret:.2f}"
        if metrics.get("success") is not None:
            info += f"  success {metrics['success']:.0%}"
        self.bar.update(self.task, completed=done, info=info)

    def close(self) -> None:
        """Stop drawing."""
        if self.bar is not None:
            self.bar.stop()
