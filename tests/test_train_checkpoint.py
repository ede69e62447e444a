"""Checkpoints (palaestra.train.checkpoint): round trips of weights, optimiser and RNG state,
atomic writes, corruption reports naming the bad file, listing, pruning and bad arguments.

Expected values come from the documented contract (DESIGN.md "Training" and the module
docstring): file names ``step_{step:012d}.safetensors`` / ``.state.pt``, the state file written
first, temporary files hidden with a leading ".", and errors that name the offending file.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from palaestra.train.checkpoint import (
    Checkpoint,
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    load_latest_checkpoint,
    prune_checkpoints,
    save_checkpoint,
    write_bytes_atomic,
    write_json_atomic,
)


def _tensors(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "w": torch.randn(3, 4, generator=gen),
        "counts": torch.arange(5, dtype=torch.int64),
        "mask": torch.tensor([True, False, True]),
        "half": torch.randn(2, generator=gen).to(torch.float16),
    }


def _save(directory: Path, step: int) -> Path:
    return save_checkpoint(directory, step, _tensors(step), {"step": step})


def _hidden(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".")]


# --------------------------------------------------------------------------- round trips


def test_round_trip_tensors_dtypes_and_files(tmp_path: Path) -> None:
    tensors = _tensors()
    tensors["strided"] = torch.arange(12.0).reshape(3, 4).t()  # non-contiguous
    tensors["tied"] = tensors["w"]  # shares storage with "w"
    path = save_checkpoint(tmp_path / "ckpt", 1024, tensors, {"iteration": 7})

    assert path == tmp_path / "ckpt" / "step_000000001024.safetensors"
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "step_000000001024.safetensors",
        "step_000000001024.state.pt",
    ]
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt, Checkpoint)
    assert ckpt.step == 1024
    assert ckpt.path == path
    assert ckpt.state == {"iteration": 7}
    assert set(ckpt.tensors) == set(tensors)
    for name, tensor in tensors.items():
        loaded = ckpt.tensors[name]
        assert loaded.dtype == tensor.dtype, name
        assert loaded.device.type == "cpu"
        assert torch.equal(loaded, tensor), name
    assert ckpt.tensors["counts"].dtype == torch.int64
    assert ckpt.tensors["mask"].dtype == torch.bool
    assert ckpt.tensors["w"].dtype == torch.float32


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_round_trip(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2).cuda()
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3, device="cuda")).sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path, 1, model.state_dict(), {"optimizer": opt.state_dict()})
    on_cpu = load_checkpoint(path, map_location=torch.device("cpu"))
    assert all(t.device.type == "cpu" for t in on_cpu.tensors.values())
    on_gpu = load_checkpoint(path, map_location="cuda")
    for name, tensor in model.state_dict().items():
        assert on_gpu.tensors[name].device.type == "cuda"
        assert torch.equal(on_gpu.tensors[name], tensor)
    assert on_gpu.state["optimizer"]["state"][0]["exp_avg"].device.type == "cuda"


def test_saving_leaves_the_caller_tensors_alone(tmp_path: Path) -> None:
    tensors = _tensors()
    before = {k: v.clone() for k, v in tensors.items()}
    save_checkpoint(tmp_path, 0, tensors, {})
    for name, tensor in tensors.items():
        assert torch.equal(tensor, before[name])


def test_adam_state_round_trip_continues_identically(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(16, 4), torch.randn(16, 2)

    def step(m: torch.nn.Module, o: torch.optim.Optimizer) -> None:
        o.zero_grad()
        torch.nn.functional.mse_loss(m(x), y).backward()
        o.step()

    for _ in range(3):
        step(model, opt)
    path = save_checkpoint(
        tmp_path, 3, model.state_dict(), {"optimizer": opt.state_dict(), "updates": 3}
    )
    ckpt = load_checkpoint(path)
    assert ckpt.state["updates"] == 3
    saved_state = opt.state_dict()["state"]
    loaded_state = ckpt.state["optimizer"]["state"]
    assert set(loaded_state) == set(saved_state) == {0, 1}
    for index, entry in saved_state.items():
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(loaded_state[index][key], entry[key])

    model2 = torch.nn.Linear(4, 2)
    model2.load_state_dict(ckpt.tensors)
    opt2 = torch.optim.Adam(model2.parameters(), lr=1e-2)
    opt2.load_state_dict(ckpt.state["optimizer"])
    step(model, opt)
    step(model2, opt2)
    for p, q in zip(model.parameters(), model2.parameters(), strict=True):
        assert torch.equal(p, q)


def test_rng_states_reproduce_the_same_numbers(tmp_path: Path) -> None:
    torch.manual_seed(1)
    random.seed(3)
    generator = np.random.default_rng(4)
    torch.rand(5), random.random(), generator.random(5)  # advance them
    state = {
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
        "generator": generator.bit_generator.state,
    }
    path = save_checkpoint(tmp_path, 10, {"w": torch.zeros(1)}, state)
    expected = (torch.rand(8), [random.random() for _ in range(8)])
    expected_gen = generator.random(8)

    torch.manual_seed(99)
    random.seed(99)
    loaded = load_checkpoint(path).state
    torch.set_rng_state(loaded["torch_rng"])
    random.setstate(loaded["python_rng"])
    generator2 = np.random.default_rng()
    generator2.bit_generator.state = loaded["generator"]

    assert torch.equal(torch.rand(8), expected[0])
    assert [random.random() for _ in range(8)] == expected[1]
    assert np.array_equal(generator2.random(8), expected_gen)


def test_state_the_restricted_loader_would_refuse_is_not_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be loaded without unpickling"):
        save_checkpoint(tmp_path, 1, {"w": torch.zeros(1)}, {"legacy": np.random.get_state()})
    assert list(tmp_path.iterdir()) == []


class _Planted:
    """An object whose unpickling would run code: the restricted loader must refuse it."""

    def __reduce__(self):
        return (Path.touch, (Path(os.environ["PALAESTRA_TEST_MARKER"]),))


def test_loading_never_unpickles_a_planted_object(tmp_path: Path, monkeypatch) -> None:
    marker = tmp_path / "code-ran"
    monkeypatch.setenv("PALAESTRA_TEST_MARKER", str(marker))
    path = save_checkpoint(tmp_path / "ckpt", 3, {"w": torch.zeros(1)}, {"v": 1})
    state_file = path.with_name(path.name.replace(".safetensors", ".state.pt"))
    torch.save({"v": _Planted()}, state_file)  # someone else's file, written in place
    with pytest.raises(CheckpointError, match="does not load"):
        load_checkpoint(path)
    assert not marker.exists()


def test_saving_the_same_step_again_overwrites(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, 5, {"w": torch.zeros(2)}, {"v": 1})
    path = save_checkpoint(tmp_path, 5, {"w": torch.ones(2)}, {"v": 2})
    ckpt = load_checkpoint(path)
    assert torch.equal(ckpt.tensors["w"], torch.ones(2))
    assert ckpt.state == {"v": 2}
    assert len(list(tmp_path.iterdir())) == 2


# --------------------------------------------------------------------------- atomic writes


def test_write_json_atomic_format(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write_json_atomic(path, {"b": 1, "a": [1, 2]})
    text = path.read_text()
    assert text == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    assert json.loads(text) == {"a": [1, 2], "b": 1}
    assert _hidden(tmp_path) == []


def test_write_json_atomic_rejects_nan_without_touching_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(ValueError):
        write_json_atomic(path, {"a": float("nan")})
    assert json.loads(path.read_text()) == {"a": 1}
    assert _hidden(tmp_path) == []


def test_failed_replace_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.bin"
    write_bytes_atomic(path, b"old contents")
    seen: list[tuple[Path, bytes]] = []

    def broken_replace(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        seen.append((Path(src), Path(src).read_bytes()))
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_bytes_atomic(path, b"new contents")
    # The new bytes were complete in a hidden temp file in the same folder...
    [(tmp, data)] = seen
    assert tmp.parent == tmp_path
    assert tmp.name.startswith(".")
    assert data == b"new contents"
    # ...which is gone, and the destination still holds the old bytes.
    assert path.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]

    with pytest.raises(OSError, match="disk on fire"):
        write_json_atomic(tmp_path / "new.json", {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_failed_checkpoint_save_keeps_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _save(tmp_path, 1)
    real_replace = os.replace

    def replace_state_only(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        if str(dst).endswith(".safetensors"):
            raise OSError("killed before the weights were renamed")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_state_only)
    with pytest.raises(OSError, match="killed"):
        _save(tmp_path, 2)
    monkeypatch.undo()

    # The state file of step 2 came first; without its weights the checkpoint is incomplete.
    assert (tmp_path / "step_000000000002.state.pt").exists()
    assert _hidden(tmp_path) == []
    assert list_checkpoints(tmp_path) == [first]
    latest = load_latest_checkpoint(tmp_path)
    assert latest is not None
    assert latest.step == 1


# --------------------------------------------------------------------------- corruption


def test_truncated_safetensors_names_the_file(tmp_path: Path) -> None:
    path = _save(tmp_path, 64)
    data = path.read_bytes()
    for cut in (len(data) - 3, 40, 4, 0):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        assert "step_000000000064.safetensors" in str(info.value)
        assert info.value.path == path


def test_garbage_state_file_names_the_file(tmp_path: Path) -> None:
    path = _save(tmp_path, 64)
    state_path = tmp_path / "step_000000000064.state.pt"
    for garbage in (b"not a torch file at all", state_path.read_bytes()[:50], b""):
        state_path.write_bytes(garbage)
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        assert "step_000000000064.state.pt" in str(info.value)
        assert info.value.path == state_path


def test_missing_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"step_000000000007\.safetensors"):
        load_checkpoint(tmp_path / "step_000000000007.safetensors")
    path = _save(tmp_path, 7)
    (tmp_path / "step_000000000007.state.pt").unlink()
    with pytest.raises(CheckpointError, match=r"step_000000000007\.state\.pt"):
        load_checkpoint(path)


def test_foreign_and_mismatched_safetensors_are_rejected(tmp_path: Path) -> None:
    foreign = tmp_path / "step_000000000003.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))  # no palaestra metadata
    torch.save({}, tmp_path / "step_000000000003.state.pt")
    with pytest.raises(CheckpointError, match="format") as info:
        load_checkpoint(foreign)
    assert str(foreign) in str(info.value)

    saved = _save(tmp_path, 4)
    renamed = tmp_path / "step_000000000005.safetensors"
    saved.rename(renamed)
    (tmp_path / "step_000000000004.state.pt").rename(tmp_path / "step_000000000005.state.pt")
    with pytest.raises(CheckpointError, match="step") as info:
        load_checkpoint(renamed)
    assert str(renamed) in str(info.value)

    with pytest.raises(CheckpointError, match=r"weights\.safetensors"):
        load_checkpoint(tmp_path / "weights.safetensors")


def test_corrupt_latest_names_it_and_the_intact_previous(tmp_path: Path) -> None:
    older = _save(tmp_path, 512)
    previous = _save(tmp_path, 1024)
    latest = _save(tmp_path, 2048)
    latest.write_bytes(latest.read_bytes()[:-10])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    with pytest.raises(CheckpointError) as info:
        load_latest_checkpoint(tmp_path)
    message = str(info.value)
    assert "step_000000002048.safetensors" in message
    assert "corrupt" in message
    assert "step_000000001024.safetensors is intact" in message
    assert "step_000000000512" not in message
    # Nothing was deleted or modified, and the previous one loads.
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert load_checkpoint(previous).step == 1024
    assert load_checkpoint(older).step == 512


def test_corrupt_latest_skips_corrupt_earlier_ones(tmp_path: Path) -> None:
    first = _save(tmp_path, 1)
    _save(tmp_path, 2)
    _save(tmp_path, 3)
    (tmp_path / "step_000000000003.state.pt").write_bytes(b"garbage")
    (tmp_path / "step_000000000002.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError) as info:
        load_latest_checkpoint(tmp_path)
    message = str(info.value)
    assert "step_000000000003.state.pt" in message
    assert "step_000000000002.safetensors" in message
    assert f"{first.name} is intact" in message

    first.write_bytes(b"")
    with pytest.raises(CheckpointError, match="no earlier checkpoint is intact"):
        load_latest_checkpoint(tmp_path)


def test_load_latest(tmp_path: Path) -> None:
    assert load_latest_checkpoint(tmp_path) is None
    assert load_latest_checkpoint(tmp_path / "missing") is None
    _save(tmp_path, 999)
    _save(tmp_path, 1000)
    latest = load_latest_checkpoint(tmp_path)
    assert latest is not None
    assert latest.step == 1000
    assert torch.equal(latest.tensors["w"], _tensors(1000)["w"])


# --------------------------------------------------------------------------- listing, pruning


def test_list_checkpoints_sorts_by_step_and_ignores_other_files(tmp_path: Path) -> None:
    for step in (1000, 999, 5, 1_000_000_000_000):
        _save(tmp_path, step)
    (tmp_path / ".step_000000002000.safetensors.abc123.tmp").write_bytes(b"partial")
    (tmp_path / "step_000000003000.state.pt").write_bytes(b"orphan state")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "model.safetensors").write_bytes(b"x")
    (tmp_path / "step_12.safetensors").write_bytes(b"x")
    (tmp_path / "step_000000004000.safetensors").mkdir()
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "step_000000000005.safetensors",
        "step_000000000999.safetensors",
        "step_000000001000.safetensors",
        "step_1000000000000.safetensors",
    ]
    assert load_checkpoint(list_checkpoints(tmp_path)[-1]).step == 1_000_000_000_000
    assert list_checkpoints(tmp_path / "missing") == []


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    for step in (1, 999, 1000, 20):
        _save(tmp_path, step)
    (tmp_path / "notes.txt").write_text("keep me")
    deleted = prune_checkpoints(tmp_path, keep=2)
    assert [p.name for p in deleted] == [
        "step_000000000001.safetensors",
        "step_000000000020.safetensors",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt",
        "step_000000000999.safetensors",
        "step_000000000999.state.pt",
        "step_000000001000.safetensors",
        "step_000000001000.state.pt",
    ]
    assert prune_checkpoints(tmp_path, keep=5) == []
    prune_checkpoints(tmp_path, keep=1)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_000000001000.safetensors"]
    assert load_checkpoint(list_checkpoints(tmp_path)[0]).step == 1000


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("step", "tensors", "state", "match"),
    [
        (-1, {"w": torch.zeros(1)}, {}, "step"),
        (1.5, {"w": torch.zeros(1)}, {}, "step"),
        (True, {"w": torch.zeros(1)}, {}, "step"),
        (1, {"w": np.zeros(1)}, {}, "'w'"),
        (1, {"w": [1.0, 2.0]}, {}, "'w'"),
        (1, {3: torch.zeros(1)}, {}, "names"),
        (1, {"w": torch.zeros(3).to_sparse()}, {}, "dense"),
        (1, [torch.zeros(1)], {}, "mapping"),
        (1, {"w": torch.zeros(1)}, None, "state"),
    ],
)
def test_save_rejects_bad_arguments(
    tmp_path: Path, step: object, tensors: object, state: object, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        save_checkpoint(tmp_path / "ckpt", step, tensors, state)  # type: ignore[arg-type]
    assert not (tmp_path / "ckpt").exists() or list((tmp_path / "ckpt").iterdir()) == []


@pytest.mark.parametrize("keep", [0, -1, 1.5, None])
def test_prune_rejects_bad_keep(tmp_path: Path, keep: object) -> None:
    _save(tmp_path, 1)
    with pytest.raises(ValueError, match="keep"):
        prune_checkpoints(tmp_path, keep)  # type: ignore[arg-type]
    assert len(list_checkpoints(tmp_path)) == 1


def test_importing_the_module_is_cheap() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import palaestra.train.checkpoint, palaestra.train.runlog; "
        "heavy = [m for m in ('safetensors', 'matplotlib', 'torch.utils.tensorboard') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
