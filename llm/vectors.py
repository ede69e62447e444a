"""Float32 vectors in SQLite BLOBs and cosine top-k in numpy, for the stores that index by meaning.

Glossary:
    blob: a vector's float32 values as raw bytes in the machine's byte order (``tobytes``),
        the form the memory store and the skill library keep in SQLite.
    cosine similarity: ``a . b / (|a| |b|)``; 0 for a zero vector (never NaN).

This module imports nothing of palaestra and only numpy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = [
    "cosine_scores",
    "embedder_identity",
    "from_blobs",
    "normalize_rows",
    "to_blob",
    "top_k",
]


def to_blob(vector: np.ndarray) -> bytes:
    """A 1-D vector as float32 bytes (a copy in float32 when it is another dtype)."""
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def from_blobs(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Rows ``(len(blobs), dim)`` float32 from blobs of ``dim`` float32 values each.

    Raises:
        ValueError: a blob of another length.
    """
    width = 4 * dim
    for i, blob in enumerate(blobs):
        if len(blob) != width:
            raise ValueError(f"vector {i} has {len(blob)} bytes; expected {width} ({dim} float32)")
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """A float32 copy of ``matrix`` with rows of unit L2 norm (zero rows stay zero)."""
    out = np.array(matrix, dtype=np.float32, copy=True)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def cosine_scores(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of ``matrix`` with ``query`` (float64, 0 where undefined)."""
    q = np.asarray(query, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(q)
    return np.divide(
        matrix @ q, norms, out=np.zeros(len(matrix), dtype=np.float64), where=norms > 0
    )


def top_k(scores: np.ndarray, k: int, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first; equal scores: highest ``tiebreak`` first.

    Args:
        scores: One score per item.
        k: How many (fewer when there are fewer items).
        tiebreak: One number per item ordering equal scores (e.g. ids, newest first), or
            ``None`` for the lower index first.
    """
    n = len(scores)
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    if tiebreak is None:
        tiebreak = -np.arange(n)
    if k < n:
        # Keep every item tied with the k-th score so the tie-break sees all of them.
        kth = np.partition(scores, n - k)[n - k]
        pool = np.flatnonzero(scores >= kth)
    else:
        pool = np.arange(n)
    order = np.lexsort((-np.asarray(tiebreak)[pool], -scores[pool]))
    return pool[order[:k]]


def embedder_identity(embedder: object) -> str:
    """What identifies an embedder's vectors, stored beside them so none is compared across.

    The embedder's own ``identity`` attribute when it has one; for a dataclass embedder (such
    as :class:`~palaestra.llm.embedders.HashingEmbedder`) its ``repr``, which names every
    setting, the seed included; otherwise ``ClassName/dim``.
    """
    identity = getattr(embedder, "identity", None)
    if isinstance(identity, str) and identity:
        return identity
    if dataclasses.is_dataclass(embedder):
        return repr(embedder)
    return f"{type(embedder).__name__}/{getattr(embedder, 'dim', '?')}"
