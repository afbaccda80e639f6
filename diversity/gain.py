"""Diversity gain (MetaMath, Yu et al. 2023, section 4.5), as pure functions over embedding matrices.

    gain(D_new, D_base) = mean over x in D_new of  min over y in D_base of ||f(x) - f(y)||²

with f(x) the L2-normalised sentence embedding of question + "\\n" + response, so every term lies in [0, 4]
(0: a copy of a base item; 2: orthogonal to its nearest base item). The nearest neighbour search is exact:
faiss IndexFlatL2 (on the GPU when faiss was built with one), or a chunked torch matmul on CUDA when only
torch sees a GPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_TORCH_CHUNK = 8192


def _as_matrix(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D matrix of embeddings, got shape {x.shape}")
    return x


def _faiss_gpus() -> int:
    import faiss

    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get is not None else 0


def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return torch.cuda.is_available()


def knn(queries: np.ndarray, base: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest base rows of each query: (squared L2 distances, indices), both (n, k), nearest first."""
    queries, base = _as_matrix(queries), _as_matrix(base)
    if len(base) == 0:
        raise ValueError("the base set is empty: there is nothing to measure distance against")
    if queries.shape[1] != base.shape[1] and len(queries):
        raise ValueError(f"dimension mismatch: queries {queries.shape[1]}, base {base.shape[1]}")
    k = min(k, len(base))
    if len(queries) == 0:
        return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
    import faiss

    if _faiss_gpus() > 0:
        index = faiss.index_cpu_to_all_gpus(faiss.IndexFlatL2(base.shape[1]))
    elif _torch_cuda():
        return _knn_torch(queries, base, k)
    else:
        index = faiss.IndexFlatL2(base.shape[1])
    index.add(base)
    dist, idx = index.search(queries, k)
    return np.maximum(dist, 0.0), idx.astype(np.int64)


def _knn_torch(queries: np.ndarray, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    import torch

    b = torch.from_numpy(base).cuda()
    b_sq = (b * b).sum(dim=1)
    dists, idxs = [], []
    for start in range(0, len(queries), _TORCH_CHUNK):
        q = torch.from_numpy(queries[start : start + _TORCH_CHUNK]).cuda()
        d = (q * q).sum(dim=1, keepdim=True) + b_sq[None, :] - 2.0 * (q @ b.T)
        best, arg = torch.topk(d, k, dim=1, largest=False)
        dists.append(best.clamp_min(0).cpu().numpy())
        idxs.append(arg.cpu().numpy())
    return np.concatenate(dists).astype(np.float32), np.concatenate(idxs).astype(np.int64)


def nearest(queries: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query row: (squared L2 distance to its nearest base row, that row's index). Exact."""
    dist, idx = knn(queries, base, 1)
    return dist[:, 0], idx[:, 0]


def nearest_other(x: np.ndarray) -> np.ndarray:
    """Squared distance from each row of `x` to the nearest *other* row (inf for a single row)."""
    x = _as_matrix(x)
    if len(x) < 2:
        return np.full(len(x), np.inf, np.float32)
    dist, idx = knn(x, x, 2)
    is_self = idx[:, 0] == np.arange(len(x))
    return np.where(is_self, dist[:, 1], dist[:, 0]).astype(np.float32)


def mean_or_nan(values: np.ndarray) -> float:
    return float(np.mean(values, dtype=np.float64)) if len(values) else math.nan


def diversity_gain(new: np.ndarray, base: np.ndarray) -> float:
    """MetaMath's diversity gain of `new` over `base` (NaN when `new` is empty)."""
    dist, _ = nearest(new, base)
    return mean_or_nan(dist)


def gain_by_type(
    new: np.ndarray,
    types: Sequence[str],
    base: np.ndarray,
    base_distances: np.ndarray | None = None,
) -> dict[str, dict[str, float | int]]:
    """Per type: its count, its gain over `base`, and its gain over base ∪ every other type's new samples.

    The second figure says what a type adds that the base and the other augmentations do not already cover.
    `base_distances` (nearest-base distances of `new`, from `nearest`) may be passed to skip that search.
    """
    new = _as_matrix(new)
    labels = np.asarray(list(types), dtype=object)
    if len(labels) != len(new):
        raise ValueError(f"{len(labels)} type labels for {len(new)} embeddings")
    if base_distances is None:
        base_distances, _ = nearest(new, base)
    names = sorted(set(labels.tolist()))
    rows_of = {name: np.flatnonzero(labels == name) for name in names}
    result: dict[str, dict[str, float | int]] = {}
    for name in names:
        rows = rows_of[name]
        closest = base_distances[rows].copy()
        for other in names:
            if other != name:
                d, _ = nearest(new[rows], new[rows_of[other]])
                np.minimum(closest, d, out=closest)
        result[name] = {
            "count": int(len(rows)),
            "gain": mean_or_nan(base_distances[rows]),
            "gain_vs_base_and_other_types": mean_or_nan(closest),
        }
    return result
