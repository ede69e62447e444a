"""Run logging (palaestra.train.runlog): JSONL metrics, TensorBoard tags in the CleanRL/SB3
naming, resuming without duplicated or torn rows, and the PNG plot.

Expected values come from the documented contract: one JSON object per log call with
"global_step", non-finite numbers as null, the tag table (charts/..., losses/..., env/...,
curriculum/ and eval/ kept), and plot_run's PNG at run_dir/training.png.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from palaestra.train.runlog import TB_NAMES, RunLogger, plot_run, read_metrics, tb_tag

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _lines(run_dir: Path) -> list[dict]:
    text = (run_dir / "metrics.jsonl").read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    return {
        tag: [(event.step, event.value) for event in acc.Scalars(tag)]
        for tag in acc.Tags()["scalars"]
    }


def test_tag_table() -> None:
    assert TB_NAMES["episodic_return"] == "charts/episodic_return"
    assert TB_NAMES["sps"] == "charts/SPS"
    assert TB_NAMES["explained_variance"] == "losses/explained_variance"
    assert tb_tag("episodic_length") == "charts/episodic_length"
    assert tb_tag("clipfrac") == "losses/clipfrac"
    assert tb_tag("success") == "env/success"
    assert tb_tag("partner_effort") == "env/partner_effort"
    assert tb_tag("curriculum/difficulty") == "curriculum/difficulty"
    assert tb_tag("eval/success") == "eval/success"


def test_one_json_line_per_log_with_nulls(tmp_path: Path) -> None:
    with RunLogger(tmp_path, tensorboard=False) as log:
        log.log(0, {"episodic_return": 1.5, "success": True})
        log.log(128, {"value_loss": float("nan"), "sps": float("inf"), "x": None})
        log.log(256, {"np": np.float32(0.5), "count": np.int64(3)})
        # Each line is on disk before close.
        assert len(_lines(tmp_path)) == 3
    rows = _lines(tmp_path)
    assert rows == [
        {"global_step": 0, "episodic_return": 1.5, "success": True},
        {"global_step": 128, "value_loss": None, "sps": None, "x": None},
        {"global_step": 256, "np": 0.5, "count": 3},
    ]
    assert read_metrics(tmp_path) == rows
    assert "NaN" not in (tmp_path / "metrics.jsonl").read_text()
    assert not (tmp_path / "tb").exists()


def test_tensorboard_scalars_use_mapped_tags(tmp_path: Path) -> None:
    log = RunLogger(tmp_path)
    assert not (tmp_path / "tb").exists()  # created lazily
    log.log(
        100,
        {
            "episodic_return": 2.0,
            "sps": 3000,
            "value_loss": 0.25,
            "success": 1.0,
            "curriculum/difficulty": 0.5,
            "eval/episodic_return": 7.0,
            "entropy": float("nan"),
            "approx_kl": None,
        },
    )
    log.log(200, {"episodic_return": 4.0, "success": 0.0})
    log.close()
    log.close()  # idempotent

    scalars = _scalars(tmp_path)
    assert set(scalars) == {
        "charts/episodic_return",
        "charts/SPS",
        "losses/value_loss",
        "env/success",
        "curriculum/difficulty",
        "eval/episodic_return",
    }
    assert scalars["charts/episodic_return"] == [(100, 2.0), (200, 4.0)]
    assert scalars["charts/SPS"] == [(100, 3000.0)]
    assert scalars["env/success"] == [(100, 1.0), (200, 0.0)]
    assert scalars["losses/value_loss"] == [(100, 0.25)]


def test_bad_input(tmp_path: Path) -> None:
    with RunLogger(tmp_path, tensorboard=False) as log:
        with pytest.raises(ValueError, match="step"):
            log.log(-1, {"a": 1.0})
        with pytest.raises(ValueError, match="step"):
            log.log(1.5, {"a": 1.0})  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="'name'"):
            log.log(1, {"name": "carry"})  # type: ignore[dict-item]
        with pytest.raises(ValueError, match="global_step"):
            log.log(1, {"global_step": 1})
    with pytest.raises(ValueError, match="closed"):
        log.log(2, {"a": 1.0})
    assert not (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(ValueError, match="resume_step"):
        RunLogger(tmp_path, resume_step=-1)


def test_resume_drops_later_and_torn_lines(tmp_path: Path) -> None:
    with RunLogger(tmp_path, tensorboard=False) as log:
        for step in (100, 200, 300, 400):
            log.log(step, {"episodic_return": float(step)})
    path = tmp_path / "metrics.jsonl"
    with path.open("a") as file:
        file.write('{"global_step": 500, "episodic_ret')  # killed mid-write
    assert [r["global_step"] for r in read_metrics(tmp_path)] == [100, 200, 300, 400]

    with RunLogger(tmp_path, tensorboard=False, resume_step=200) as log:
        assert [r["global_step"] for r in _lines(tmp_path)] == [100, 200]
        log.log(300, {"episodic_return": -1.0})
    rows = _lines(tmp_path)
    assert [r["global_step"] for r in rows] == [100, 200, 300]
    assert rows[-1]["episodic_return"] == -1.0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_reopening_without_resume_appends_after_a_torn_line(tmp_path: Path) -> None:
    with RunLogger(tmp_path, tensorboard=False) as log:
        log.log(1, {"a": 1.0})
    with (tmp_path / "metrics.jsonl").open("a") as file:
        file.write('{"global_st')
    with RunLogger(tmp_path, tensorboard=False) as log:
        log.log(2, {"a": 2.0})
    assert [r["global_step"] for r in _lines(tmp_path)] == [1, 2]


def test_resume_purges_tensorboard_points(tmp_path: Path) -> None:
    with RunLogger(tmp_path) as log:
        for step in (1, 2, 3):
            log.log(step, {"episodic_return": float(step)})
    with RunLogger(tmp_path, resume_step=1) as log:
        log.log(2, {"episodic_return": 20.0})
    assert _scalars(tmp_path)["charts/episodic_return"] == [(1, 1.0), (2, 20.0)]


def test_read_metrics(tmp_path: Path) -> None:
    assert read_metrics(tmp_path) == []
    (tmp_path / "metrics.jsonl").write_text('{"global_step": 1, "a": null}\n{"global_step": 2}')
    assert read_metrics(tmp_path) == [{"global_step": 1, "a": None}, {"global_step": 2}]
    (tmp_path / "metrics.jsonl").write_text('{"global_step": 1}\n{oops\n{"global_step": 3}\n')
    with pytest.raises(ValueError, match=r"metrics\.jsonl:2"):
        read_metrics(tmp_path)


def _check_png(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = mpimg.imread(path)
    height, width = pixels.shape[:2]
    assert height >= 200
    assert width >= 400
    assert float(np.std(pixels[..., :3])) > 0.01  # something was drawn
    return height, width


def _log_run(run_dir: Path, *, success: bool) -> None:
    rng = np.random.default_rng(0)
    with RunLogger(run_dir, tensorboard=False) as log:
        for i in range(60):
            metrics = {"episodic_return": float(i + rng.normal()), "episodic_length": 100}
            if success:
                metrics["success"] = float(rng.random() < i / 60)
            log.log(i * 64, metrics)
            log.log(i * 64 + 1, {"value_loss": 0.1, "episodic_return": None})


def test_plot_run_with_success(tmp_path: Path) -> None:
    run_dir = tmp_path / "carry-adcl-seed0"
    _log_run(run_dir, success=True)
    path = plot_run(run_dir)
    assert path == run_dir / "training.png"
    two_panels = _check_png(path)

    other = tmp_path / "plain"
    _log_run(other, success=False)
    out = plot_run(other, tmp_path / "plots" / "plain.png")
    assert out == tmp_path / "plots" / "plain.png"
    one_panel = _check_png(out)
    assert two_panels[0] > one_panel[0]  # the success panel adds height
    assert not (other / "training.png").exists()


def test_plot_run_without_returns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert plot_run(tmp_path) is None
    with RunLogger(tmp_path, tensorboard=False) as log:
        log.log(1, {"value_loss": 0.5, "episodic_return": math.nan})
    with caplog.at_level("INFO", logger="palaestra.train.runlog"):
        assert plot_run(tmp_path) is None
    assert "episodic_return" in caplog.text
    assert not (tmp_path / "training.png").exists()
