"""Clustered traffic for the separation-core benchmark.

Most traffic sits around busy places (airfields, harbours, cities): CLUSTER_SIZE
tracks per cluster, spread as a Gaussian of CLUSTER_SIGMA_KM; BACKGROUND of all
tracks are en route, uniform over the region. The region grows with the track
count so the density, and so the number of neighbours per track, stays the
same: 10,000 tracks cover about 1,900 × 1,900 km (western Europe's size) and
each has ~40 others within 50 km (more in a cluster, fewer en route). That is
what "tens of neighbours" looks like and what one host would watch; packing all
10,000 within 50 km of each other would be 50 M pairs, which no real airspace is.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

CLUSTER_SIZE = 100
CLUSTER_SIGMA_KM = 40.0
BACKGROUND = 0.2
KM2_PER_TRACK = 360.0
ORIGIN = (47.0, 8.0)


def scene(n: int, seed: int = 1) -> dict[str, FloatArray]:
    """Columns of n tracks: lat, lon, alt (m), ve, vn, vu (m/s), hdop, age_s."""
    rng = np.random.default_rng(seed)
    half = math.sqrt(n * KM2_PER_TRACK) / 2.0
    n_bg = int(n * BACKGROUND)
    n_cl = n - n_bg
    k = max(1, round(n_cl / CLUSTER_SIZE))
    centres = rng.uniform(-half, half, size=(k, 2))
    which = rng.integers(0, k, size=n_cl)
    east = np.concatenate(
        [centres[which, 0] + rng.normal(0, CLUSTER_SIGMA_KM, n_cl), rng.uniform(-half, half, n_bg)]
    )
    north = np.concatenate(
        [centres[which, 1] + rng.normal(0, CLUSTER_SIGMA_KM, n_cl), rng.uniform(-half, half, n_bg)]
    )
    lat = ORIGIN[0] + north / 111.32
    lon = ORIGIN[1] + east / (111.32 * np.cos(np.radians(lat)))
    # 15 % standing, the rest from boats to fast aircraft, any course.
    speed = rng.choice([0.0, 15.0, 60.0, 120.0], size=n, p=[0.15, 0.25, 0.35, 0.25])
    course = rng.uniform(0, 2 * np.pi, n)
    return {
        "lat": lat,
        "lon": lon,
        "alt": rng.uniform(0, 3000, n),
        "ve": speed * np.sin(course),
        "vn": speed * np.cos(course),
        "vu": rng.normal(0, 2, n),
        "hdop": rng.uniform(0.7, 2.5, n),
        "age_s": rng.uniform(0, 1.0, n),
    }
