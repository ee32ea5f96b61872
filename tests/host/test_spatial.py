"""Pair builders: all_pairs and the grid-based candidate_pairs against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sepmon.core.geo import horizontal_range
from sepmon.core.spatial import all_pairs, candidate_pairs


def _brute(lat: np.ndarray, lon: np.ndarray, radius: float) -> set[tuple[int, int]]:
    ia, ib = all_pairs(lat.size)
    r = horizontal_range(lat[ia], lon[ia], lat[ib], lon[ib])
    return {(int(i), int(j)) for i, j, d in zip(ia, ib, r, strict=True) if d <= radius}


def test_all_pairs() -> None:
    ia, ib = all_pairs(4)
    expected = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert list(zip(ia.tolist(), ib.tolist(), strict=True)) == expected
    assert all_pairs(0)[0].size == 0
    assert all_pairs(1)[0].size == 0
    with pytest.raises(ValueError):
        all_pairs(-1)


@given(st.integers(0, 60))
@settings(max_examples=30, deadline=None)
def test_all_pairs_never_self_and_complete(n: int) -> None:
    ia, ib = all_pairs(n)
    assert np.all(ia < ib)
    assert ia.size == n * (n - 1) // 2
    assert len(set(zip(ia.tolist(), ib.tolist(), strict=True))) == ia.size


def _check(lat: np.ndarray, lon: np.ndarray, radius: float) -> None:
    ia, ib = candidate_pairs(lat, lon, radius)
    got = set(zip(ia.tolist(), ib.tolist(), strict=True))
    assert len(got) == ia.size  # no duplicates
    assert np.all(ia < ib)  # never (i, i), each pair once
    assert ia.dtype == ib.dtype == np.intp
    key = ia.astype(np.int64) * lat.size + ib
    assert np.all(key[1:] > key[:-1])  # sorted by (i, j)
    missing = _brute(lat, lon, radius) - got
    assert not missing


def test_candidates_cluster_with_exact_boundary() -> None:
    # Points ~1 km apart along a meridian; radius exactly the largest spacing.
    lat = 45.0 + np.arange(10) * (1000.0 / 111_132.0)
    lon = np.full(10, 7.0)
    radius = float(horizontal_range(lat[:-1], lon[:-1], lat[1:], lon[1:]).max())
    ia, ib = candidate_pairs(lat, lon, radius)
    pairs = set(zip(ia.tolist(), ib.tolist(), strict=True))
    assert {(k, k + 1) for k in range(9)} <= pairs
    assert (0, 2) not in pairs  # chord ~2 km > 1 km: pruned
    _check(lat, lon, radius)


def test_candidates_antimeridian_and_poles() -> None:
    lat = np.array([0.0, 0.0, 89.999, 89.999, -89.9999, -89.9999, 10.0])
    lon = np.array([179.9999, -179.9999, 0.0, 180.0, 45.0, -135.0, 10.0])
    ia, ib = candidate_pairs(lat, lon, 500.0)
    pairs = set(zip(ia.tolist(), ib.tolist(), strict=True))
    assert {(0, 1), (2, 3), (4, 5)} <= pairs
    assert not any(6 in p for p in pairs)


def test_candidates_empty_and_single() -> None:
    assert candidate_pairs([], [], 100.0)[0].size == 0
    assert candidate_pairs([1.0], [2.0], 100.0)[0].size == 0
    with pytest.raises(ValueError):
        candidate_pairs([1.0, 2.0], [1.0], 10.0)
    with pytest.raises(ValueError):
        candidate_pairs([1.0, 2.0], [1.0, 2.0], -1.0)


def test_candidates_radius_zero_finds_coincident_only() -> None:
    ia, ib = candidate_pairs([5.0, 5.0, 5.001], [5.0, 5.0, 5.0], 0.0)
    assert list(zip(ia.tolist(), ib.tolist(), strict=True)) == [(0, 1)]


def test_candidates_huge_radius_is_all_pairs() -> None:
    rs = np.random.default_rng(3)
    lat = rs.uniform(-90, 90, 40)
    lon = rs.uniform(-180, 180, 40)
    ia, ib = candidate_pairs(lat, lon, 3e7)
    ea, eb = all_pairs(40)
    np.testing.assert_array_equal(ia, ea)
    np.testing.assert_array_equal(ib, eb)


def test_candidates_tiny_radius_wide_spread() -> None:
    # 1 m radius with points all over the globe: cells get enlarged, still exact.
    rs = np.random.default_rng(4)
    lat = rs.uniform(-90, 90, 200)
    lon = rs.uniform(-180, 180, 200)
    lat[100:] = lat[:100] + 5e-6  # partner ~0.55 m north of each of the first 100
    lon[100:] = lon[:100]
    _check(lat, lon, 1.0)
    ia, _ = candidate_pairs(lat, lon, 1.0)
    assert ia.size >= 100


@given(
    st.integers(2, 40),
    st.floats(0.0, 0.5),
    st.floats(10.0, 60_000.0),
    st.floats(-89.0, 89.0),
    st.floats(-180.0, 180.0),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=100, deadline=None)
def test_candidates_never_miss_a_pair(
    n: int, spread_deg: float, radius: float, lat0: float, lon0: float, seed: int
) -> None:
    rs = np.random.default_rng(seed)
    lat = np.clip(lat0 + rs.uniform(-spread_deg, spread_deg, n), -90, 90)
    lon = (lon0 + rs.uniform(-spread_deg, spread_deg, n) + 180.0) % 360.0 - 180.0
    _check(lat, lon, radius)


def test_candidates_beyond_int32_keys() -> None:
    # Over 46,340 points the packed (i, j) key no longer fits int32: same answer with int64.
    rs = np.random.default_rng(5)
    half = 23_200
    lat = rs.uniform(-89, 89, half)
    lon = rs.uniform(-180, 180, half)
    lat = np.concatenate([lat, lat + 5e-6])  # each point has a partner ~0.55 m north
    lon = np.concatenate([lon, lon])
    perm = rs.permutation(lat.size)
    lat, lon = lat[perm], lon[perm]
    ia, ib = candidate_pairs(lat, lon, 1.0)
    inv = np.argsort(perm)
    expected = np.sort(np.stack([inv[:half], inv[half:]]), axis=0)
    order = np.lexsort((expected[1], expected[0]))
    assert ia.dtype == np.intp
    np.testing.assert_array_equal(ia, expected[0][order])
    np.testing.assert_array_equal(ib, expected[1][order])
