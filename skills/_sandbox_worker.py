"""The worker process of :mod:`palaestra.skills.sandbox`: RestrictedPython behind a pipe.

The host starts this file as a script (``python -S <this file> <limits JSON>``), never through
``import palaestra``, so the worker loads only the standard library and RestrictedPython. It
then:

1. moves the protocol pipes off fds 0 and 1 (a stray write to stdout cannot corrupt a reply);
2. builds the restricted namespace (guards and builtins, see :func:`build_environment`);
3. sets its resource limits (address space, lifetime CPU, file size, core dumps, processes);
   each call also runs under a CPU timer (``ITIMER_PROF``), whose SIGPROF kills the worker;
4. says ``ready`` and serves requests until its stdin closes.

Protocol: each message is a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
Requests are ``{"op": "check" | "call", "source": str, "entry": str, "args": list}``; replies are
``{"ok": true, "result": ...}`` or ``{"ok": false, "kind": ..., "message": ...}`` with ``kind``
one of ``violation``, ``skill``, ``syntax``, ``output``, ``memory``, ``protocol``,
``internal``, ``unavailable``. After a ``memory`` reply the worker exits: the host replaces it.

The host module imports this one for :func:`encode` and :data:`HEADER`; everything that needs
RestrictedPython is imported inside :func:`main`, so importing this module is cheap.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # keep this folder (skills/) off sys.path: it could shadow stdlib
    _here = __file__.rpartition("/")[0] or "."
    sys.path[:] = [p for p in sys.path if p not in (_here, "")]

import contextlib
import json
import math
import operator
import os
import struct
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

HEADER = struct.Struct(">I")
"""The length prefix of every message, in both directions."""

SKILL_FILENAME = "<skill>"
EXIT_MEMORY = 3
"""The worker's exit status after it reported a ``MemoryError``."""

_CODE_CACHE_SIZE = 64
_MESSAGE_CHARS = 2000

# Builtins a skill may not use; each name is bound to a stub that refuses it when called.
REFUSED_BUILTINS = (
    "open",
    "eval",
    "exec",
    "compile",
    "getattr",
    "setattr",
    "delattr",
    "hasattr",
    "type",
    "vars",
    "dir",
    "globals",
    "locals",
    "input",
    "breakpoint",
    "memoryview",
    "object",
    "super",
    "classmethod",
    "staticmethod",
    "property",
    "format",
    "id",
    "help",
    "exit",
    "quit",
)

# Plain-data builtins added to RestrictedPython's safe_builtins. RestrictedPython leaves out
# the ones that iterate in C (sorted, zip, tuple, ...) because they bypass ``_getiter_``, the
# hook Zope uses to guard the items of protected containers; skills see only JSON data, whose
# items need no guard, so iterating in C loses nothing here.
_DATA_BUILTINS = (
    "all",
    "any",
    "dict",
    "enumerate",
    "filter",
    "iter",
    "list",
    "map",
    "max",
    "min",
    "next",
    "reversed",
    "sorted",
    "sum",
    "tuple",
    "zip",
)


class Refused(Exception):
    """A guard refused an operation; recorded even when the skill catches it."""


def encode(obj: Any) -> bytes:
    """One protocol message: the length prefix and the compact JSON of ``obj``."""
    data = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return HEADER.pack(len(data)) + data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _short(text: str) -> str:
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "..."


