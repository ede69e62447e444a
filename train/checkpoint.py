"""Checkpoints: atomic writes, safetensors weights and training state loaded without unpickling.

A checkpoint at step ``N`` in a folder is two files:

- ``step_{N:012d}.state.pt``: ``torch.save`` of a dict with everything that is not a weight
  tensor (optimiser ``state_dict``, RNG states, counters, curriculum state, ...);
- ``step_{N:012d}.safetensors``: every weight tensor, with the metadata
  ``{"step": str(N), "format": "palaestra-checkpoint-1"}``.

The state file is written first and the safetensors file last, each atomically (temporary file
in the same folder, ``fsync``, then ``os.replace``), so a checkpoint counts as complete exactly
when its ``.safetensors`` file exists: a process killed mid-save leaves either the previous
complete checkpoints untouched plus, at worst, an orphan ``.state.pt`` or a hidden temporary
file, both of which :func:`list_checkpoints` ignores.

Security: the state file is read with ``torch.load(..., weights_only=True)``, torch's restricted
unpickler, which rebuilds only tensors and plain containers (dicts, lists, tuples, strings,
numbers, None) and refuses any other object, so a checkpoint someone else made cannot run code
when it is loaded. :func:`save_checkpoint` therefore accepts only state made of those types
(checking it before anything is written). Policies and their normalisers load from the
safetensors file and ``config.json`` alone
(:meth:`~palaestra.agents.policy_agent.PolicyAgent.from_run`), never from the state file.

Example:
    >>> path = save_checkpoint(run / "checkpoints", step, model.state_dict(),
    ...                        {"optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state()})
    >>> ckpt = load_latest_checkpoint(run / "checkpoints")
    >>> model.load_state_dict(ckpt.tensors); opt.load_state_dict(ckpt.state["optimizer"])
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "CheckpointError",
    "list_checkpoints",
    "load_checkpoint",
    "load_latest_checkpoint",
    "prune_checkpoints",
    "save_checkpoint",
    "write_bytes_atomic",
    "write_json_atomic",
]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "palaestra-checkpoint-1"
"""The ``format`` metadata value of the safetensors files this module writes."""

_WEIGHTS_SUFFIX = ".safetensors"
_STATE_SUFFIX = ".state.pt"
_NAME_RE = re.compile(r"^step_(\d{12,})\.safetensors$")


class CheckpointError(Exception):
    """A checkpoint file is missing, truncated, corrupt or not a palaestra checkpoint.

    The message always names the offending file.

    Attributes:
        path: The offending file.
        problem: What is wrong with it.
    """

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# --------------------------------------------------------------------------- atomic writes


def _fsync_directory(directory: Path) -> None:
    """Best-effort fsync of a folder so a rename in it survives a power cut (POSIX only)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:  # Windows cannot open folders; some filesystems refuse
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    The bytes go to a hidden temporary file in the same folder (its name starts with ``.``, so
    listings ignore it), which is flushed, ``fsync``-ed and then renamed over ``path`` with
    ``os.replace``. Readers therefore see either the old file or the new one, never a partial
    one. On any failure the temporary file is removed and ``path`` is left untouched.

    Args:
        path: Destination file; its folder must exist.
        data: The complete new contents.

    Raises:
        OSError: If the file cannot be written or renamed.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)  # the umask applies, as for an ordinary open()
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_directory(path.parent)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON (indent 2, sorted keys, trailing newline) atomically.

    The JSON is strict: NaN and infinities are rejected (they are not JSON and many readers
    choke on them); store them as ``None`` or strings.

    Args:
        path: Destination file; its folder must exist.
        obj: A JSON-serialisable object.

    Raises:
        TypeError: If ``obj`` is not JSON-serialisable (nothing is written).
        ValueError: If ``obj`` contains NaN or an infinity (nothing is written).
        OSError: If the file cannot be written.
    """
    text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"))


# --------------------------------------------------------------------------- saving


def _paths(directory: Path, step: int) -> tuple[Path, Path]:
    """The (weights, state) paths of the checkpoint at ``step``."""
    stem = f"step_{step:012d}"
    return directory / f"{stem}{_WEIGHTS_SUFFIX}", directory / f"{stem}{_STATE_SUFFIX}"


def _state_path(weights_path: Path) -> Path:
    """The state file that belongs with a ``.safetensors`` file."""
    return weights_path.with_name(weights_path.name[: -len(_WEIGHTS_SUFFIX)] + _STATE_SUFFIX)


def save_checkpoint(
    directory: Path,
    step: int,
    tensors: Mapping[str, torch.Tensor],
    state: Mapping[str, Any],
) -> Path:
    """Save a checkpoint: ``state`` with torch first, then ``tensors`` as safetensors.

    Both payloads are serialised before anything is written, so bad input writes nothing.
    Tensors are copied to CPU and made contiguous (tied or shared tensors are stored as
    independent copies). If a checkpoint at ``step`` already exists, its ``.safetensors`` file
    is removed first, so a crash mid-overwrite never pairs new state with old weights.

    Args:
        directory: Checkpoint folder; created if missing.
        step: The global step, ``>= 0``; it names the files.
        tensors: Weight tensors by name (e.g. ``model.state_dict()``).
        state: Everything else, made of tensors and plain containers only (optimiser
            ``state_dict``, RNG states, counters): what ``torch.load(weights_only=True)``
            reads back.

    Returns:
        The path of the ``.safetensors`` file, which marks the checkpoint complete.

    Raises:
        ValueError: If ``step`` is negative or not an int, a key of ``tensors`` is not a
            string, a value is not a dense tensor, or ``state`` holds an object that the
            restricted loader would refuse (named in the message).
        OSError: If a file cannot be written.
    """
    import torch
    from safetensors.torch import save as safetensors_save

    if isinstance(step, bool) or not isinstance(step, int):
        raise ValueError(f"step must be an int, got {type(step).__name__}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if not isinstance(tensors, Mapping):
        raise ValueError(f"tensors must be a mapping of names to tensors, got {type(tensors)}")
    if not isinstance(state, Mapping):
        raise ValueError(f"state must be a mapping, got {type(state).__name__}")

    cpu_tensors: dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise ValueError(f"tensor names must be strings, got {name!r}")
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"tensors[{name!r}] is a {type(value).__name__}, not a torch.Tensor")
        if value.layout != torch.strided:
            raise ValueError(f"tensors[{name!r}] has layout {value.layout}; only dense tensors")
        # A fresh CPU copy: safetensors refuses tensors that share storage (tied weights).
        cpu_tensors[name] = value.detach().to("cpu", copy=True).contiguous()

    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    state_bytes = buffer.getvalue()
    try:  # what load_checkpoint will do: refuse now rather than write an unloadable file
        torch.load(io.BytesIO(state_bytes), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            "state holds an object that cannot be loaded without unpickling (keep to tensors, "
            f"dicts, lists, tuples, strings, numbers and None): {_unpickler_reason(exc)}"
        ) from None
    weights_bytes = safetensors_save(
        cpu_tensors, metadata={"step": str(step), "format": CHECKPOINT_FORMAT}
    )

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights_path, state_path = _paths(directory, step)
    if weights_path.exists():
        logger.warning("overwriting the existing checkpoint %s", weights_path)
        weights_path.unlink()
    write_bytes_atomic(state_path, state_bytes)
    write_bytes_atomic(weights_path, weights_bytes)
    logger.info("saved checkpoint %s (%d tensors)", weights_path, len(cpu_tensors))
    return weights_path


def _unpickler_reason(exc: Exception) -> str:
    """The line of torch's restricted-unpickler error that names the refused object."""
    for line in str(exc).splitlines():
        if "Unsupported" in line or "WeightsUnpickler" in line:
            return line.strip().removeprefix("WeightsUnpickler error: ")
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        step: The global step it was saved at.
        tensors: The weight tensors by name, on the requested device.
        state: The training state dict saved with it.
        path: Its ``.safetensors`` file.
    """

    step: int
    tensors: dict[str, torch.Tensor]
    state: dict[str, Any]
    path: Path


def _step_from_name(path: Path) -> int | None:
    match = _NAME_RE.match(path.name)
    return int(match.group(1)) if match else None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load the checkpoint whose ``.safetensors`` file is ``path``, with its state file.

    The state file is read with ``torch.load(..., weights_only=True)``: nothing is unpickled
    beyond tensors and plain containers.

    Args:
        path: The ``step_XXXXXXXXXXXX.safetensors`` file.
        map_location: Device for the tensors and for ``torch.load`` of the state.

    Returns:
        The checkpoint.

    Raises:
        CheckpointError: Naming the bad file, if either file is missing, truncated or corrupt,
            the safetensors metadata is not a palaestra checkpoint's, or its step does not
            match the file name.
    """
    import torch
    from safetensors import safe_open

    path = Path(path)
    step = _step_from_name(path)
    if step is None:
        raise CheckpointError(
            path, "is not named like a checkpoint (step_<12+ digit step>.safetensors)"
        )
    if not path.is_file():
        raise CheckpointError(path, "does not exist")

    try:
        with safe_open(str(path), framework="pt", device="cpu") as file:
            metadata = file.metadata() or {}
            tensors = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118
    except Exception as exc:
        raise CheckpointError(path, f"is truncated or corrupt ({exc})") from exc
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            path,
            f"is not a palaestra checkpoint: format metadata is {metadata.get('format')!r}, "
            f"expected {CHECKPOINT_FORMAT!r}",
        )
    if metadata.get("step") != str(step):
        raise CheckpointError(
            path,
            f"step metadata {metadata.get('step')!r} does not match the step {step} "
            "in the file name",
        )

    state_path = _state_path(path)
    if not state_path.is_file():
        raise CheckpointError(state_path, f"does not exist (the state file of {path.name})")
    try:
        state = torch.load(state_path, map_location=map_location, weights_only=True)
    except Exception as exc:
        if "Weights only load failed" in str(exc):
            raise CheckpointError(
                state_path,
                "holds objects that palaestra does not load (it never unpickles checkpoint "
                f"state): {_unpickler_reason(exc)}",
            ) from None
        raise CheckpointError(state_path, f"is truncated or corrupt ({exc!r})") from exc
    if not isinstance(state, dict):
        raise CheckpointError(state_path, f"holds a {type(state).__name__}, not a state dict")

    if torch.device(map_location).type != "cpu":
        tensors = {name: tensor.to(map_location) for name, tensor in tensors.items()}
    return Checkpoint(step=step, tensors=tensors, state=state, path=path)


