"""The opt-in Python tier of skills: RestrictedPython in a persistent, resource-limited worker.

Python skills are off by default. Install the extra (``pip install -e ".[sandbox]"``), then::

    from palaestra.skills.sandbox import PythonSandbox

    SOURCE = '''
    def plan(observation, args):
        return ["move north"] * args["steps"]
    '''
    with PythonSandbox() as sandbox:
        texts = sandbox.run_skill(SOURCE, obs, {"steps": 2}, allowed=["move north", "noop"])

Glossary:

- **skill source**: Python text defining one entry function, ``plan(observation, args)`` by
  default, returning a primitive action text or a list of them.
- **worker**: one long-lived child process (``python -S _sandbox_worker.py``) that compiles and
  runs skills; the host talks to it over pipes with length-prefixed JSON messages (4-byte
  big-endian length, then UTF-8 JSON). Data crosses as JSON only: numpy arrays become lists.
- **replacement**: after a timeout, a crash or a memory bomb the host kills the worker
  (SIGKILL) and starts a fresh one lazily, on the next call; ``restarts`` counts them.

Threat model. The skill author is untrusted but not a kernel-level attacker: the aim is that
a skill (written by a language model, mined, or shared) cannot read or write files, import
modules, reach the interpreter's internals, or harm the host through CPU, memory or output,
and that any attempt ends in a clear :class:`SandboxError` within the call's time limit.

What is blocked, and how:

- ``import`` statements, class definitions, names and attributes starting with ``_``
  (``().__class__.__bases__``, ``__import__``), frame and code attributes (``gi_frame``,
  ``f_back``, ``f_globals``, ``tb_frame``, ...): refused at compile time by RestrictedPython's
  transformer plus this tier's stricter policy (:class:`SandboxViolation`).
- Attribute access at run time goes through a guard that refuses the same names and
  ``str.format``/``str.format_map`` (``"{0.__class__}".format(x)`` reaches dunders) and
  ``type.mro``. Refusals are reported even when the skill catches the exception.
- ``open``, ``eval``, ``exec``, ``compile``, ``getattr``, ``type``, ``vars``, ``globals`` and
  other introspection builtins are stubs that refuse (``eval``/``exec`` calls already fail to
  compile); there is no ``__import__``. Builtins: RestrictedPython's ``safe_builtins`` but
  ``id``, plain-data ones (``sorted``, ``zip``, ``list``, ...) and ``math``, ``set``,
  ``frozenset`` from ``utility_builtins`` (not ``limited_builtins``: its 1000-item ``range`` is
  too small for real skills, and the memory and time limits bound big ranges anyway).
- ``**``, ``**=`` and ``pow`` refuse integer results over ``max_pow_bits`` bits
  (``10 ** 10 ** 10``, ``pow(10, 10**9)``) before computing them: such a computation runs in C,
  where no signal can interrupt it.
- Time: the host kills the worker when a call exceeds ``timeout_s`` of wall-clock time
  (:class:`SandboxTimeout`). The worker backs that up itself: a CPU timer (``ITIMER_PROF``)
  kills it after ``cpu_seconds`` of CPU in one call, and ``RLIMIT_CPU`` bounds its lifetime CPU
  (whole seconds, cumulative, so unfit per call); it is retired before that runs out.
- Memory: ``RLIMIT_AS`` turns a memory bomb into ``MemoryError`` (or a kill) inside the worker
  (:class:`SandboxMemoryError`); the worker is then replaced. The host reads at most
  ``max_output_bytes`` of a reply, so its own memory does not grow.
- Output: a result over ``max_output_bytes`` or that is not JSON data is refused
  (:class:`SandboxOutputError`); :meth:`PythonSandbox.run_skill` also refuses texts that are
  not among the allowed primitive actions.
- The worker also sets ``RLIMIT_FSIZE`` 0, ``RLIMIT_CORE`` 0 and ``RLIMIT_NPROC`` 0, runs with
  ``PYTHONHASHSEED=0`` (set order is deterministic) and keeps its protocol off fds 0 and 1.

What is NOT guaranteed:

- This is a language-level sandbox plus rlimits, not an OS sandbox (no seccomp, namespaces or
  separate user). A bug in RestrictedPython or CPython that lets code escape the restricted
  namespace gives it the worker's full rights (the host user's files and network); it could
  stop the CPU timer, and as root raise the rlimits (root also ignores ``RLIMIT_NPROC``).
  Run untrusted skills in a container too when that matters.
- Skill code may still burn up to ``timeout_s`` of CPU per call, and the RestrictedPython
  guards slow attribute-heavy code down.
- A replaced worker costs the next call a worker start (about 30 ms).
- POSIX only (``resource``, ``poll`` on pipes): :meth:`PythonSandbox.available` is False on
  Windows.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any, cast

from palaestra.skills import _sandbox_worker as _proto

__all__ = [
    "PythonSandbox",
    "SandboxConfig",
    "SandboxCrashed",
    "SandboxError",
    "SandboxMemoryError",
    "SandboxOutputError",
    "SandboxSkillError",
    "SandboxTimeout",
    "SandboxUnavailable",
    "SandboxViolation",
    "validate_actions",
]

logger = logging.getLogger(__name__)

INSTALL_HINT = 'pip install -e ".[sandbox]"'
_WORKER_PATH = Path(__file__).with_name("_sandbox_worker.py")
_ENVELOPE_BYTES = 4096  # room for the reply's own keys around a result of max_output_bytes


class SandboxError(RuntimeError):
    """Anything that went wrong running a Python skill in the sandbox."""


class SandboxUnavailable(SandboxError, ImportError):
    """The Python tier cannot run here (RestrictedPython missing, or not POSIX)."""


class SandboxViolation(SandboxError):
    """The skill tried something the policy refuses (at compile time or run time)."""


class SandboxTimeout(SandboxError):
    """The skill ran past its wall-clock or CPU limit; the worker was replaced."""


class SandboxCrashed(SandboxError):
    """The worker died during the call (killed, or out of memory); it was replaced."""


class SandboxMemoryError(SandboxCrashed):
    """The skill exceeded the worker's memory limit; the worker was replaced."""


