"""Farthest-first selection: a hand-checked order, exactness of the pruning, and beating random on a built set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diversity.gain import nearest
from diversity.select import _greedy_blocked, _greedy_plain, farthest_first, random_subset, subset_gains


def unit(degrees: float) -> list[float]:
    return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees))]


def test_farthest_first_order_by_hand():
    base = np.array([unit(0)])
    candidates = np.array([unit(90), unit(180), unit(95), unit(10)])
    picks, distances = farthest_first(candidates, base, 3)
    # 180° is 4 from the base; then 90° (2 from both 0° and 180°) beats 95° (2-2cos85 from 180°);
    # then 10° (2-2cos10 from the base) beats 95° (2-2cos5 from 90°).
    assert picks.tolist() == [1, 0, 3]
    assert distances == pytest.approx([4.0, 2.0, 2 - 2 * math.cos(math.radians(10))], abs=1e-5)


def test_budget_larger_than_the_pool_takes_everything_once():
    picks, _ = farthest_first(np.eye(3), np.array([[1.0, 1.0, 1.0]]), 10)
    assert sorted(picks.tolist()) == [0, 1, 2]
    assert farthest_first(np.eye(3), np.eye(3), 0)[0].tolist() == []


def test_pruned_blocked_selection_equals_the_plain_greedy():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((400, 24)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    candidates = base[rng.integers(0, 400, 6000)] + 0.5 * rng.standard_normal((6000, 24)).astype(np.float32)
    # plus a tight far cluster: one pick lowers 300 top candidates at once inside a block
    candidates[:300] = rng.standard_normal(24) + 0.01 * rng.standard_normal((300, 24))
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    dist, _ = nearest(candidates, base)
    plain_picks, plain_distances = _greedy_plain(candidates, dist, 700)
    for picks, pick_distances in (
        farthest_first(candidates, base, 700, dist),  # pruned and blocked
        _greedy_blocked(candidates, dist, 700, -np.inf, block=7),  # blocked alone, odd block size
    ):
        assert picks.tolist() == plain_picks.tolist()
        assert pick_distances == pytest.approx(plain_distances, abs=1e-5)
    assert np.all(np.diff(plain_distances) <= 1e-6)  # farthest-first distances never increase


def constructed_pool(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Base: 20 directions. Pool: 900 near-copies of base items and 100 points around 10 new directions."""
    dim = 32
    centres = rng.standard_normal((30, dim))
    base = centres[:20] + 0.05 * rng.standard_normal((20, dim))
    copies = centres[rng.integers(0, 20, 900)] + 0.05 * rng.standard_normal((900, dim))
    novel = centres[20 + rng.integers(0, 10, 100)] + 0.05 * rng.standard_normal((100, dim))
    pool = np.concatenate([copies, novel])
    normalise = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    is_novel = np.r_[np.zeros(900, bool), np.ones(100, bool)]
    return normalise(base), normalise(pool), is_novel


def test_selection_beats_a_random_subset_on_a_constructed_pool():
    rng = np.random.default_rng(0)
    base, pool, is_novel = constructed_pool(rng)
    dist, _ = nearest(pool, base)
    picks, _ = farthest_first(pool, base, 20, dist)
    # the first 10 picks cover the 10 new directions, one each, before any near-copy
    assert is_novel[picks[:10]].all()
    chosen, rand = subset_gains(pool, dist, picks), subset_gains(pool, dist, random_subset(len(pool), 20, seed=0))
    assert chosen["gain"] > 3 * rand["gain"]
    assert chosen["gain_vs_base_and_rest_of_subset"] > 3 * rand["gain_vs_base_and_rest_of_subset"]


def test_random_subset_is_seeded_and_distinct():
    a, b = random_subset(100, 30, seed=5), random_subset(100, 30, seed=5)
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == 30
    assert random_subset(5, 10).tolist() == [0, 1, 2, 3, 4]
