"""Pair builders: every pair, or only the pairs that can be within a radius.

:func:`candidate_pairs` buckets the surface ECEF positions into a uniform 3-D
grid whose cell edge is at least the radius. The straight chord between two
surface points is never longer than their horizontal range along the surface,
so two points within ``radius_m`` of each other are at most one cell apart in
each axis: scanning the 27 neighbouring cells finds every such pair (no false
negatives) without scipy and without the O(n²) table.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sepmon.geo import geodetic_to_ecef

IntArray = npt.NDArray[np.intp]

# Cell indices are packed into one int64 key; keep each axis span below 2**20
# so three of them fit. If the radius is tiny compared with the spread of the
# points the cells are enlarged, which only adds candidates.
_AXIS_BITS = 20


def all_pairs(n: int) -> tuple[IntArray, IntArray]:
    """Every unordered pair (i, j) with 0 <= i < j < n, as two index arrays.

    Never pairs an index with itself: a source is never traffic to itself.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    ia, ib = np.triu_indices(n, k=1)
    return ia.astype(np.intp), ib.astype(np.intp)


def candidate_pairs(lat: npt.ArrayLike, lon: npt.ArrayLike, radius_m: float) -> tuple[IntArray, IntArray]:
    """Pairs (i, j), i < j, whose horizontal range may be <= ``radius_m``.

    Returns every pair whose range is within the radius (no false negatives)
    and drops all pairs whose surface chord already exceeds it; a few pairs
    slightly beyond the radius may remain. Pairs are sorted by (i, j).
    """
    lat_a = np.asarray(lat, dtype=np.float64).ravel()
    lon_a = np.asarray(lon, dtype=np.float64).ravel()
    if lat_a.shape != lon_a.shape:
        raise ValueError("lat and lon must have the same length")
    if not np.isfinite(radius_m) or radius_m < 0:
        raise ValueError(f"radius_m must be finite and >= 0, got {radius_m}")
    n = lat_a.size
    if n < 2:
        return np.empty(0, np.intp), np.empty(0, np.intp)

    xyz = geodetic_to_ecef(lat_a, lon_a)
    lo = xyz.min(axis=0)
    extent = float(np.max(xyz.max(axis=0) - lo))
    # Cell edge: at least the radius (plus a hair for rounding), at least 1 mm,
    # and large enough that the packed key cannot overflow.
    cell = max(radius_m * (1.0 + 1e-9) + 1e-6, extent / (2**_AXIS_BITS - 4), 1e-3)
    ijk = np.floor((xyz - lo) / cell).astype(np.int64) + 1  # +1: neighbours stay >= 0
    span = np.int64(2**_AXIS_BITS)
    keys = (ijk[:, 0] * span + ijk[:, 1]) * span + ijk[:, 2]

    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]

    ia_parts: list[IntArray] = []
    ib_parts: list[IntArray] = []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                nkeys = keys + (dx * span + dy) * span + dz
                start = np.searchsorted(sorted_keys, nkeys, side="left")
                stop = np.searchsorted(sorted_keys, nkeys, side="right")
                counts = stop - start
                total = int(counts.sum())
                if total == 0:
                    continue
                i = np.repeat(np.arange(n, dtype=np.intp), counts)
                # Offsets 0..count-1 within each point's neighbour run.
                run_start = np.repeat(np.cumsum(counts) - counts, counts)
                j = order[np.repeat(start, counts) + (np.arange(total) - run_start)]
                keep = i < j  # each unordered pair once, never (i, i)
                ia_parts.append(i[keep])
                ib_parts.append(j[keep].astype(np.intp))
    if not ia_parts:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    ia = np.concatenate(ia_parts)
    ib = np.concatenate(ib_parts)
    # The chord is a lower bound of the range: discard what is surely too far.
    chord = np.linalg.norm(xyz[ib] - xyz[ia], axis=1)
    near = chord <= radius_m * (1.0 + 1e-9) + 1e-6
    ia, ib = ia[near], ib[near]
    srt = np.lexsort((ib, ia))
    return ia[srt], ib[srt]