class SandboxSkillError(SandboxError):
    """The skill itself failed: a syntax error, an exception, or no entry function."""


class SandboxOutputError(SandboxError, ValueError):
    """The skill's result is too large, not JSON data, or not allowed primitive actions."""


@dataclass(frozen=True)
class SandboxConfig:
    """Limits of the Python tier. Each is enforced per call unless it says otherwise."""

    timeout_s: float = 0.5
    """Wall-clock seconds a call may take; past it the host kills and replaces the worker."""
    cpu_seconds: float = 1.0
    """CPU seconds a call may use (a CPU timer in the worker); a backstop to ``timeout_s``."""
    memory_bytes: int = 256 * 2**20
    """Address space of the worker (``RLIMIT_AS``); a bigger allocation is a memory error."""
    max_output_bytes: int = 64 * 2**10
    """Largest JSON result a skill may return, in bytes."""
    max_input_bytes: int = 4 * 2**20
    """Largest JSON request (observation, args and source) the host sends, in bytes."""
    max_source_chars: int = 20_000
    """Longest skill source accepted, in characters."""
    max_pow_bits: int = 100_000
    """Largest integer, in bits, that ``**``, ``**=`` and ``pow`` may build."""
    start_timeout_s: float = 10.0
    """Seconds a new worker may take to start (import RestrictedPython) and say ready."""
    worker_cpu_budget_s: int = 600
    """Lifetime CPU seconds of one worker (``RLIMIT_CPU``); it is replaced before it runs out."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value, kinds = getattr(self, f.name), (int, float) if f.type == "float" else int
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise TypeError(f"SandboxConfig.{f.name} must be {f.type}, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"SandboxConfig.{f.name} must be positive, got {value!r}")
        if self.worker_cpu_budget_s <= 2 * self.cpu_seconds + 1:
            raise ValueError(
                f"SandboxConfig.worker_cpu_budget_s ({self.worker_cpu_budget_s}) must exceed "
                f"2 * cpu_seconds + 1 ({2 * self.cpu_seconds + 1})"
            )


def _restrictedpython_root() -> str | None:
    """The folder holding the RestrictedPython package, without importing it."""
    try:
        spec = importlib.util.find_spec("RestrictedPython")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(Path(next(iter(spec.submodule_search_locations))).parent)


def _unavailable_reason() -> str | None:
    if os.name != "posix":
        return f"the Python skill sandbox needs a POSIX system (resource limits), not {os.name!r}"
    if _restrictedpython_root() is None:
        return f"Python skills are an opt-in tier and need RestrictedPython: {INSTALL_HINT}"
    return None


def validate_actions(result: Any, allowed: Sequence[str]) -> list[str]:
    """The primitive action texts a skill returned, checked against the allowed ones.

    Args:
        result: what the skill returned: one text or a list of texts.
        allowed: the env family's primitive action texts.

    Returns:
        The texts as a list, in order.

    Raises:
        SandboxOutputError: naming the first value that is not a text or not allowed.
    """
    texts = [result] if isinstance(result, str) else result
    if not isinstance(texts, list):
        raise SandboxOutputError(
            f"a skill must return an action text or a list of them, got {type(result).__name__}"
        )
    permitted = set(allowed)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise SandboxOutputError(
                f"skill action {i} is {text!r} ({type(text).__name__}), not an action text"
            )
        if text not in permitted:
            shown = ", ".join(repr(a) for a in list(allowed)[:12])
            more = "" if len(permitted) <= 12 else f", ... ({len(permitted)} in all)"
            raise SandboxOutputError(
                f"skill action {i} {text!r} is not a primitive action; allowed: {shown}{more}"
            )
    return list(texts)


def _json_default(obj: Any) -> Any:
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON data")


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Kill a worker and collect it (also run by the finaliser of a forgotten sandbox)."""
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not wait
        logger.warning("sandbox worker %d did not exit after SIGKILL", proc.pid)
    for pipe in filter(None, (proc.stdin, proc.stdout)):
        pipe.close()