class Guards:
    """The guard functions RestrictedPython's compiled code calls, and a record of refusals.

    Args:
        max_pow_bits: the largest result, in bits, that ``**``, ``**=`` and ``pow`` may build.
        inspect_attributes: RestrictedPython's names of frame, code and traceback attributes.
    """

    def __init__(self, max_pow_bits: int, inspect_attributes: frozenset[str]) -> None:
        self.max_pow_bits = max_pow_bits
        self.inspect_attributes = inspect_attributes
        self.refusals: list[str] = []

    def refuse(self, message: str) -> Refused:
        """Record a refusal and return the exception to raise."""
        self.refusals.append(message)
        return Refused(message)

    def getattr(self, obj: Any, name: Any) -> Any:
        """``obj.name`` for names that cannot reach the interpreter's internals."""
        if type(name) is not str:
            raise self.refuse("attribute names must be str")
        if name.startswith("_"):
            raise self.refuse(f"attribute {name!r} is refused: it starts with '_'")
        if name in self.inspect_attributes:
            raise self.refuse(f"attribute {name!r} is refused: it reaches frames or code")
        is_str = isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
        if is_str and name in ("format", "format_map"):
            raise self.refuse(
                f"str.{name} is refused: format strings reach attributes ('{{0.__class__}}')"
            )
        if name == "mro" and isinstance(obj, type):
            raise self.refuse("attribute 'mro' is refused: it walks the class hierarchy")
        return getattr(obj, name)

    def pow(self, base: Any, exp: Any, mod: Any = None) -> Any:
        """``pow`` that refuses integer results (or moduli) over ``max_pow_bits`` bits."""
        if isinstance(base, int) and isinstance(exp, int):
            limit = self.max_pow_bits
            big = mod is None and abs(base) > 1 and exp > 0  # bits = exp * log2|base|
            if big and (exp > limit or exp * math.log2(abs(base)) > limit):
                raise self.refuse(
                    f"power refused: a {base.bit_length()}-bit base to an exponent of "
                    f"{exp.bit_length()} bits would need more than {limit} bits"
                )
            if isinstance(mod, int) and max(mod.bit_length(), exp.bit_length()) > limit:
                raise self.refuse(f"pow refused: exponent or modulus over {limit} bits")
        return pow(base, exp) if mod is None else pow(base, exp, mod)

    def inplacevar(self, op: str, x: Any, y: Any) -> Any:
        """``x op= y`` (RestrictedPython rewrites augmented assignment into this call)."""
        if op == "**=":
            return self.pow(x, y)
        fn = _INPLACE.get(op)
        if fn is None:
            raise self.refuse(f"augmented assignment {op!r} is refused")
        return fn(x, y)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def build_policy(base: type) -> type:
    """RestrictedPython's node transformer, stricter: no imports, no classes, guarded ``**``.

    Args:
        base: ``RestrictedPython.RestrictingNodeTransformer`` (passed in: imported lazily).
    """
    import ast

    class SkillPolicy(base):  # type: ignore[misc, valid-type]
        def visit_Import(self, node: ast.Import) -> ast.AST:
            names = ", ".join(a.name for a in node.names)
            self.error(node, f"import statements are not allowed (import {names})")
            return node

        def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
            self.error(node, f"import statements are not allowed (from {node.module} import)")
            return node

        def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
            self.error(node, f"class definitions are not allowed (class {node.name})")
            return node

        def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
            node = self.node_contents_visit(node)
            if not isinstance(node.op, ast.Pow):
                return node
            func = ast.copy_location(ast.Name("_pow_", ast.Load()), node)
            call = ast.Call(func=func, args=[node.left, node.right], keywords=[])
            return ast.copy_location(call, node)

    return SkillPolicy