def list_checkpoints(directory: Path) -> list[Path]:
    """Complete-looking checkpoints in ``directory``, oldest first.

    A checkpoint looks complete when its ``step_XXXXXXXXXXXX.safetensors`` file exists (it is
    written last). Temporary files, orphan state files and unrelated files are ignored.

    Args:
        directory: Checkpoint folder; a missing folder has no checkpoints.

    Returns:
        The ``.safetensors`` paths sorted by step (numerically) ascending.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found: list[tuple[int, Path]] = []
    for entry in directory.iterdir():
        step = _step_from_name(entry)
        if step is not None and entry.is_file():
            found.append((step, entry))
    found.sort()
    return [path for _, path in found]


def load_latest_checkpoint(
    directory: Path, map_location: str | torch.device = "cpu"
) -> Checkpoint | None:
    """Load the newest complete checkpoint in ``directory``.

    It never deletes, moves or modifies files: if the newest checkpoint is corrupt it raises,
    saying which earlier checkpoint (if any) is intact, so a person decides what to discard.

    Args:
        directory: Checkpoint folder.
        map_location: Device for the tensors and state (see :func:`load_checkpoint`).

    Returns:
        The newest checkpoint, or None if there is none.

    Raises:
        CheckpointError: Naming the newest checkpoint and the newest intact earlier one, if
            the newest is corrupt.
    """
    paths = list_checkpoints(directory)
    if not paths:
        return None
    latest = paths[-1]
    try:
        return load_checkpoint(latest, map_location)
    except CheckpointError as exc:
        corrupt_error = exc

    also_corrupt: list[str] = []
    intact: Path | None = None
    for candidate in reversed(paths[:-1]):
        try:
            load_checkpoint(candidate, "cpu")
        except CheckpointError:
            also_corrupt.append(candidate.name)
            continue
        intact = candidate
        break

    problem = f"the latest checkpoint {latest.name} is corrupt ({corrupt_error})"
    if also_corrupt:
        problem += f"; the earlier checkpoints {', '.join(also_corrupt)} are corrupt too"
    if intact is not None:
        problem += (
            f"; the previous checkpoint {intact.name} is intact: move the corrupt files "
            f"({latest.name}, {_state_path(latest).name}) away to resume from it"
        )
    else:
        problem += "; no earlier checkpoint is intact"
    raise CheckpointError(latest, problem) from corrupt_error


def prune_checkpoints(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` complete checkpoints (both files of each).

    Orphan state files and temporary files are left alone.

    Args:
        directory: Checkpoint folder.
        keep: How many of the newest checkpoints to keep, ``>= 1``.

    Returns:
        The ``.safetensors`` paths of the deleted checkpoints.

    Raises:
        ValueError: If ``keep`` is not an int ``>= 1``.
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"keep must be an int >= 1, got {keep!r}")
    paths = list_checkpoints(directory)
    doomed = paths[:-keep]
    for weights_path in doomed:
        # The weights first: the checkpoint stops counting as complete before its state goes.
        weights_path.unlink(missing_ok=True)
        _state_path(weights_path).unlink(missing_ok=True)
        logger.info("pruned checkpoint %s", weights_path)
    return doomed
