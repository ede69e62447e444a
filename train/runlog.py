"""Run logging: JSONL metrics, TensorBoard scalars with CleanRL/SB3 tags, and a PNG plot.

A run folder holds ``metrics.jsonl`` (one JSON object per :meth:`RunLogger.log` call, with
``"global_step"`` and the metrics; non-finite numbers as ``null``), TensorBoard event files
under ``tb/`` and, after :func:`plot_run`, ``training.png``.

TensorBoard tags follow CleanRL and Stable-Baselines3 (``charts/episodic_return``,
``losses/value_loss``, ...; see :data:`TB_NAMES`), so palaestra runs sit next to theirs in one
TensorBoard. Other metrics go under ``env/`` (e.g. ``env/success``), except keys that already
start with ``curriculum/`` or ``eval/``.

Example:
    >>> with RunLogger(run_dir, resume_step=ckpt.step if ckpt else None) as log:
    ...     log.log(global_step, {"episodic_return": 12.5, "success": 1.0, "sps": 3100})
    >>> plot_run(run_dir)
"""

from __future__ import annotations

import io
import json
import logging
import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from palaestra.train.checkpoint import write_bytes_atomic

__all__ = [
    "METRICS_FILE",
    "TB_NAMES",
    "RunLogger",
    "plot_curriculum",
    "plot_run",
    "read_metrics",
    "tb_tag",
]

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
"""Name of the JSONL metrics file in a run folder."""

TB_NAMES: dict[str, str] = {
    "episodic_return": "charts/episodic_return",
    "episodic_length": "charts/episodic_length",
    "sps": "charts/SPS",
    "learning_rate": "charts/learning_rate",
    "value_loss": "losses/value_loss",
    "policy_loss": "losses/policy_loss",
    "entropy": "losses/entropy",
    "old_approx_kl": "losses/old_approx_kl",
    "approx_kl": "losses/approx_kl",
    "clipfrac": "losses/clipfrac",
    "explained_variance": "losses/explained_variance",
}
"""Our metric keys → CleanRL/SB3 TensorBoard tags."""

_KEEP_PREFIXES = ("curriculum/", "eval/")


def tb_tag(key: str) -> str:
    """The TensorBoard tag of a metric key.

    Args:
        key: A metric key as passed to :meth:`RunLogger.log`.

    Returns:
        ``TB_NAMES[key]`` if mapped; ``key`` itself if it starts with ``curriculum/`` or
        ``eval/``; otherwise ``env/<key>``.
    """
    if key in TB_NAMES:
        return TB_NAMES[key]
    if key.startswith(_KEEP_PREFIXES):
        return key
    return f"env/{key}"


def _json_number(key: str, value: Any) -> bool | int | float | None:
    """A metric value as a JSON-safe number: non-finite floats become None."""
    if value is None or isinstance(value, bool):
        return value
    if not isinstance(value, numbers.Real) and hasattr(value, "item"):
        try:  # 0-d or one-element numpy arrays and torch tensors
            value = value.item()
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"metric {key!r} is not a scalar: {value!r}") from exc
        if value is None or isinstance(value, bool):
            return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    raise ValueError(f"metric {key!r} must be a number or None, got {type(value).__name__}")


