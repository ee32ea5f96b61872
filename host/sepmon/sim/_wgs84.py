"""WGS84 conversions for the simulator's ground truth.

Deliberately independent of ``sepmon.core.geo``: the truth a test checks the
separation core against should not be computed by the code under test.
Vectorised over numpy arrays; angles in degrees, lengths in metres.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

A: float = 6378137.0
F: float = 1.0 / 298.257223563
E2: float = F * (2.0 - F)


def to_ecef(lat: npt.ArrayLike, lon: npt.ArrayLike, h: npt.ArrayLike) -> FloatArray:
    """Geodetic (lat, lon, ellipsoid height) → ECEF, shape (..., 3)."""
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    hh = np.asarray(h, dtype=np.float64)
    n = A / np.sqrt(1.0 - E2 * np.sin(phi) ** 2)
    x = (n + hh) * np.cos(phi) * np.cos(lam)
    y = (n + hh) * np.cos(phi) * np.sin(lam)
    z = (n * (1.0 - E2) + hh) * np.sin(phi)
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def from_ecef(xyz: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ECEF (..., 3) → (lat, lon, h). Fixed-point iteration; sub-millimetre away from the poles."""
    p3 = np.asarray(xyz, dtype=np.float64)
    x, y, z = p3[..., 0], p3[..., 1], p3[..., 2]
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1.0 - E2))
    h = np.zeros_like(p)
    for _ in range(6):  # converges to ~1e-12 rad within four rounds at aircraft heights
        n = A / np.sqrt(1.0 - E2 * np.sin(lat) ** 2)
        h = p / np.cos(lat) - n
        lat = np.arctan2(z, p * (1.0 - E2 * n / (n + h)))
    return np.degrees(lat), np.degrees(lon), h


def enu_basis(lat: npt.ArrayLike, lon: npt.ArrayLike) -> FloatArray:
    """Rows east, north, up of the local frame at (lat, lon), in ECEF; shape (..., 3, 3)."""
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    sp, cp, sl, cl = np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam)
    zero = np.zeros_like(sp * sl)
    east = np.stack(np.broadcast_arrays(-sl, cl, zero), axis=-1)
    north = np.stack(np.broadcast_arrays(-sp * cl, -sp * sl, cp), axis=-1)
    up = np.stack(np.broadcast_arrays(cp * cl, cp * sl, sp), axis=-1)
    return np.stack([east, north, up], axis=-2)


def radii(lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Meridian (M) and prime-vertical (N) radii of curvature at ``lat``."""
    s2 = np.sin(np.radians(np.asarray(lat, dtype=np.float64))) ** 2
    w = np.sqrt(1.0 - E2 * s2)
    return A * (1.0 - E2) / w**3, A / w
