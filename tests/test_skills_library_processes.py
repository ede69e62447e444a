"""The skill library under real processes: four concurrent writers, and ``kill -9`` mid-write.

Writers are separate Python interpreters (``subprocess`` running ``python -c``), each with its
own :class:`~palaestra.skills.library.SkillLibrary` on one shared file.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from palaestra.skills.library import SkillLibrary

SKILLS = textwrap.dedent(
    """
    from palaestra.skills import compile_skill

    def skills():
        return [
            compile_skill(
                f"skill step_{d}()\\ndescription: take one step {d}\\ndo move {d}\\n", "craft"
            )
            for d in ("north", "east", "south", "west")
        ]
    """
)

WRITER = SKILLS + textwrap.dedent(
    """
    import sys
    from palaestra.skills.library import SkillLibrary

    name, count, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with SkillLibrary(path) as lib:
        ids = [lib.propose(s, source="mined").id for s in skills()]  # all writers race here
        for i in range(count):
            skill = ids[i % len(ids)]
            verified = (i % 3 != 0) if i % 2 == 0 else None
            run = lib.record_run(skill, "done", verified=verified, agent=name, episode=i,
                                 steps=i % 7, reward=1.0)
            print(run.id, skill, int(run.success), flush=True)
    """
)


def _writer(name: str, count: int, path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, name, str(count), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_processes_recording_500_runs_each_lose_none(tmp_path):
    path = tmp_path / "shared" / "skills.sqlite"  # the folder does not exist yet
    start = time.perf_counter()
    procs = [_writer(f"agent_{w}", 500, path) for w in range(4)]
    outputs = [p.communicate(timeout=180) for p in procs]
    elapsed = time.perf_counter() - start
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    reported = [tuple(map(int, line.split())) for out, _ in outputs for line in out.splitlines()]
    assert len(reported) == 2000 and len({run for run, _, _ in reported}) == 2000
    with SkillLibrary(path) as lib:
        stats = lib.stats()
        assert stats["skills"] == 4  # the racing proposals made one version each
        assert stats["runs"] == stats["runs_logged"] == 2000
        for record in lib.skills():
            mine = [r for r in reported if r[1] == record.id]
            assert record.stats.runs == len(mine) == 500
            assert record.stats.successes == sum(s for _, _, s in mine)
            logged = lib.runs(record.id)
            assert len(logged) == 500 and {r.id for r in logged} == {r[0] for r in mine}
            # Writer w's i-th run: verified on even i (false when i % 3 == 0), else unverified.
            per_writer = [i for i in range(500) if i % 4 == (record.id - 1)]
            succ = 4 * sum(1 for i in per_writer if i % 2 == 0 and i % 3 != 0)
            fail = 4 * sum(1 for i in per_writer if i % 2 == 0 and i % 3 == 0)
            assert (record.stats.successes, record.stats.failures) == (succ, fail)
            assert record.stats.unverified == 500 - succ - fail
            assert record.stats.steps == 4 * sum(i % 7 for i in per_writer)
            assert record.stats.reward == 500.0
            # Skills run only at odd i were never verified: unverified successes never promote.
            assert record.status == ("active" if succ else "candidate")
        for w in range(4):
            assert sum(1 for r in lib.runs() if r.agent == f"agent_{w}") == 500
    assert elapsed < 120, f"4 x 500 runs took {elapsed:.1f} s"


def test_kill_9_mid_stream_keeps_every_reported_run(tmp_path):
    path = tmp_path / "killed.sqlite"
    SkillLibrary(path).close()
    proc = _writer("victim", 1_000_000, path)
    reported: list[tuple[int, int, int]] = []
    while len(reported) < 150:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        reported.append(tuple(map(int, line.split())))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    reported += [tuple(map(int, line.split())) for line in proc.stdout.read().splitlines()]
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    conn = sqlite3.connect(path)  # recovers from the WAL as it opens
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    with SkillLibrary(path) as lib:
        logged = {r.id: r for r in lib.runs()}
        for run_id, skill, success in reported:
            assert logged[run_id].skill_id == skill and logged[run_id].success == bool(success)
        assert len(logged) >= len(reported)
        # No half-recorded run: each skill's counters equal its rows in the run log.
        for record in lib.skills():
            rows = [r for r in logged.values() if r.skill_id == record.id]
            assert record.stats.runs == len(rows)
            assert record.stats.successes == sum(r.success for r in rows)
        lib.record_run(reported[0][1], "done", verified=True)  # the store is writable again


def test_another_processes_proposals_reach_a_built_index(tmp_path):
    from palaestra.llm.embedders import HashingEmbedder

    path = tmp_path / "seen.sqlite"
    child = SKILLS + textwrap.dedent(
        """
        import sys
        from palaestra.skills.library import SkillLibrary

        with SkillLibrary(sys.argv[1]) as lib:  # no embedder: the reader embeds it
            new = lib.propose(skills()[1]).id
            for _ in range(4):
                lib.record_run(new, "done", verified=True)
            print(new)
        """
    )
    with SkillLibrary(path, embedder=HashingEmbedder()) as lib:
        assert lib.retrieve("take a step east", 3) == []  # the index is built, empty
        out = subprocess.run(
            [sys.executable, "-c", child, str(path)], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        found = lib.retrieve("take a step east", 3)
        assert [r.record.id for r in found] == [int(out.stdout)]
        assert found[0].record.status == "active"