def _split_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines (with their newline) and the unterminated tail of ``data``."""
    lines = data.splitlines(keepends=True)
    if lines and not lines[-1].endswith(b"\n"):
        return lines[:-1], lines[-1]
    return lines, b""


def _parse_line(path: Path, number: int, line: bytes) -> Any:
    """One complete line of metrics.jsonl; ValueError names the file and line if it is bad."""
    try:
        return json.loads(line)
    except ValueError as exc:
        raise ValueError(f"{path}:{number}: not a JSON line ({exc})") from exc


def _parse_tail(tail: bytes) -> dict[str, Any] | None:
    """The record of an unterminated last line, or None if it is torn (not a JSON object)."""
    try:
        record = json.loads(tail)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


class RunLogger:
    """Logs metrics to ``run_dir/metrics.jsonl`` and to TensorBoard under ``run_dir/tb/``.

    Each :meth:`log` call appends one JSON line, flushed and ``fsync``-ed, so a killed run
    loses at most the line being written. TensorBoard's ``SummaryWriter`` is created on the
    first :meth:`log` call, so runs that never log leave no event files.

    When resuming from a checkpoint at ``resume_step``, the lines with a larger
    ``global_step`` (logged after that checkpoint by the run that died) are dropped, and
    TensorBoard is told to purge its events after ``resume_step``, so the resumed run has no
    duplicated or orphaned points. A torn last line (partial JSON from a killed process) is
    always dropped when the logger opens the file.

    Args:
        run_dir: The run folder; created if missing.
        tensorboard: Whether to write TensorBoard event files.
        resume_step: The step of the checkpoint the run resumes from, if any.

    Raises:
        ValueError: If ``resume_step`` is negative or not an int.
    """

    def __init__(
        self, run_dir: Path, *, tensorboard: bool = True, resume_step: int | None = None
    ) -> None:
        if resume_step is not None and (
            isinstance(resume_step, bool) or not isinstance(resume_step, int) or resume_step < 0
        ):
            raise ValueError(f"resume_step must be None or an int >= 0, got {resume_step!r}")
        self.run_dir = Path(run_dir)
        self.metrics_path = self.run_dir / METRICS_FILE
        self.tensorboard = tensorboard
        self.resume_step = resume_step
        self._writer: Any = None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._repair(resume_step)
        self._file: io.TextIOWrapper | None = open(  # noqa: SIM115 - held until close()
            self.metrics_path, "a", encoding="utf-8", newline="\n"
        )

    def _repair(self, resume_step: int | None) -> None:
        """Drop a torn last line and, when resuming, the lines after ``resume_step``."""
        if not self.metrics_path.is_file():
            return
        data = self.metrics_path.read_bytes()
        lines, tail = _split_lines(data)
        if tail:
            if _parse_tail(tail) is None:
                logger.warning("%s: dropping a torn last line %r", self.metrics_path, tail[:80])
            else:
                lines.append(tail + b"\n")  # complete but unterminated: keep it, terminated
        if resume_step is not None:
            kept = []
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                record = _parse_line(self.metrics_path, number, line)
                step = record.get("global_step") if isinstance(record, dict) else None
                if isinstance(step, (int, float)) and step > resume_step:
                    continue
                kept.append(line)
            if len(kept) != len(lines):
                logger.info(
                    "%s: dropped %d lines logged after step %d",
                    self.metrics_path,
                    len(lines) - len(kept),
                    resume_step,
                )
            lines = kept
        new_data = b"".join(lines)
        if new_data != data:
            write_bytes_atomic(self.metrics_path, new_data)

    def log(self, step: int, metrics: Mapping[str, float | int | None]) -> None:
        """Record ``metrics`` at global step ``step``.

        Args:
            step: The global step (environment steps so far), ``>= 0``.
            metrics: Metric values by key. ``None`` and non-finite values are written to JSON as
                ``null`` and skipped in TensorBoard. Numpy and 0-d torch scalars are accepted.

        Raises:
            ValueError: If the logger is closed, ``step`` is not an int ``>= 0``, a key is not a
                string or is ``"global_step"``, or a value is not a number or None.
        """
        if self._file is None:
            raise ValueError(f"RunLogger for {self.run_dir} is closed")
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"step must be an int >= 0, got {step!r}")
        step = int(step)
        record: dict[str, Any] = {"global_step": step}
        for key, value in metrics.items():
            if not isinstance(key, str):
                raise ValueError(f"metric keys must be strings, got {key!r}")
            if key == "global_step":
                raise ValueError("'global_step' is not a metric: pass it as the step argument")
            record[key] = _json_number(key, value)

        self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

        if self.tensorboard:
            writer = self._summary_writer()
            for key, value in record.items():
                if key != "global_step" and value is not None:
                    writer.add_scalar(tb_tag(key), float(value), global_step=step)

    def _summary_writer(self) -> Any:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            purge_step = None if self.resume_step is None else self.resume_step + 1
            self._writer = SummaryWriter(log_dir=str(self.run_dir / "tb"), purge_step=purge_step)
        return self._writer

    def flush(self) -> None:
        """Flush TensorBoard's pending events (the JSONL file is flushed on every call)."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the files; calling it again does nothing."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Parse ``run_dir/metrics.jsonl``.

    Args:
        run_dir: The run folder.

    Returns:
        One dict per logged line, in file order (``null`` values as None); an empty list if the
        file does not exist. A torn final line (from a killed process) is skipped.

    Raises:
        ValueError: If a line other than the last is not a JSON object, naming file and line.
    """
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        logger.info("%s does not exist", path)
        return []
    lines, tail = _split_lines(path.read_bytes())
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = _parse_line(path, number, line)
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: not a JSON object")
        records.append(record)
    if tail.strip():
        record = _parse_tail(tail)
        if record is None:
            logger.warning("%s: skipping a torn last line", path)
        else:
            records.append(record)
    return records


def _running_mean(values: list[float], window: int) -> list[float]:
    """Trailing mean over up to ``window`` values."""
    out: list[float] = []
    total = 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _series(records: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(global_step, value) pairs of the records with a numeric ``key``, sorted by step."""
    pairs = [
        (float(r["global_step"]), float(r[key]))
        for r in records
        if isinstance(r.get(key), (int, float)) and isinstance(r.get("global_step"), (int, float))
    ]
    pairs.sort(key=lambda pair: pair[0])
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot_run(run_dir: Path, path: Path | None = None) -> Path | None:
    """Plot episodic return (and success rate, if logged) over global step to a PNG.

    Raw points are drawn faintly with a trailing running mean on top. The figure is rendered
    off-screen (Agg) and written atomically.

    Args:
        run_dir: The run folder with ``metrics.jsonl``.
        path: Where to write the PNG; ``run_dir/training.png`` by default.

    Returns:
        The PNG path, or None (logged) if no record has an episodic return.
    """
    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    steps, returns = _series(records, "episodic_return")
    if not steps:
        logger.info("%s: no episodic_return records, nothing to plot", run_dir)
        return None
    success_steps, success = _series(records, "success")

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = 2 if success_steps else 1
    fig = Figure(figsize=(8, 3.2 * rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]

    window = max(1, min(100, len(returns) // 10))
    ax = axes[0]
    ax.plot(steps, returns, ".", color="tab:blue", alpha=0.25, markersize=3, label="episodes")
    ax.plot(steps, _running_mean(returns, window), color="tab:blue", label=f"mean of {window}")
    ax.set_ylabel("episodic return")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")

    if success_steps:
        window = max(1, min(100, len(success) // 10))
        ax = axes[1]
        ax.plot(success_steps, success, ".", color="tab:green", alpha=0.25, markersize=3)
        ax.plot(success_steps, _running_mean(success, window), color="tab:green")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("success rate")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("global step")
    fig.suptitle(run_dir.resolve().name)

    return _write_png(fig, Path(path) if path is not None else run_dir / "training.png")


def plot_curriculum(run_dir: Path, path: Path | None = None) -> Path | None:
    """Plot what a curriculum sampled over training to a PNG (``curriculum.png``).

    Three panels from the ``curriculum/`` metrics: the mean difficulty of the sampled tasks,
    the share of each difficulty band among them (stacked), and the success per band.

    Args:
        run_dir: The run folder with ``metrics.jsonl``.
        path: Where to write the PNG; ``run_dir/curriculum.png`` by default.

    Returns:
        The PNG path, or None (logged) if no record has curriculum metrics.
    """
    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    steps, difficulty = _series(records, "curriculum/mean_difficulty")
    if not steps:
        logger.info("%s: no curriculum metrics, nothing to plot", run_dir)
        return None
    bands = sorted({int(k.rsplit("/", 1)[1]) for r in records for k in r if k.startswith(_SHARE)})

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 9), layout="constrained")
    FigureCanvasAgg(fig)
    ax_diff, ax_share, ax_success = fig.subplots(3, 1, sharex=True)
    ax_diff.plot(steps, difficulty, color="tab:purple")
    ax_diff.set_ylim(-0.02, 1.02)
    ax_diff.set_ylabel("mean sampled difficulty")

    shares = [
        [float(r.get(f"{_SHARE}{b}") or 0.0) for r in records if _has_shares(r)] for b in bands
    ]
    share_steps = [r["global_step"] for r in records if _has_shares(r)]
    if share_steps:
        ax_share.stackplot(share_steps, shares, labels=[f"band {b}" for b in bands], alpha=0.8)
        ax_share.legend(loc="upper left", fontsize="small", ncol=min(len(bands), 5))
    ax_share.set_ylim(0, 1)
    ax_share.set_ylabel("share of sampled tasks")

    for b in bands:
        s_steps, success = _series(records, f"curriculum/band_success/{b}")
        if s_steps:
            ax_success.plot(s_steps, success, marker=".", label=f"band {b}")
    ax_success.set_ylim(-0.02, 1.02)
    ax_success.set_ylabel("success per band")
    ax_success.set_xlabel("global step")
    for ax in (ax_diff, ax_share, ax_success):
        ax.grid(alpha=0.3)
    fig.suptitle(f"{run_dir.resolve().name}: curriculum (band 0 = easiest)")

    return _write_png(fig, Path(path) if path is not None else run_dir / "curriculum.png")


def _write_png(fig: Any, out: Path) -> Path:
    """Render ``fig`` to PNG and write it atomically to ``out``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out, buffer.getvalue())
    logger.info("wrote %s", out)
    return out


_SHARE = "curriculum/band_share/"


def _has_shares(record: Mapping[str, Any]) -> bool:
    return any(k.startswith(_SHARE) for k in record)