class _Deadline(Exception):
    """The call's deadline passed."""


class _Closed(Exception):
    """The worker's end of a pipe closed."""


class _Worker:
    """One worker process and its pipes; non-blocking, deadline-bounded reads and writes."""

    def __init__(self, config: SandboxConfig, rp_root: str) -> None:
        names = ("memory_bytes", "cpu_seconds", "worker_cpu_budget_s", "max_output_bytes")
        limits = {k: getattr(config, k) for k in (*names, "max_pow_bits")}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(PYTHONHASHSEED="0", PYTHONPATH=rp_root, PYTHONSAFEPATH="1")
        cmd = [sys.executable, "-S", str(_WORKER_PATH), json.dumps(limits)]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
            bufsize=0,
        )
        self.finalizer = weakref.finalize(self, _reap, self.proc)
        self.wfd = cast(IO[bytes], self.proc.stdin).fileno()
        self.rfd = cast(IO[bytes], self.proc.stdout).fileno()
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        self.pid = self.proc.pid

    def _wait(self, fd: int, write: bool, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        poller = select.poll()  # not select.select: it fails on fds over FD_SETSIZE
        poller.register(fd, select.POLLOUT if write else select.POLLIN)
        if remaining <= 0 or not poller.poll(1000 * remaining):
            raise _Deadline

    def send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            self._wait(self.wfd, True, deadline)
            try:
                view = view[os.write(self.wfd, view) :]
            except BlockingIOError:
                continue
            except OSError as exc:  # BrokenPipeError: the worker is gone
                raise _Closed from exc

    def _read_exact(self, n: int, deadline: float) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            self._wait(self.rfd, False, deadline)
            try:
                chunk = os.read(self.rfd, min(n - len(buf), 1 << 20))
            except BlockingIOError:
                continue
            if not chunk:
                raise _Closed
            buf += chunk
        return bytes(buf)

    def receive(self, deadline: float, limit: int) -> dict[str, Any]:
        (size,) = _proto.HEADER.unpack(self._read_exact(_proto.HEADER.size, deadline))
        if size > limit:
            raise SandboxOutputError(f"the worker sent {size} bytes, over the limit of {limit}")
        reply = json.loads(self._read_exact(size, deadline))
        if not isinstance(reply, dict) or "ok" not in reply:
            raise ValueError(f"malformed reply {reply!r:.200}")
        return reply

    def kill(self) -> None:
        self.finalizer()

    def returncode(self) -> int | None:
        try:
            return self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return None


class PythonSandbox:
    """Runs Python skills in one persistent RestrictedPython worker, with time and memory limits.

    Thread-safe (calls are serialised). Use as a context manager, or call :meth:`close`; a
    forgotten sandbox's worker is killed when the sandbox is garbage-collected.

    Args:
        config: the limits; :class:`SandboxConfig` defaults when None.

    Raises:
        SandboxUnavailable: RestrictedPython is not installed (the message names the extra), or
            the system is not POSIX.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        reason = _unavailable_reason()
        if reason is not None:
            raise SandboxUnavailable(reason)
        self.config = config if config is not None else SandboxConfig()
        self._rp_root = _restrictedpython_root() or ""
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._restarts = 0
        self._started = 0
        self._closed = False
        self._owner = os.getpid()

    @staticmethod
    def available() -> bool:
        """Whether the Python tier can run here (RestrictedPython installed, POSIX)."""
        return _unavailable_reason() is None

    @property
    def pid(self) -> int | None:
        """The current worker's process id (None before the first call or after a kill)."""
        return None if self._worker is None else self._worker.pid

    @property
    def restarts(self) -> int:
        """How many workers were replaced after a timeout, crash, memory error or retirement."""
        return self._restarts

    def start(self) -> int:
        """Start the worker now instead of on the first call; returns its pid."""
        with self._lock:
            return self._ensure_worker().pid

    def check(self, source: str, *, entry: str = "plan") -> None:
        """Compile ``source`` in the worker without running it.

        Raises:
            SandboxViolation: the source uses something the policy refuses (named in the message).
            SandboxSkillError: a syntax error.
        """
        self._request({"op": "check", "source": self._checked_source(source, entry)})

    def call(
        self,
        source: str,
        observation: Any = None,
        args: Mapping[str, Any] | None = None,
        *,
        entry: str = "plan",
    ) -> Any:
        """Run ``entry(observation, args)`` of a skill and return its JSON result.

        Each call runs the source in a fresh namespace: nothing carries over between calls.

        Args:
            source: the skill's Python source, defining ``entry``.
            observation: JSON-able data; numpy arrays and scalars become lists and numbers.
            args: the skill's arguments, a mapping with string keys.
            entry: the function to call.

        Returns:
            Whatever the skill returned, decoded from JSON.

        Raises:
            SandboxError: its subclasses :class:`SandboxViolation`, :class:`SandboxTimeout`,
                :class:`SandboxMemoryError`, :class:`SandboxCrashed` (the last three replace
                the worker), :class:`SandboxSkillError` and :class:`SandboxOutputError`.
            ValueError: ``observation`` or ``args`` is not JSON data or too large.
        """
        text = self._checked_source(source, entry)
        if args is not None and not isinstance(args, Mapping):
            raise ValueError(f"skill args must be a mapping, got {type(args).__name__}")
        payload = {"op": "call", "source": text, "entry": entry, "args": [observation, args or {}]}
        reply = self._request(payload)
        return reply.get("result")

    def run_skill(
        self,
        source: str,
        observation: Any,
        args: Mapping[str, Any] | None = None,
        *,
        allowed: Sequence[str],
        entry: str = "plan",
    ) -> list[str]:
        """Run a skill and return its primitive action texts, each checked against ``allowed``.

        Raises:
            SandboxOutputError: a returned text is not in ``allowed`` (named in the message),
                or the result is not a text or list of texts; plus everything :meth:`call` raises.
        """
        if isinstance(allowed, str):
            raise TypeError("allowed must be a sequence of action texts, not one string")
        return validate_actions(self.call(source, observation, args, entry=entry), allowed)

    def close(self) -> None:
        """Stop the worker; later calls raise :class:`SandboxError`."""
        with self._lock:
            self._closed = True
            if self._worker is not None:
                self._worker.kill()
                self._worker = None

    def __enter__(self) -> PythonSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"pid={self.pid}"
        return f"PythonSandbox({state}, restarts={self._restarts})"

    # -- internals ---------------------------------------------------------------------------

    def _checked_source(self, source: str, entry: str) -> str:
        if not isinstance(source, str):
            raise TypeError(f"skill source must be str, got {type(source).__name__}")
        if len(source) > self.config.max_source_chars:
            raise SandboxViolation(
                f"skill source is {len(source)} characters, over the limit of "
                f"{self.config.max_source_chars}"
            )
        if not entry.isidentifier() or entry.startswith("_"):
            raise ValueError(f"entry must be a public identifier, got {entry!r}")
        return source

    def _encode(self, payload: dict[str, Any]) -> bytes:
        try:
            data = json.dumps(
                payload, default=_json_default, separators=(",", ":"), allow_nan=False
            )
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"skill observation and args must be JSON data: {exc}") from exc
        raw = data.encode("utf-8")
        if len(raw) > self.config.max_input_bytes:
            raise ValueError(
                f"skill request is {len(raw)} bytes, over max_input_bytes "
                f"{self.config.max_input_bytes}"
            )
        return _proto.HEADER.pack(len(raw)) + raw

    def _ensure_worker(self) -> _Worker:
        if self._closed:
            raise SandboxError("this PythonSandbox is closed")
        if self._worker is not None and self._owner != os.getpid():  # forked: not our child
            self._worker.finalizer.detach()
            self._worker = None
        if self._worker is not None and self._worker.proc.poll() is not None:
            self._discard(f"it exited between calls (status {self._worker.proc.returncode})")
        return self._worker if self._worker is not None else self._spawn()

    def _spawn(self) -> _Worker:
        t0 = time.perf_counter()
        try:
            worker = _Worker(self.config, self._rp_root)
        except OSError as exc:  # out of processes or file descriptors
            raise SandboxCrashed(f"cannot start the sandbox worker: {exc}") from exc
        deadline = time.monotonic() + self.config.start_timeout_s
        try:
            hello = worker.receive(deadline, _ENVELOPE_BYTES)
        except (_Deadline, _Closed, ValueError, SandboxError) as exc:
            worker.kill()
            why = f"{type(exc).__name__}, status {worker.returncode()}"
            raise SandboxCrashed(f"the sandbox worker did not start ({why})") from None
        if not hello.get("ok"):
            worker.kill()
            why = f"the sandbox worker cannot start: {hello.get('message')}"
            if hello.get("kind") == "unavailable":
                raise SandboxUnavailable(f"{why}; install RestrictedPython with {INSTALL_HINT}")
            raise SandboxCrashed(why)
        self._restarts += self._started > 0
        self._started += 1
        self._worker, self._owner = worker, os.getpid()
        ms = 1000 * (time.perf_counter() - t0)
        logger.debug("sandbox worker %d ready in %.0f ms", worker.pid, ms)
        return worker

    def _discard(self, why: str) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            logger.info("replacing sandbox worker %d: %s", worker.pid, why)
            worker.kill()

    def _request(self, payload: dict[str, Any]) -> dict[str, Any]:
        data = self._encode(payload)
        limit = self.config.max_output_bytes + _ENVELOPE_BYTES
        with self._lock:
            worker = self._ensure_worker()
            deadline = time.monotonic() + self.config.timeout_s
            try:
                worker.send(data, deadline)
                reply = worker.receive(deadline, limit)
            except _Deadline:
                self._discard("timeout")
                raise SandboxTimeout(
                    f"the skill ran past its time limit of {self.config.timeout_s} s; "
                    "the worker was replaced"
                ) from None
            except _Closed:
                raise self._died(worker) from None
            except SandboxOutputError:
                self._discard("oversized reply")
                raise
            except ValueError as exc:
                self._discard("malformed reply")
                raise SandboxCrashed(f"the sandbox worker sent a malformed reply: {exc}") from None
            except BaseException:  # KeyboardInterrupt mid-call: its reply would come out of turn
                self._discard("interrupted")
                raise
            if reply.get("kind") == "memory" or reply.get("retire"):
                self._discard("memory" if reply.get("kind") == "memory" else "CPU budget spent")
        if reply["ok"]:
            return reply
        raise _reply_error(reply)

    def _died(self, worker: _Worker) -> SandboxError:
        status = worker.returncode()
        self._discard(f"it died (status {status})")
        if status in (-signal.SIGPROF, -signal.SIGXCPU):
            return SandboxTimeout(
                f"the skill ran past its CPU limit of {self.config.cpu_seconds} s; "
                "the worker was replaced"
            )
        if status == _proto.EXIT_MEMORY:
            return SandboxMemoryError("the skill exceeded the memory limit; worker replaced")
        signalled = status is not None and status < 0 and -status in signal.valid_signals()
        how = f"was killed by {signal.Signals(-status).name}" if signalled else f"exited ({status})"
        return SandboxCrashed(f"the sandbox worker {how}; it was replaced")


_KINDS: dict[str, tuple[type[SandboxError], str]] = {
    "violation": (SandboxViolation, "refused by the sandbox policy: {}"),
    "skill": (SandboxSkillError, "{}"),
    "syntax": (SandboxSkillError, "the skill does not compile: {}"),
    "output": (SandboxOutputError, "{}"),
    "memory": (SandboxMemoryError, "the skill exceeded the memory limit of {}; worker replaced"),
}


def _reply_error(reply: Mapping[str, Any]) -> SandboxError:
    """The exception for a worker's error reply (``protocol``, ``internal``: SandboxError)."""
    cls, template = _KINDS.get(str(reply.get("kind")), (SandboxError, "sandbox worker: {}"))
    return cls(template.format(reply.get("message", "")))
