"""Pair builders: every pair, or only the pairs that can be within a radius.

:func:`candidate_pairs` buckets the surface ECEF positions into a uniform 3-D
grid whose cell edge is at least the radius. The straight chord between two
surface points is never longer than their horizontal range along the surface,
so two points within ``radius_m`` of each other are at most one cell apart in
each axis: pairing each cell with itself and its 26 neighbours finds every such
pair (no false negatives) without scipy and without the O(n²) table.

Cost: points are sorted by cell once; each cell is paired with itself and the
13 neighbours "after" it (the other 13 are the same cell pairs seen from the
other side, all 13 looked up in one search), and every point pair of those
cell pairs is enumerated with numpy (no Python loop over points) and kept if
its chord is within the radius. For surface points that is about 3× the pairs
finally returned; 10,000 points with ~40 neighbours each take about 20 ms
(docs/performance.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from sepmon.core.geo import geodetic_to_ecef

IntArray = npt.NDArray[np.intp]

# Cell indices are packed into one int64 key; keep each axis span below 2**20
# so three of them fit. If the radius is tiny compared with the spread of the
# points the cells are enlarged, which only adds candidates.
_AXIS_BITS = 20
_SPAN = 2**_AXIS_BITS
# Key offsets of the 13 neighbouring cells that come "after" a cell (half of the 26).
_FORWARD_OFFSETS = np.array(
    [
        (dx * _SPAN + dy) * _SPAN + dz
        for dx in (-1, 0, 1)
        for dy in (-1, 0, 1)
        for dz in (-1, 0, 1)
        if (dx, dy, dz) > (0, 0, 0)
    ],
    dtype=np.int64,
)


# Candidate pairs expanded at once (see candidate_pairs).
_BLOCK = 32768


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
    limit = radius_m * (1.0 + 1e-9) + 1e-6
    cell = max(limit, extent / (2**_AXIS_BITS - 4), 1e-3)
    ijk = np.floor((xyz - lo) / cell).astype(np.int64) + 1  # +1: neighbours stay >= 0
    keys = (ijk[:, 0] * _SPAN + ijk[:, 1]) * _SPAN + ijk[:, 2]

    # Points sorted by cell; each occupied cell is one run [start, start + count)
    # of positions in that order. Work on positions, map back to indices at the end.
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    cells = sorted_keys[starts]
    counts = np.diff(np.append(starts, n))
    cell_of = np.repeat(np.arange(cells.size), counts)  # cell of each position
    pos = np.arange(n)
    xs, ys, zs = (np.ascontiguousarray(xyz[order, k]) for k in range(3))
    # Caller indices are small: int32 halves the memory the pair arrays move around.
    idx_type = np.int32 if n <= np.iinfo(np.int32).max else np.int64
    index_of = order.astype(idx_type)

    # Rows: one per (position, cell it must be compared with); each row is the
    # contiguous run of positions [row_first, row_first + row_len) of that cell.
    # Own cell: only the positions after it (each unordered pair once, never (i, i)).
    # Then the 13 "forward" neighbour cells, all looked up at once; the other 13 of
    # the 26 are the same cell pairs seen from the other side.
    target = cells + _FORWARD_OFFSETS[:, None]  # (13, cells)
    hit_at = np.searchsorted(cells, target)
    np.minimum(hit_at, cells.size - 1, out=hit_at)
    nb_cell = np.where(cells[hit_at] == target, hit_at, -1)[:, cell_of]  # (13, n), -1: none
    off_idx, nb_pos = np.nonzero(nb_cell >= 0)
    nb = nb_cell[off_idx, nb_pos]
    r_pos = np.concatenate((pos, nb_pos))
    r_first = np.concatenate((pos + 1, starts[nb]))
    r_len = np.concatenate((starts[cell_of] + counts[cell_of] - (pos + 1), counts[nb]))
    # Expand the rows into point pairs a block of rows at a time: pa repeats the
    # row's position, pb counts through its run. Blocks keep the temporaries small
    # (cached, and reused by the allocator rather than fresh pages every call).
    ends = np.cumsum(r_len)
    limit2 = limit * limit
    ia_parts: list[npt.NDArray[np.signedinteger[Any]]] = []
    ib_parts: list[npt.NDArray[np.signedinteger[Any]]] = []
    lo_row = 0
    while lo_row < r_len.size:
        base = int(ends[lo_row - 1]) if lo_row else 0
        hi_row = max(int(np.searchsorted(ends, base + _BLOCK, side="right")), lo_row + 1)
        rows = slice(lo_row, hi_row)
        lens = r_len[rows]
        total = int(ends[hi_row - 1]) - base
        if total:
            pb = np.repeat(r_first[rows] - (ends[rows] - lens - base), lens)
            pb += np.arange(total)
            # The chord is a lower bound of the range: discard what is surely too far.
            # Side a is one point per row: gather per row, then repeat (cheaper per pair).
            rp = r_pos[rows]
            d = xs.take(pb)
            d -= np.repeat(xs.take(rp), lens)
            d2 = d * d
            for c in (ys, zs):
                d = c.take(pb)
                d -= np.repeat(c.take(rp), lens)
                d *= d
                d2 += d
            keep = d2 <= limit2
            ia_parts.append(np.repeat(index_of.take(rp), lens)[keep])
            ib_parts.append(index_of.take(pb[keep]))
        lo_row = hi_row
    if not ia_parts:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    ia, ib = np.concatenate(ia_parts), np.concatenate(ib_parts)
    # Back to caller indices, i < j, sorted by (i, j) through one packed key i·n + j
    # (int32 up to 46,340 points: it sorts twice as fast as int64).
    key_type = np.int32 if n * n <= np.iinfo(np.int32).max else np.int64
    key: npt.NDArray[np.signedinteger[Any]] = np.minimum(ia, ib).astype(key_type)
    key *= n
    key += np.maximum(ia, ib)
    key.sort()
    i, j = np.divmod(key, n)
    return i.astype(np.intp), j.astype(np.intp)
