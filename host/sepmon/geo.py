"""WGS84 geometry for the separation core: ECEF, local ENU frames, range and bearing.

Everything is vectorised over numpy arrays (scalars broadcast). Angles are in
degrees, lengths in metres.

Horizontal range is the ECEF chord between the two points projected onto the
ellipsoid surface (height 0), converted to an arc length with the radius of
curvature of the ellipsoid at the chord's midpoint in the chord's direction
(Euler's formula). The chord itself is exact, so the only approximation is the
chord-to-arc correction, which is at most ~0.03 % of the range at 500 km; an
error in that radius barely matters. Against geographiclib's geodesic this is
within about 1e-6 relative from 1 m to 500 km (see tests/host/test_geo.py).
The initial bearing is the direction of the chord in the local horizontal
plane at the first point (a normal-section azimuth), which differs from the
geodesic azimuth by far less than 0.01° up to 500 km.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

# WGS84 defining constants and the derived ones we need.
WGS84_A: float = 6378137.0
WGS84_F: float = 1.0 / 298.257223563
WGS84_B: float = WGS84_A * (1.0 - WGS84_F)
WGS84_E2: float = WGS84_F * (2.0 - WGS84_F)  # first eccentricity squared

# Below this norm a vector is treated as zero (metres or unit-vector components).
_TINY: float = 1e-12


def _f64(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def geodetic_to_ecef(lat_deg: ArrayLike, lon_deg: ArrayLike, h_m: ArrayLike = 0.0) -> FloatArray:
    """Convert WGS84 geodetic coordinates to ECEF.

    ``h_m`` is the height above the ellipsoid. Inputs broadcast together; the
    result has the broadcast shape plus a trailing axis of length 3 (x, y, z).
    """
    lat = np.radians(_f64(lat_deg))
    lon = np.radians(_f64(lon_deg))
    h = _f64(h_m)
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)  # prime-vertical radius
    x = (n + h) * cos_lat * np.cos(lon)
    y = (n + h) * cos_lat * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * sin_lat
    x, y, z = np.broadcast_arrays(x, y, z)
    return np.stack([x, y, z], axis=-1)


def enu_basis(lat_deg: ArrayLike, lon_deg: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Unit east, north and up vectors (in ECEF) of the local frame at each point.

    Up is the ellipsoid normal (geodetic vertical). Each returned array has the
    broadcast shape of the inputs plus a trailing axis of length 3. At the
    poles east/north follow the given longitude, as geographiclib's azimuths do.
    """
    lat = np.radians(_f64(lat_deg))
    lon = np.radians(_f64(lon_deg))
    lat, lon = np.broadcast_arrays(lat, lon)
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(lat)
    east = np.stack([-so, co, zero], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return east, north, up


def _dot(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row-wise dot product over the trailing axis."""
    return np.asarray(np.einsum("...i,...i->...", a, b), dtype=np.float64)


# --- component kernels ---------------------------------------------------------------
# The separation core evaluates hundreds of thousands of pairs per update, so the
# hot path works on one 1-D column per vector component: no (n, 3) temporaries,
# no cross products or norms over a trailing axis. The array functions below are
# thin wrappers over these kernels, so both give the same bits.

Xyz = tuple[FloatArray, FloatArray, FloatArray]


def mid_frame_xyz(ua: Xyz, ub: Xyz) -> tuple[tuple[FloatArray, FloatArray], Xyz, Xyz]:
    """:func:`mid_frame` on components: ((ex, ey), (nx, ny, nz), (ux, uy, uz)).

    East has no z component (it is horizontal to the equatorial plane), so only
    its x and y are returned.
    """
    sx = ua[0] + ub[0]
    sy = ua[1] + ub[1]
    sz = ua[2] + ub[2]
    norm = np.sqrt(sx * sx + sy * sy + sz * sz)
    ok = norm > 1e-6
    if not np.all(ok):
        # Near-antipodal: up_a + up_b vanishes; up_a − up_b (≈ ±2 up_a) only flips
        # sign when a and b are swapped, which leaves every squared or paired
        # product below unchanged, so the result stays symmetric.
        sx = np.where(ok, sx, ua[0] - ub[0])
        sy = np.where(ok, sy, ua[1] - ub[1])
        sz = np.where(ok, sz, ua[2] - ub[2])
        norm = np.sqrt(sx * sx + sy * sy + sz * sz)
    ux, uy, uz = sx / norm, sy / norm, sz / norm
    # east = z × up, normalised; at a pole it vanishes and any horizontal direction will do.
    en = np.sqrt(ux * ux + uy * uy)
    ex, ey = -uy / en, ux / en
    ok_e = en > _TINY
    if not np.all(ok_e):
        ex, ey = np.where(ok_e, ex, 0.0), np.where(ok_e, ey, 1.0)
    # north = up × east
    nx = -uz * ey
    ny = uz * ex
    nz = ux * ey - uy * ex
    return (ex, ey), (nx, ny, nz), (ux, uy, uz)


def arc_from_chord_xyz(
    chord: Xyz, east: tuple[FloatArray, FloatArray], north: Xyz, up_z: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`arc_from_chord` on components, in the mid frame of :func:`mid_frame_xyz`.

    Returns (arc length, chord·east, chord·north): the latter two are the chord's
    horizontal projection in the mid frame, which callers need anyway.
    """
    cx, cy, cz = chord
    ce = cx * east[0] + cy * east[1]
    cn = cx * north[0] + cy * north[1] + cz * north[2]
    h2 = ce * ce + cn * cn
    cn2 = cn * cn
    cos2 = np.divide(cn2, h2, out=np.ones_like(h2), where=h2 > 0)
    # up_z is the sine of the geodetic latitude of the mid frame.
    w2 = 1.0 - WGS84_E2 * up_z * up_z
    sw = np.sqrt(w2)
    n = WGS84_A / sw  # prime-vertical radius
    m = (WGS84_A * (1.0 - WGS84_E2)) / (w2 * sw)  # meridian radius
    cos2 = np.minimum(cos2, 1.0)  # >= 0 already
    r = 1.0 / (cos2 / m + (1.0 - cos2) / n)  # Euler: radius in the chord's direction
    c = np.sqrt(cx * cx + cy * cy + cz * cz)
    half = np.minimum(c / (2.0 * r), 1.0)
    return 2.0 * r * _arcsin(half), ce, cn


# Below this, arcsin(x) = x + x³/6 + 3x⁵/40 + 5x⁷/112 to better than 1e-17 relative
# (the next term is 35x⁹/1152); it covers chords up to ~127 km and is ~4x faster.
_ASIN_SERIES_MAX = 0.01


def _arcsin(x: FloatArray) -> FloatArray:
    """arcsin of x in [0, 1]: a short series for small x (the usual case), else numpy's."""
    x = np.asarray(x, dtype=np.float64)
    z = x * x
    out = np.asarray(x * (1.0 + z * (1.0 / 6.0 + z * (3.0 / 40.0 + z * (5.0 / 112.0)))), dtype=np.float64)
    big = x > _ASIN_SERIES_MAX
    if np.any(big):
        if out.ndim == 0:
            return np.asarray(np.arcsin(x), dtype=np.float64)
        out[big] = np.arcsin(x[big])
    return out


def bearing_xyz(chord: Xyz, east_a: tuple[FloatArray, FloatArray], north_a: Xyz) -> FloatArray:
    """:func:`bearing_from_chord` on components (``east_a`` without its zero z)."""
    cx, cy, cz = chord
    e = cx * east_a[0] + cy * east_a[1]
    n = cx * north_a[0] + cy * north_a[1] + cz * north_a[2]
    deg = np.asarray(np.degrees(np.arctan2(e, n)), dtype=np.float64)
    # Into [0, 360): tiny negative angles would give 360.0 itself, fold that back to 0.
    deg[deg < 0.0] += 360.0
    deg[deg >= 360.0] = 0.0
    return deg


def _xyz(v: FloatArray) -> Xyz:
    return v[..., 0], v[..., 1], v[..., 2]


def mid_frame(up_a: FloatArray, up_b: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Local east/north/up frame halfway between two points given their up vectors.

    Symmetric in its arguments to the last bit (it only uses ``up_a + up_b``),
    so quantities computed in it change at most sign when a and b are swapped.
    Near-antipodal points use ``up_a − up_b`` (about ±``up_a``), which keeps that
    symmetry for ranges; at a pole east is the ECEF y axis.
    """
    up_a, up_b = np.broadcast_arrays(_f64(up_a), _f64(up_b))
    (ex, ey), north, up = mid_frame_xyz(_xyz(up_a), _xyz(up_b))
    east = np.stack([ex, ey, np.zeros_like(ex)], axis=-1)
    return east, np.stack(north, axis=-1), np.stack(up, axis=-1)


def radius_of_curvature(lat_deg: ArrayLike, cos2_azimuth: ArrayLike) -> FloatArray:
    """Radius of curvature of the WGS84 ellipsoid at a latitude in a given direction.

    Euler's formula ``1/R = cos²α/M + sin²α/N`` with M the meridian and N the
    prime-vertical radius; ``cos2_azimuth`` is cos² of the azimuth α.
    """
    sin_lat = np.sin(np.radians(_f64(lat_deg)))
    w2 = 1.0 - WGS84_E2 * sin_lat * sin_lat
    n = WGS84_A / np.sqrt(w2)
    m = WGS84_A * (1.0 - WGS84_E2) / (w2 * np.sqrt(w2))
    c2 = np.clip(_f64(cos2_azimuth), 0.0, 1.0)
    return np.asarray(1.0 / (c2 / m + (1.0 - c2) / n), dtype=np.float64)


def arc_from_chord(chord: FloatArray, up_a: FloatArray, up_b: FloatArray) -> FloatArray:
    """Surface arc length for the ECEF chord between two surface points.

    ``chord`` is ``ecef(b) - ecef(a)`` of points at height 0, ``up_a``/``up_b``
    their ellipsoid normals. Uses the radius of curvature at the midpoint in the
    chord's direction: ``s = 2 R asin(c / 2R)``. Symmetric in a and b to the
    last bit. Accurate to ~1e-6 relative up to 500 km; beyond a few thousand km
    it is only a rough (spherical) figure, capped at half a circumference.
    """
    chord, up_a, up_b = np.broadcast_arrays(_f64(chord), _f64(up_a), _f64(up_b))
    east, north, up = mid_frame_xyz(_xyz(up_a), _xyz(up_b))
    return arc_from_chord_xyz(_xyz(chord), east, north, up[2])[0]


def range_bearing(
    lat_a: ArrayLike, lon_a: ArrayLike, lat_b: ArrayLike, lon_b: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Horizontal range (m) and initial true bearing (degrees in [0, 360)) from a to b.

    Heights are ignored: both points are taken on the ellipsoid. Within 0.1 %
    (in practice ~1e-6) of the WGS84 geodesic distance and within 0.01° of its
    initial azimuth for ranges of 10 m to 500 km, anywhere on Earth including
    across the antimeridian and near the poles. Coincident points give range 0
    and bearing 0.
    """
    ra = geodetic_to_ecef(lat_a, lon_a)
    rb = geodetic_to_ecef(lat_b, lon_b)
    east_a, north_a, up_a = enu_basis(lat_a, lon_a)
    _, _, up_b = enu_basis(lat_b, lon_b)
    ra, rb, east_a, north_a, up_a, up_b = np.broadcast_arrays(ra, rb, east_a, north_a, up_a, up_b)
    chord = rb - ra
    rng = arc_from_chord(chord, up_a, up_b)
    bearing = bearing_from_chord(chord, east_a, north_a)
    return rng, bearing


def bearing_from_chord(chord: FloatArray, east_a: FloatArray, north_a: FloatArray) -> FloatArray:
    """True bearing (degrees in [0, 360)) of an ECEF chord seen in the local frame at its start.

    ``east_a`` must be horizontal to the equatorial plane (zero z), as every east
    vector of :func:`enu_basis` and :func:`mid_frame` is.
    """
    chord, east_a, north_a = np.broadcast_arrays(_f64(chord), _f64(east_a), _f64(north_a))
    return bearing_xyz(_xyz(chord), (east_a[..., 0], east_a[..., 1]), _xyz(north_a))


def horizontal_range(lat_a: ArrayLike, lon_a: ArrayLike, lat_b: ArrayLike, lon_b: ArrayLike) -> FloatArray:
    """Horizontal range in metres between points a and b (see :func:`range_bearing`)."""
    return range_bearing(lat_a, lon_a, lat_b, lon_b)[0]


def initial_bearing(lat_a: ArrayLike, lon_a: ArrayLike, lat_b: ArrayLike, lon_b: ArrayLike) -> FloatArray:
    """Initial true bearing in degrees [0, 360) from a to b (see :func:`range_bearing`)."""
    return range_bearing(lat_a, lon_a, lat_b, lon_b)[1]