def build_environment(max_pow_bits: int) -> tuple[Guards, dict[str, Any], Callable[..., Any]]:
    """The guards, the restricted builtins and the compile function (imports RestrictedPython).

    Returns:
        ``(guards, globals_template, compile_source)``: a fresh copy of ``globals_template`` is
        the module namespace of each call; ``compile_source(source)`` returns RestrictedPython's
        ``CompileResult``.
    """
    from RestrictedPython import (
        RestrictingNodeTransformer,
        compile_restricted_exec,
        safe_builtins,
        utility_builtins,
    )
    from RestrictedPython.Guards import (
        full_write_guard,
        guarded_iter_unpack_sequence,
        guarded_unpack_sequence,
    )
    from RestrictedPython.PrintCollector import PrintCollector
    from RestrictedPython.transformer import INSPECT_ATTRIBUTES

    guards = Guards(max_pow_bits, frozenset(INSPECT_ATTRIBUTES))
    builtins: dict[str, Any] = {
        k: v for k, v in safe_builtins.items() if not k.startswith("_") and k not in ("id",)
    }
    import builtins as real_builtins

    for name in _DATA_BUILTINS:
        builtins[name] = getattr(real_builtins, name)
    for name in ("math", "set", "frozenset"):  # utility_builtins' string/random are left out
        builtins[name] = utility_builtins[name]
    builtins["pow"] = guards.pow

    def stub(name: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise guards.refuse(f"{name}() is not available in the sandbox")

        return refused

    for name in REFUSED_BUILTINS:
        builtins[name] = stub(name)
    template = {
        "__builtins__": builtins,
        "__name__": "skill",
        "_getattr_": guards.getattr,
        "_getitem_": operator.getitem,
        "_getiter_": iter,
        "_write_": full_write_guard,
        "_inplacevar_": guards.inplacevar,
        "_pow_": guards.pow,
        "_apply_": lambda f, *a, **kw: f(*a, **kw),
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_print_": PrintCollector,  # print() works; what it prints is dropped
    }
    policy = build_policy(RestrictingNodeTransformer)

    def compile_source(source: str) -> Any:
        return compile_restricted_exec(source, filename=SKILL_FILENAME, policy=policy)

    return guards, template, compile_source


def set_limits(limits: dict[str, Any]) -> None:
    """Address space, lifetime CPU, no file writes, no core dumps, no new processes."""
    import resource

    memory = int(limits["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    budget = int(limits["worker_cpu_budget_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (budget, budget))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(ValueError, OSError):  # some systems refuse lowering it
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def arm_cpu_timer(cpu_seconds: float) -> bool:
    """Start this call's CPU timer (``ITIMER_PROF``: SIGPROF kills the worker when it fires).

    ``RLIMIT_CPU`` counts whole seconds over the worker's life, so it bounds the lifetime and
    this timer bounds each call. Returns False when the lifetime budget is nearly spent.
    """
    import resource
    import signal

    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    return hard == resource.RLIM_INFINITY or used + 2 * cpu_seconds + 1 < hard


def disarm_cpu_timer() -> None:
    """Stop the call's CPU timer."""
    import signal

    signal.setitimer(signal.ITIMER_PROF, 0)


class Worker:
    """The request loop: compile (cached), run, encode, with refusals and limits reported."""

    def __init__(self, limits: dict[str, Any]) -> None:
        self.limits = limits
        self.guards, self.template, self.compile_source = build_environment(
            int(limits["max_pow_bits"])
        )
        self.cache: OrderedDict[str, Any] = OrderedDict()

    def _compile(self, source: str) -> tuple[Any, dict[str, Any] | None]:
        code = self.cache.get(source)
        if code is not None:
            self.cache.move_to_end(source)
            return code, None
        try:
            result = self.compile_source(source)
        except (RecursionError, ValueError) as exc:  # too deeply nested; null bytes
            return None, {"ok": False, "kind": "syntax", "message": _short(f"{exc!r}")}
        if result.errors:
            text = "; ".join(result.errors)
            kind = "syntax" if "SyntaxError" in text or "IndentationError" in text else "violation"
            return None, {"ok": False, "kind": kind, "message": _short(text)}
        self.cache[source] = result.code
        if len(self.cache) > _CODE_CACHE_SIZE:
            self.cache.popitem(last=False)
        return result.code, None

    def handle(self, request: dict[str, Any]) -> bytes:
        """One reply, encoded; never raises (except ``MemoryError``, reported by the caller)."""
        op = request.get("op")
        if op not in ("check", "call"):
            return encode({"ok": False, "kind": "protocol", "message": f"unknown op {op!r}"})
        code, error = self._compile(str(request.get("source", "")))
        if error is not None:
            return encode(error)
        if op == "check":
            return encode({"ok": True, "result": None})
        retire = not arm_cpu_timer(float(self.limits["cpu_seconds"]))
        try:
            reply = self._call(code, str(request.get("entry", "plan")), request.get("args", []))
        finally:
            disarm_cpu_timer()
        if not reply["ok"]:
            return encode({**reply, "retire": retire})
        try:
            data = encode({"ok": True, "result": reply["result"], "retire": retire})
        except (TypeError, ValueError, RecursionError) as exc:
            message = f"the skill returned something that is not JSON data: {_short(str(exc))}"
            return encode({"ok": False, "kind": "output", "message": message, "retire": retire})
        limit = int(self.limits["max_output_bytes"])
        if len(data) - HEADER.size > limit:
            message = f"the skill's output is {len(data)} bytes, over the limit of {limit}"
            return encode({"ok": False, "kind": "output", "message": message, "retire": retire})
        return data

    def _call(self, code: Any, entry: str, args: list[Any]) -> dict[str, Any]:
        self.guards.refusals.clear()
        try:
            namespace = dict(self.template)
            exec(code, namespace)
            fn = namespace.get(entry)
            if not callable(fn):
                return {"ok": False, "kind": "skill", "message": f"skill has no function {entry!r}"}
            result = fn(*args)
        except MemoryError:
            raise
        except BaseException as exc:  # SystemExit and KeyboardInterrupt from a skill too
            if self.guards.refusals:
                return self._violation()
            return {"ok": False, "kind": "skill", "message": _describe(exc)}
        if self.guards.refusals:  # the skill caught a refusal and went on
            return self._violation()
        return {"ok": True, "result": result}

    def _violation(self) -> dict[str, Any]:
        first = self.guards.refusals[0]
        more = len(self.guards.refusals) - 1
        message = first + (f" (and {more} more refusals)" if more > 0 else "")
        return {"ok": False, "kind": "violation", "message": _short(message)}


def _describe(exc: BaseException) -> str:
    """``Type: message (skill line N)`` for an exception raised in the skill."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SKILL_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    where = f" (skill line {line})" if line is not None else ""
    try:
        text = str(exc)
    except Exception:  # pragma: no cover - builtin exceptions only
        text = "?"
    return _short(f"{type(exc).__name__}: {text}{where}")


def main(argv: list[str]) -> int:
    """Serve requests on the inherited stdin/stdout until stdin closes."""
    proto_in, proto_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    try:
        limits = json.loads(argv[1])
        worker = Worker(limits)
    except ImportError as exc:
        _write_all(proto_out, encode({"ok": False, "kind": "unavailable", "message": str(exc)}))
        return 2
    set_limits(limits)
    hello = {"ok": True, "ready": True, "pid": os.getpid(), "python": sys.version.split()[0]}
    _write_all(proto_out, encode(hello))
    while True:
        header = _read_exact(proto_in, HEADER.size)
        if header is None:
            return 0
        body = _read_exact(proto_in, HEADER.unpack(header)[0])
        if body is None:
            return 0
        try:
            reply = worker.handle(json.loads(body))
        except MemoryError:
            worker = None  # type: ignore[assignment]  # drop what can be dropped, then report
            message = f"{limits['memory_bytes']} bytes (MemoryError)"
            _write_all(proto_out, encode({"ok": False, "kind": "memory", "message": message}))
            return EXIT_MEMORY
        except ValueError as exc:  # a request that is not JSON
            reply = encode({"ok": False, "kind": "protocol", "message": _short(str(exc))})
        except Exception as exc:  # a bug here or in RestrictedPython: report it, keep serving
            message = f"internal error: {type(exc).__name__}: {_short(str(exc))}"
            reply = encode({"ok": False, "kind": "internal", "message": message})
        _write_all(proto_out, reply)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
