"""The Python tier of skills: RestrictedPython in a persistent worker, with real hostile skills.

Every hostile skill here runs for real in the worker (no mocks): each must be refused or
contained within 1 s (``time.perf_counter``), leave the host's memory where it was, and be
followed by a benign call that works, on a replaced worker where the worker had to go.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import warnings
from typing import Any

import numpy as np
import pytest

from palaestra.skills import sandbox as sandbox_module
from palaestra.skills.sandbox import (
    PythonSandbox,
    SandboxConfig,
    SandboxError,
    SandboxMemoryError,
    SandboxOutputError,
    SandboxSkillError,
    SandboxTimeout,
    SandboxUnavailable,
    SandboxViolation,
    validate_actions,
)

pytestmark = pytest.mark.skipif(
    not PythonSandbox.available(), reason='needs RestrictedPython: pip install -e ".[sandbox]"'
)

ACTIONS = ("move north", "move south", "pick up", "noop")
BENIGN = """
def plan(observation, args):
    steps = []
    for i in range(args["n"]):
        steps.append("move north" if observation[i] > 0 else "move south")
    return steps + ["pick up"]
"""
CONTAINED_S = 1.0


def body(*lines: str) -> str:
    """A skill whose ``plan`` runs the given lines."""
    return "def plan(observation, args):\n" + "".join(f"    {line}\n" for line in lines)


def host_peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.fixture(scope="module")
def box():
    with PythonSandbox() as sandbox:
        sandbox.start()
        yield sandbox


def assert_benign(sandbox: PythonSandbox) -> None:
    obs = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    out = sandbox.run_skill(BENIGN, obs, {"n": 3}, allowed=ACTIONS)
    assert out == ["move north", "move south", "move north", "pick up"]


def contained(
    sandbox: PythonSandbox, source: str, error: Any, within: float = CONTAINED_S
) -> tuple[str, float]:
    """Run a hostile skill; return the error message and the seconds it took."""
    t0 = time.perf_counter()
    with pytest.raises(error) as info:
        sandbox.call(source, [1, 2, 3], {"x": 1})
    elapsed = time.perf_counter() - t0
    assert elapsed < within, f"containment took {elapsed:.3f} s"
    return str(info.value), elapsed


# -- benign skills -----------------------------------------------------------------------------


def test_a_benign_skill_returns_valid_primitive_texts(box):
    assert_benign(box)
    one = body("return 'noop'")
    assert box.run_skill(one, None, allowed=ACTIONS) == ["noop"]
    echo = body("return [observation, args]")
    obs = {"grid": np.arange(4, dtype=np.int64).reshape(2, 2), "hp": np.float64(0.5)}
    expected = [{"grid": [[0, 1], [2, 3]], "hp": 0.5}, {"k": [1, 2]}]
    assert box.call(echo, obs, {"k": (1, 2)}) == expected


def test_a_text_outside_the_allowed_ones_is_named(box):
    with pytest.raises(SandboxOutputError, match=r"'fly' is not a primitive action.*'move north'"):
        box.run_skill(body("return ['noop', 'fly']"), None, allowed=ACTIONS)
    with pytest.raises(SandboxOutputError, match=r"action 0 is 3 \(int\)"):
        box.run_skill(body("return [3]"), None, allowed=ACTIONS)
    with pytest.raises(SandboxOutputError, match="got dict"):
        validate_actions({"a": 1}, ACTIONS)
    with pytest.raises(TypeError, match="not one string"):
        box.run_skill(body("return 'noop'"), None, allowed="noop")
    assert validate_actions("noop", ACTIONS) == ["noop"]


def test_ordinary_arithmetic_passes_the_power_guard(box):
    source = body("return [2 ** 100 % 7, pow(3, 10**9, 7), (-1) ** 10**18, 1 ** 10**18, 4 ** 0.5]")
    assert box.call(source) == [2**100 % 7, pow(3, 10**9, 7), 1, 1, 2.0]
    with pytest.raises(SandboxViolation, match="exponent or modulus over 100000 bits"):
        box.call(body("return pow(3, 5, 2**99999 * 8)"))


def test_same_input_gives_the_same_output_even_across_workers(box):
    source = body(
        "s = set(['pick up', 'move north', 'noop', 'move south'])",
        "return [list(s), sorted(observation), args['seed'] * 3]",
    )
    first = box.call(source, [3, 1, 2], {"seed": 7})
    assert all(box.call(source, [3, 1, 2], {"seed": 7}) == first for _ in range(5))
    with PythonSandbox() as other:  # a fresh worker: string hashing is seeded the same
        assert other.call(source, [3, 1, 2], {"seed": 7}) == first


def test_nothing_carries_over_between_calls(box):
    source = "seen = []\ndef plan(observation, args):\n    seen.append(1)\n    return len(seen)\n"
    assert [box.call(source) for _ in range(3)] == [1, 1, 1]


def test_many_calls_reuse_one_worker(box):
    assert_benign(box)
    pid, restarts = box.pid, box.restarts
    t0 = time.perf_counter()
    for _ in range(300):
        assert_benign(box)
    per_call = (time.perf_counter() - t0) / 300
    assert box.pid == pid and box.restarts == restarts
    assert per_call < 0.02, f"{1000 * per_call:.2f} ms per call"


def test_print_does_not_corrupt_the_protocol(box):
    assert box.call(body("print('hello ' * 1000)", "return 'noop'")) == "noop"


# -- refused at compile or run time; the worker stays -------------------------------------------

REFUSED = {
    "import": ("import os", "import statements are not allowed"),
    "from_import": ("from os import path", "import statements are not allowed"),
    "dunder_import": ("return __import__('os')", '"__import__" is an invalid variable name'),
    "subclasses": ("return ().__class__.__bases__[0].__subclasses__()", '"__subclasses__"'),
    "getattr": ("return getattr(observation, '__class__')", "getattr() is not available"),
    "gi_frame": ("g = (i for i in [1])", "return g.gi_frame.f_back", '"gi_frame" is a restricted'),
    "f_globals": ("g = (i for i in [1])", "return g.gi_frame.f_globals", '"f_globals"'),
    "format": ("return '{0.__class__}'.format(1)", "str.format is refused"),
    "format_map": (
        "return '{x.__init__.__globals__}'.format_map({'x': observation})",
        "str.format_map is refused",
    ),
    "format_unbound": ("return list(map(str.format, ['{0}'], [1]))", "str.format is refused"),
    "open": ("return open('/etc/passwd').read()", "open() is not available"),
    "eval": ("return eval('1 + 1')", "Eval calls are not allowed"),
    "exec": ("exec('x = 1')", "Exec calls are not allowed"),
    "compile": ("return compile('1', 'f', 'eval')", "compile() is not available"),
    "eval_by_name": ("f = eval", "return f('1')", "eval() is not available"),
    "type": ("return type(1).mro()", "type() is not available"),
    "class": ("class A:", "    pass", "class definitions are not allowed"),
    "pow_operator": ("return 10 ** 10 ** 10", "power refused"),
    "pow_builtin": ("return pow(10, 10**9)", "power refused"),
    "pow_inplace": ("x = 7", "x **= 10**9", "return x", "power refused"),
    "caught_refusal": (
        "try:",
        "    '{0}'.format(1)",
        "except Exception:",
        "    pass",
        "return 'noop'",
        "str.format is refused",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_refused_without_losing_the_worker(box, case):
    *lines, expected = REFUSED[case]
    assert_benign(box)
    pid = box.pid
    message, _ = contained(box, body(*lines), SandboxViolation)
    assert expected in message
    assert box.pid == pid
    assert_benign(box)


def test_check_compiles_without_running(box):
    box.check(BENIGN)
    box.check(body("while True:", "    pass"))  # compiles; never runs
    with pytest.raises(SandboxViolation, match="import statements"):
        box.check("import os\n")


# -- contained by the limits; the worker is replaced --------------------------------------------

EITHER = (SandboxMemoryError, SandboxTimeout)
CONTAINED: dict[str, tuple[tuple[str, ...], Any]] = {
    "str_bomb": (("return 'x' * 10**10",), SandboxMemoryError),
    "list_bomb": (("return [0] * 10**10",), SandboxMemoryError),
    # these two hit the memory limit or the wall clock, whichever comes first
    "doubling_list": (("x = [0]", "while True:", "    x = x + x"), EITHER),
    "growing_list": (("x = []", "while True:", "    x.append('y' * 1000)"), EITHER),
    "shift_bomb": (("return 1 << 10**10",), SandboxMemoryError),
    "infinite_loop": (("while True:", "    pass"), SandboxTimeout),
    "c_level_loop": (("return math.factorial(10**8)",), SandboxTimeout),
}


@pytest.mark.parametrize("case", list(CONTAINED), ids=list(CONTAINED))
def test_contained_and_the_worker_replaced(box, case):
    lines, error = CONTAINED[case]
    assert_benign(box)
    pid, restarts, peak = box.pid, box.restarts, host_peak_kib()
    message, _ = contained(box, body(*lines), error)
    assert "replaced" in message
    assert box.pid is None  # replaced lazily, on the next call
    assert_benign(box)
    assert box.pid != pid and box.restarts == restarts + 1
    assert host_peak_kib() - peak < 32 * 1024, "the host's own memory grew"


def test_the_cpu_limit_backs_up_the_wall_clock():
    with PythonSandbox(SandboxConfig(timeout_s=30.0, cpu_seconds=0.25)) as sandbox:
        assert_benign(sandbox)
        pid = sandbox.pid
        # 0.25 s of CPU; the wall-clock bound allows for a shared, busy machine
        loop = body("while True:", "    pass")
        message, elapsed = contained(sandbox, loop, SandboxTimeout, within=5.0)
        assert "CPU limit of 0.25 s" in message and elapsed >= 0.25
        assert_benign(sandbox)
        assert sandbox.pid != pid


def test_a_worker_is_retired_before_its_lifetime_cpu_runs_out():
    config = SandboxConfig(cpu_seconds=0.2, worker_cpu_budget_s=2, timeout_s=2.0)
    burn = body("n = 0", "for i in range(500000):", "    n = n + i", "return n")
    with PythonSandbox(config) as sandbox:
        sandbox.start()
        for _ in range(100):
            assert sandbox.call(burn) == sum(range(500000))
            if sandbox.pid is None:
                break
        assert sandbox.pid is None and sandbox.restarts == 0  # retired after a good reply
        assert_benign(sandbox)
        assert sandbox.restarts == 1


def test_a_worker_killed_from_outside_is_replaced(box):
    assert_benign(box)
    pid = box.pid
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.05)
    assert_benign(box)  # dead between calls: silently replaced
    assert box.pid != pid
    os.kill(box.pid, signal.SIGSTOP)  # stuck from outside: the wall clock still holds
    contained(box, body("return 1"), SandboxTimeout)
    assert box.pid is None  # killed (SIGKILL ends a stopped process too)
    assert_benign(box)


def test_an_interrupted_call_leaves_no_reply_out_of_turn():
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    slow = body("n = 0", "for i in range(2000000):", "    n = n + 1", "return 'late'")
    with PythonSandbox(SandboxConfig(timeout_s=5.0, cpu_seconds=5.0)) as sandbox:
        sandbox.start()
        previous = signal.signal(signal.SIGALRM, interrupt)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.02)
            with pytest.raises(KeyboardInterrupt):
                sandbox.call(slow)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        assert sandbox.pid is None  # its late reply went with it
        assert sandbox.call(body("return 'noop'")) == "noop"


def test_a_forked_child_gets_its_own_worker(box):
    assert_benign(box)
    pid = box.pid
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            ok = box.call(body("return 'noop'")) == "noop" and box.pid not in (None, pid)
            os.write(write_end, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write_end)
    got = os.read(read_end, 1)
    os.close(read_end)
    os.waitpid(child, 0)
    assert got == b"1"
    assert box.pid == pid
    assert_benign(box)


# -- output -------------------------------------------------------------------------------------

OUTPUT = {
    "huge_list": ("return ['move north'] * 100000", "over the limit of 65536"),
    "huge_text": ("return 'x' * 10**7", "over the limit of 65536"),
    "set": ("return {1, 2}", "not JSON data"),
    "function": ("return plan", "not JSON data"),
    "nan": ("return float('nan')", "not JSON data"),
    "cycle": ("x = []", "x.append(x)", "return x", "not JSON data"),
    "huge_int": ("return 10 ** 5000", "not JSON data"),
}


@pytest.mark.parametrize("case", list(OUTPUT), ids=list(OUTPUT))
def test_bad_output_is_refused(box, case):
    *lines, expected = OUTPUT[case]
    assert_benign(box)
    pid, peak = box.pid, host_peak_kib()
    message, _ = contained(box, body(*lines), SandboxOutputError)
    assert expected in message
    assert box.pid == pid and host_peak_kib() - peak < 32 * 1024
    assert_benign(box)


# -- the skill's own failures ----------------------------------------------------------------


def test_skill_errors_name_the_problem(box):
    with pytest.raises(SandboxSkillError, match=r"ZeroDivisionError.*skill line 3"):
        box.call(body("x = 0", "return 1 / x"))
    with pytest.raises(SandboxSkillError, match=r"does not compile.*SyntaxError"):
        box.call("def plan(observation, args) return 1\n")
    with pytest.raises(SandboxSkillError, match="has no function 'plan'"):
        box.call("def act(observation, args):\n    return 1\n")
    assert box.call("def act(observation, args):\n    return 1\n", entry="act") == 1
    with pytest.raises(SandboxSkillError, match="SystemExit"):
        box.call(body("raise SystemExit(0)"))
    with pytest.raises(SandboxSkillError, match="RecursionError"):
        box.call(body("return plan(observation, args)"))
    pid = box.pid
    deep = "def plan(observation, args):\n    return " + "not " * 4000 + "1\n"
    with pytest.raises(SandboxSkillError, match="RecursionError"):
        box.call(deep)
    assert box.pid == pid
    assert_benign(box)


def test_bad_arguments_are_refused_on_the_host(box):
    with pytest.raises(SandboxViolation, match="over the limit of 20000"):
        box.call("#" * 20_001)
    with pytest.raises(ValueError, match="JSON data"):
        box.call(BENIGN, object())
    with pytest.raises(ValueError, match="mapping"):
        box.call(BENIGN, None, [1])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="public identifier"):
        box.call(BENIGN, entry="__init__")
    with pytest.raises(ValueError, match="max_input_bytes"):
        box.call(BENIGN, np.zeros(2 * 10**6))


# -- configuration, lifecycle, availability ------------------------------------------------------


def test_config_is_validated():
    with pytest.raises(ValueError, match="timeout_s must be positive"):
        SandboxConfig(timeout_s=0)
    with pytest.raises(TypeError, match="memory_bytes must be int"):
        SandboxConfig(memory_bytes=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="worker_cpu_budget_s"):
        SandboxConfig(worker_cpu_budget_s=2, cpu_seconds=1.0)
    with pytest.raises(AttributeError):
        SandboxConfig().timeout_s = 1.0  # type: ignore[misc]


def test_close_stops_the_worker():
    sandbox = PythonSandbox()
    with sandbox:
        pid = sandbox.start()
        assert_benign(sandbox)
    assert sandbox.pid is None
    with pytest.raises(OSError):
        os.kill(pid, 0)
    with pytest.raises(SandboxError, match="closed"):
        sandbox.call(BENIGN)
    assert "closed" in repr(sandbox)


def test_missing_restrictedpython_names_the_extra(monkeypatch):
    monkeypatch.setattr(sandbox_module, "_restrictedpython_root", lambda: None)
    assert not PythonSandbox.available()
    with pytest.raises(SandboxUnavailable, match=r'pip install -e "\.\[sandbox\]"') as info:
        PythonSandbox()
    assert isinstance(info.value, ImportError)


def test_the_host_never_imports_restrictedpython():
    code = (
        "import sys\nfrom palaestra.skills.sandbox import PythonSandbox\n"
        "with PythonSandbox() as s:\n    s.call('def plan(o, a):\\n    return 1\\n')\n"
        "print('RestrictedPython' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_input_the_worker_could_not_read_back_is_refused_by_name(box):
    with pytest.raises(ValueError, match="JSON data"):
        box.call("def plan(observation, args):\n    return observation\n", {"v": float("nan")})
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="JSON data"):
        box.call("def plan(observation, args):\n    return 1\n", deep)
    assert box.call("def plan(observation, args):\n    return 2\n") == 2
