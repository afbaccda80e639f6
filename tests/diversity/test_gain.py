"""Diversity gain on vectors small enough to check by hand, and the exact search against brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diversity.gain import diversity_gain, gain_by_type, knn, nearest, nearest_other


def unit(degrees: float) -> list[float]:
    return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees))]


def test_gain_by_hand_on_two_dimensional_vectors():
    base = np.array([[1.0, 0.0], [0.0, 1.0]])
    new = np.array([[1.0, 0.0], [0.6, 0.8]])
    # (1,0) is in the base: 0.  (0.6,0.8): to (1,0) 0.16+0.64=0.8, to (0,1) 0.36+0.04=0.4 -> 0.4.
    dist, idx = nearest(new, base)
    assert dist == pytest.approx([0.0, 0.4], abs=1e-6)
    assert idx.tolist() == [0, 1]
    assert diversity_gain(new, base) == pytest.approx(0.2, abs=1e-6)


def test_gain_is_two_minus_two_cosine_for_normalised_vectors():
    base = np.array([unit(0)])
    new = np.array([unit(60), unit(90), unit(180)])  # cos 0.5, 0, -1 -> 1, 2, 4
    assert nearest(new, base)[0] == pytest.approx([1.0, 2.0, 4.0], abs=1e-6)
    assert diversity_gain(new, base) == pytest.approx(7 / 3, abs=1e-6)


def test_gain_per_type_against_base_and_against_base_plus_other_types():
    base = np.array([[1.0, 0.0]])
    new = np.array([[0.0, 1.0], [0.6, 0.8], [0.6, 0.8]])
    result = gain_by_type(new, ["A", "B", "B"], base)
    # A=(0,1): to base 2; to B (0.6,0.8): 0.36+0.04=0.4.  B: to base 0.16+0.64=0.8; to A 0.4.
    assert result["A"] == pytest.approx({"count": 1, "gain": 2.0, "gain_vs_base_and_other_types": 0.4}, abs=1e-6)
    assert result["B"] == pytest.approx({"count": 2, "gain": 0.8, "gain_vs_base_and_other_types": 0.4}, abs=1e-6)


def test_a_type_alone_measures_against_the_base_only():
    base = np.array([[1.0, 0.0]])
    result = gain_by_type(np.array([[0.0, 1.0], [0.0, 1.0]]), ["A", "A"], base)
    assert result["A"]["gain"] == pytest.approx(2.0)
    assert result["A"]["gain_vs_base_and_other_types"] == pytest.approx(2.0)


def test_empty_new_set_gives_nan_and_empty_base_is_an_error():
    assert math.isnan(diversity_gain(np.zeros((0, 3)), np.eye(3)))
    with pytest.raises(ValueError, match="base set is empty"):
        nearest(np.eye(3), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="dimension mismatch"):
        nearest(np.eye(3), np.eye(4))
    with pytest.raises(ValueError, match="type labels"):
        gain_by_type(np.eye(3), ["A"], np.eye(3))


def test_exact_search_matches_brute_force():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((300, 16)).astype(np.float32)
    new = rng.standard_normal((200, 16)).astype(np.float32)
    brute = ((new[:, None, :] - base[None, :, :]) ** 2).sum(-1)
    dist, idx = nearest(new, base)
    assert idx.tolist() == brute.argmin(1).tolist()
    assert dist == pytest.approx(brute.min(1), rel=1e-4)
    d3, i3 = knn(new, base, 3)
    assert i3.tolist() == np.argsort(brute, axis=1)[:, :3].tolist()


def test_nearest_other_skips_the_row_itself_but_not_its_copies():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    assert nearest_other(x) == pytest.approx([2.0, 0.0, 0.0, 2.0], abs=1e-6)
    assert nearest_other(x[:1]).tolist() == [math.inf]
