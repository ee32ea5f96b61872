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


# --- row kernels ---------------------------------------------------------------------
# The separation core evaluates hundreds of thousands of pairs per update, and tens of
# pairs many times a second, so its hot path keeps each vector as the rows of one array:
# shape (3, m) for x, y, z (or (k, 3, m) for k vectors at once). One numpy call then
# handles every component, each row is contiguous, and there are no (m, 3)
# temporaries or norms over a trailing axis. The public array functions below are
# thin wrappers over these kernels, so both give the same bits.

# np.degrees(x) is x * (180 / pi) in numpy's own loop (npy_rad2deg): the same bits.
_RAD_TO_DEG: float = 180.0 / np.pi

# Rows (x, y) of a horizontal east vector from (ux/|u_h|, uy/|u_h|): (−uy/|u_h|, ux/|u_h|).
_EAST_SIGN = np.array([[-1.0], [1.0]])


def mid_frame_rows(up_a: FloatArray, up_b: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Local east/north/up frame halfway between two points given their up vectors (as rows).

    ``up_a``/``up_b`` have shape (3, m). Returns (east (2, m), north (3, m), up (3, m));
    east has no z component (it is horizontal to the equatorial plane), so only its
    x and y rows are returned. Symmetric in its arguments to the last bit (it only
    uses ``up_a + up_b``), so quantities computed in it change at most sign when a
    and b are swapped. Near-antipodal points use ``up_a − up_b`` (about ±``up_a``),
    which keeps that symmetry for ranges; at a pole east is the ECEF y axis.
    """
    s = up_a + up_b
    sq = s * s
    norm = sq[0] + sq[1]
    norm += sq[2]
    np.sqrt(norm, out=norm)
    if norm.size and not norm.min() > 1e-6:  # (NaN fails too, like the mask below)
        # Near-antipodal: up_a + up_b vanishes; up_a − up_b (≈ ±2 up_a) only flips
        # sign when a and b are swapped, which leaves every squared or paired
        # product below unchanged, so the result stays symmetric.
        s = np.where(norm > 1e-6, s, up_a - up_b)
        sq = s * s
        norm = sq[0] + sq[1]
        norm += sq[2]
        np.sqrt(norm, out=norm)
    u = s / norm
    sq = u[:2] * u[:2]
    en = sq[0] + sq[1]
    np.sqrt(en, out=en)
    # f = (ux, uy)/|u_h| = (east_y, −east_x); east = z × up normalised, north = up × east.
    f = u[:2] / en
    if en.size and not en.min() > _TINY:
        # At a pole east vanishes and any horizontal direction will do: east = (0, 1).
        pole = ~(en > _TINY)
        f[0, pole] = 1.0
        f[1, pole] = -0.0
    east = f[::-1] * _EAST_SIGN
    north = np.empty_like(u)
    np.multiply(f, -u[2], out=north[:2])  # (−uz·ey, uz·ex)
    sq = u[:2] * f
    np.add(sq[0], sq[1], out=north[2])  # ux·ey − uy·ex
    return east, north, u


def horizontal_rows(v: FloatArray, east: FloatArray, north: FloatArray) -> FloatArray:
    """East and north components of vectors ``v`` (shape (..., 3, m)) in a local frame.

    ``east`` (2, m) and ``north`` (3, m) as from :func:`mid_frame_rows`. Returns
    shape (..., 2, m): rows (v·east, v·north).
    """
    out = np.empty((*v.shape[:-2], 2, v.shape[-1]))
    t = v[..., :2, :] * east
    np.add(t[..., 0, :], t[..., 1, :], out=out[..., 0, :])
    t = v * north
    en = out[..., 1, :]
    np.add(t[..., 0, :], t[..., 1, :], out=en)
    en += t[..., 2, :]
    return out


def arc_from_chord_rows(
    c: FloatArray, h2: FloatArray, cn2: FloatArray, up_z: FloatArray, out: FloatArray | None = None
) -> FloatArray:
    """Surface arc length of chords, in the mid frame of :func:`mid_frame_rows`.

    ``c`` is the chord length, ``h2``/``cn2`` the squared length of its horizontal
    projection and of that projection's north component, ``up_z`` the z of the
    mid frame's up (the sine of its geodetic latitude). See :func:`arc_from_chord`.
    """
    # cos² of the chord's azimuth. cn2 <= h2 in floating point too (rounding is
    # monotone), so the ratio never exceeds 1; a vertical chord (h2 = 0) counts as north.
    all_horizontal = h2.size and h2.min() > 0
    cos2 = cn2 / h2 if all_horizontal else np.divide(cn2, h2, out=np.ones_like(h2), where=h2 > 0)
    w2 = up_z * WGS84_E2
    w2 *= up_z
    np.subtract(1.0, w2, out=w2)
    sw = np.sqrt(w2)
    w2 *= sw
    m = np.divide(WGS84_A * (1.0 - WGS84_E2), w2, out=w2)  # meridian radius
    n = np.divide(WGS84_A, sw, out=sw)  # prime-vertical radius
    # Euler: radius in the chord's direction, r = 1 / (cos²/M + sin²/N); d = 2r.
    d = np.subtract(1.0, cos2)
    d /= n
    np.divide(cos2, m, out=cos2)
    d += cos2
    np.divide(2.0, d, out=d)  # 2.0 * (1.0 / x) == 2.0 / x exactly (a power of two)
    half = np.divide(c, d, out=cos2)
    np.minimum(half, 1.0, out=half)
    return np.multiply(d, _arcsin(half), out=out)


# Below this, arcsin(x) = x + x³/6 + 3x⁵/40 + 5x⁷/112 to better than 1e-17 relative
# (the next term is 35x⁹/1152); it covers chords up to ~127 km and is ~4x faster.
_ASIN_SERIES_MAX = 0.01


def _arcsin(x: FloatArray) -> FloatArray:
    """arcsin of x in [0, 1] (a 1-D array): a short series for small x (the usual case), else numpy's."""
    z = x * x
    p = z * (5.0 / 112.0)  # Horner, innermost first: x · (1 + z (1/6 + z (3/40 + z 5/112)))
    p += 3.0 / 40.0
    p *= z
    p += 1.0 / 6.0
    p *= z
    p += 1.0
    p *= x
    if x.size and x.max() > _ASIN_SERIES_MAX:
        big = x > _ASIN_SERIES_MAX
        p[big] = np.arcsin(x[big])
    return p


def bearing_rows(h: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """True bearing (degrees in [0, 360)) of horizontal vectors given as rows (east, north).

    ``h`` has shape (2, m), e.g. from :func:`horizontal_rows` in the frame at the start point.
    """
    rad = np.arctan2(h[0], h[1])
    rad *= _RAD_TO_DEG  # np.degrees is this very product, but not vectorised
    # Into [0, 360) with a select: a ufunc with where= (or copyto with a mask) is
    # several times slower than np.where on the ~half negative bearings.
    wrapped = rad + 360.0
    deg: FloatArray = np.where(rad < 0.0, wrapped, rad)
    if out is not None:
        out[...] = deg
        deg = out
    # Tiny negative angles give 360.0 itself: fold that back to 0.
    if deg.size and deg.max() >= 360.0:
        np.copyto(deg, 0.0, where=deg >= 360.0)
    return deg


def _rows(v: FloatArray) -> FloatArray:
    """Vectors on a trailing axis of length 3 as rows: shape (3, m)."""
    return np.moveaxis(v, -1, 0).reshape(v.shape[-1], -1)


def arc_from_chord(chord: FloatArray, up_a: FloatArray, up_b: FloatArray) -> FloatArray:
    """Surface arc length for the ECEF chord between two surface points.

    ``chord`` is ``ecef(b) - ecef(a)`` of points at height 0, ``up_a``/``up_b``
    their ellipsoid normals. Uses the radius of curvature at the midpoint in the
    chord's direction: ``s = 2 R asin(c / 2R)``. Symmetric in a and b to the
    last bit. Accurate to ~1e-6 relative up to 500 km; beyond a few thousand km
    it is only a rough (spherical) figure, capped at half a circumference.
    """
    chord, up_a, up_b = np.broadcast_arrays(_f64(chord), _f64(up_a), _f64(up_b))
    shape = chord.shape[:-1]
    east, north, up = mid_frame_rows(_rows(up_a), _rows(up_b))
    c = _rows(chord)
    sq = horizontal_rows(c, east, north)
    sq *= sq
    h2 = sq[0] + sq[1]
    c2 = c * c
    length = c2[0] + c2[1]
    length += c2[2]
    np.sqrt(length, out=length)
    return arc_from_chord_rows(length, h2, sq[1], up[2]).reshape(shape)


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
    vector of :func:`enu_basis` and :func:`mid_frame_rows` is.
    """
    chord, east_a, north_a = np.broadcast_arrays(_f64(chord), _f64(east_a), _f64(north_a))
    h = horizontal_rows(_rows(chord), _rows(east_a)[:2], _rows(north_a))
    return bearing_rows(h).reshape(chord.shape[:-1])


def horizontal_range(lat_a: ArrayLike, lon_a: ArrayLike, lat_b: ArrayLike, lon_b: ArrayLike) -> FloatArray:
    """Horizontal range in metres between points a and b (see :func:`range_bearing`)."""
    return range_bearing(lat_a, lon_a, lat_b, lon_b)[0]


def initial_bearing(lat_a: ArrayLike, lon_a: ArrayLike, lat_b: ArrayLike, lon_b: ArrayLike) -> FloatArray:
    """Initial true bearing in degrees [0, 360) from a to b (see :func:`range_bearing`)."""
    return range_bearing(lat_a, lon_a, lat_b, lon_b)[1]
