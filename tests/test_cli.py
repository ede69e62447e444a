"""The command line: list-envs, demo, and the video writer it uses."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from palaestra.cli import main
from palaestra.envs import ENV_IDS
from palaestra.envs.wrappers import write_mp4


def test_list_envs_prints_every_id(capsys):
    main(["list-envs"])
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(ENV_IDS)
    for entry, line in zip(ENV_IDS, out, strict=True):
        assert line.startswith(entry.id) and entry.description in line


def test_module_entry_point_shows_help():
    result = subprocess.run(
        [sys.executable, "-m", "palaestra", "--help"], capture_output=True, text=True, check=True
    )
    assert "list-envs" in result.stdout and "demo" in result.stdout


def test_demo_writes_video_and_metrics(tmp_path, capsys):
    out = tmp_path / "demo"
    main(["demo", "--out-dir", str(out), "--episodes", "2"])
    summary = json.loads((out / "metrics.json").read_text())
    admittance = summary["agents"]["admittance"]
    passive = summary["agents"]["passive"]
    assert [run["seed"] for run in admittance["episodes"]] == [0, 1]
    assert admittance["mean"]["success"] == 1.0 and passive["mean"]["success"] == 0.0
    reduction = 1 - admittance["mean"]["partner_effort"] / passive["mean"]["partner_effort"]
    assert summary["partner_effort_reduction_vs_passive"] == pytest.approx(reduction)
    assert reduction > 0.3
    video = cv2.VideoCapture(str(out / "carry.mp4"))
    ok, frame = video.read()
    frames = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    video.release()
    assert ok and frame.shape == (240, 320, 3)
    steps = admittance["episodes"][0]["episode_time_s"] / 0.02
    assert frames == pytest.approx(steps / 2, abs=2)  # every other step, at 25 fps
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files
    assert "wrote" in capsys.readouterr().out


def test_demo_without_video(tmp_path):
    main(["demo", "--out-dir", str(tmp_path), "--episodes", "1", "--no-video"])
    assert (tmp_path / "metrics.json").exists()
    assert not (tmp_path / "carry.mp4").exists()


def test_write_mp4_round_trip_and_bad_frames(tmp_path):
    rng = np.random.default_rng(0)
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)]
    frames[2] = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    path = write_mp4(frames, tmp_path / "sub" / "clip.mp4", fps=10)
    video = cv2.VideoCapture(str(path))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    ok, first = video.read()
    ok2, second = video.read()
    video.release()
    assert ok and ok2 and first.mean() < second.mean()
    with pytest.raises(ValueError, match="at least one frame"):
        write_mp4([], tmp_path / "empty.mp4")
    with pytest.raises(ValueError, match="frame 1"):
        write_mp4([frames[0], np.zeros((48, 64), np.uint8)], tmp_path / "bad.mp4")
    with pytest.raises(ValueError, match="frame 1: size"):
        write_mp4([frames[0], np.zeros((40, 64, 3), np.uint8)], tmp_path / "bad.mp4")
    assert not (tmp_path / "bad.mp4").exists() and not (tmp_path / "empty.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]
