"""Write RGB frames to an mp4 file with OpenCV (the headless build)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = ["write_mp4"]


def write_mp4(
    frames: Iterable[np.ndarray], path: str | os.PathLike[str], fps: float = 30.0
) -> Path:
    """Encode uint8 RGB frames of one size as an mp4 (MPEG-4 part 2) file.

    The video is written to a temporary file beside ``path`` and renamed into place, so a
    reader never sees a half-written file.

    Args:
        frames: Arrays of shape (H, W, 3) and dtype uint8, all the same size.
        path: Where to write; parent folders are created.
        fps: Frames per second of the video.

    Returns:
        The path written.

    Raises:
        ValueError: if there are no frames, or a frame has the wrong dtype, shape or size.
        RuntimeError: if OpenCV cannot open an mp4 writer.
    """
    import cv2

    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.mp4")
    writer = None
    size: tuple[int, int] | None = None
    count = 0
    try:
        for i, frame in enumerate(frames):
            frame = np.asarray(frame)
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(
                    f"frame {i}: expected uint8 (H, W, 3), got {frame.dtype} {frame.shape}"
                )
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV could not open an mp4 writer for {tmp}")
            elif (frame.shape[1], frame.shape[0]) != size:
                raise ValueError(f"frame {i}: size {frame.shape[1]}x{frame.shape[0]} != {size}")
            writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
            count += 1
        if count == 0:
            raise ValueError("write_mp4 needs at least one frame")
        writer.release()  # type: ignore[union-attr]
        writer = None
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.release()
        if tmp.exists():
            tmp.unlink()
    return path
