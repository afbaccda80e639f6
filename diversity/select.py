"""Diversity-aware selection: pick `budget` new samples that add the most over the base.

Taken alone, MetaMath's gain of a subset is maximised by the samples farthest from the base, but those
are often near-copies of each other (one odd problem rephrased ten times). Farthest-first traversal (the
greedy k-center algorithm, seeded with the base) instead picks, at every step, the sample farthest from
base ∪ already-picked samples: each pick maximises the gain it adds given everything chosen before it.
One step costs one matrix-vector product over the candidates, so 50K candidates x 5K picks is seconds on a
GPU and tens of seconds on a small CPU.
"""

from __future__ import annotations

import numpy as np

from diversity.gain import mean_or_nan, nearest, nearest_other


def farthest_first(
    candidates: np.ndarray,
    base: np.ndarray,
    budget: int,
    base_distances: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of `budget` candidate rows in pick order, and each pick's squared distance to base ∪ earlier picks.

    Exact, with pruning: pick distances never increase, so a candidate whose distance to the base is below the
    last pick's distance can never have been the farthest. We run on the candidates above a threshold L (a few
    times `budget` of them, and drop any that fall below L on the way); if the last pick is still >= L the
    result is what the full run would give, else we retry with a lower L.
    """
    candidates = np.ascontiguousarray(candidates, dtype=np.float32)
    n = len(candidates)
    budget = max(0, min(int(budget), n))
    if budget == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    if base_distances is None:
        base_distances, _ = nearest(candidates, base)
    base_distances = np.asarray(base_distances, dtype=np.float32)
    by_distance = np.sort(base_distances)[::-1]
    active_size = min(n, 4 * budget + 1024)
    while True:
        threshold = float(by_distance[active_size]) if active_size < n else -np.inf
        active = np.flatnonzero(base_distances > threshold) if active_size < n else np.arange(n)
        picks, pick_distances = _greedy(candidates[active], base_distances[active], budget, threshold)
        if len(picks) == budget and (active_size >= n or pick_distances[-1] > threshold):
            return active[picks], pick_distances
        active_size = min(n, active_size * 4)


def _use_torch_cuda() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return torch.cuda.is_available()


def _greedy(x: np.ndarray, closest0: np.ndarray, budget: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Farthest-first over rows of x; stops early (fewer picks) once every remaining distance is <= floor."""
    if _use_torch_cuda():
        return _greedy_torch(x, closest0, budget, floor)
    return _greedy_blocked(np.ascontiguousarray(x), closest0, budget, floor)


def _greedy_blocked(x: np.ndarray, closest0: np.ndarray, budget: int, floor: float, block: int = 64):
    """Farthest-first on the CPU with matrix-matrix products instead of one matrix-vector product per pick.

    `closest` is exact as of the start of a block of picks. Within the block, a candidate's exact distance is
    min(closest, distance to the block's picks so far); since `closest` bounds it from above, only the top of
    the `closest` order needs the exact value: we take the top m, and if the best exact value among them is at
    least the (m+1)-th bound, it is the true farthest (else m grows). After the block, every candidate is
    updated against its picks in one product.
    """
    closest = closest0.astype(np.float32, copy=True)
    sq_norms = np.einsum("ij,ij->i", x, x)
    origin = np.arange(len(x))  # original row of each live candidate
    picks: list[int] = []
    pick_distances: list[float] = []
    while len(picks) < budget:
        n = len(x)
        order = np.argsort(-closest, kind="stable")
        in_block: list[int] = []  # live rows picked in this block
        taken = np.zeros(n, bool)
        for _ in range(min(block, budget - len(picks))):
            m = 256
            while True:
                top = order[:m]
                exact = closest[top].copy()
                if in_block:
                    to_block = sq_norms[top, None] + sq_norms[None, in_block] - 2.0 * (x[top] @ x[in_block].T)
                    np.minimum(exact, to_block.min(axis=1), out=exact)
                exact[taken[top]] = -np.inf
                j = int(np.argmax(exact))
                if m >= n or exact[j] >= closest[order[m]]:
                    break
                m *= 4
            if not exact[j] > floor:
                return np.asarray(picks, np.int64), np.asarray(pick_distances, np.float32)
            row = int(top[j])
            picks.append(int(origin[row]))
            pick_distances.append(max(float(exact[j]), 0.0))
            taken[row] = True
            in_block.append(row)
        to_block = sq_norms[:, None] + sq_norms[None, in_block] - 2.0 * (x @ x[in_block].T)
        np.minimum(closest, to_block.min(axis=1), out=closest)
        closest[taken] = -np.inf
        live = closest > floor  # picked rows, and rows that can no longer matter, leave
        if live.sum() < 0.9 * n:
            x, closest, sq_norms, origin = np.ascontiguousarray(x[live]), closest[live], sq_norms[live], origin[live]
    return np.asarray(picks, np.int64), np.asarray(pick_distances, np.float32)


def _greedy_plain(x: np.ndarray, closest0: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """The textbook loop (one matrix-vector product per pick); the reference the tests compare with."""
    closest = closest0.astype(np.float32, copy=True)
    sq_norms = np.einsum("ij,ij->i", x, x)
    picks, pick_distances = np.empty(budget, np.int64), np.empty(budget, np.float32)
    for step in range(budget):
        i = int(np.argmax(closest))
        picks[step], pick_distances[step] = i, max(float(closest[i]), 0.0)
        np.minimum(closest, sq_norms + sq_norms[i] - 2.0 * (x @ x[i]), out=closest)
        closest[i] = -np.inf
    return picks, pick_distances


def _greedy_torch(x: np.ndarray, closest0: np.ndarray, budget: int, floor: float):
    import torch

    xs = torch.from_numpy(x).cuda()
    closest = torch.from_numpy(closest0.copy()).cuda()
    sq_norms = (xs * xs).sum(dim=1)
    picks = torch.empty(budget, dtype=torch.int64, device="cuda")
    pick_distances = torch.empty(budget, dtype=torch.float32, device="cuda")
    for step in range(budget):
        i = torch.argmax(closest)
        picks[step], pick_distances[step] = i, closest[i]
        torch.minimum(closest, sq_norms + sq_norms[i] - 2.0 * (xs @ xs[i]), out=closest)
        closest[i] = -torch.inf
    pick_distances = pick_distances.cpu().numpy()
    keep = int(np.sum(pick_distances > floor))  # picks at or below the floor are not trusted (caller retries)
    return picks.cpu().numpy()[:keep], np.maximum(pick_distances[:keep], 0.0)


def random_subset(n: int, budget: int, seed: int = 0) -> np.ndarray:
    """`budget` distinct indices out of range(n), drawn uniformly with a fixed seed."""
    budget = max(0, min(int(budget), n))
    return np.sort(np.random.default_rng(seed).choice(n, size=budget, replace=False)).astype(np.int64)


def subset_gains(candidates: np.ndarray, base_distances: np.ndarray, rows: np.ndarray) -> dict[str, float]:
    """Two figures for a subset: MetaMath's gain over the base, and the gain over base ∪ the rest of the subset.

    The second one drops for a subset of near-duplicates that the first one cannot see.
    """
    rows = np.asarray(rows, dtype=np.int64)
    to_base = np.asarray(base_distances, dtype=np.float32)[rows]
    to_rest = np.minimum(to_base, nearest_other(np.asarray(candidates, np.float32)[rows]))
    return {"gain": mean_or_nan(to_base), "gain_vs_base_and_rest_of_subset": mean_or_nan(to_rest)}
