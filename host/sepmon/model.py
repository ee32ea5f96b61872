"""Data that flows between the stages: source → parse → track → separation → alert.

Plain frozen dataclasses, so every stage is a pure function of what it is handed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Level(IntEnum):
    """Alert level of a pair, as sent to the boards."""

    NONE = 0
    ADVISORY = 1
    CAUTION = 2
    WARNING = 3


@dataclass(frozen=True, slots=True)
class Fix:
    """One position epoch of one source, assembled from the sentences of one UTC time.

    ``alt_m`` is the ellipsoid height (MSL + geoid separation); None for a 2D fix.
    ``sog_mps``/``cog_deg`` are None when the receiver did not send them.
    ``t`` is the fix time (unix seconds, UTC); ``rx_t`` the time it was received
    (TAG block ``c:`` or the host clock), None when unknown.
    """

    source: str
    t: float
    lat: float
    lon: float
    alt_m: float | None
    sog_mps: float | None
    cog_deg: float | None
    quality: int
    hdop: float | None
    sats: int | None
    rx_t: float | None = None


class _FixBuilder:
    """A mutable twin of :class:`Fix`: the same slots, in the same order, on ``object``.

    Only :func:`new_fix` uses it, to fill the slots with plain attribute stores and then
    hand the object its real class.
    """

    __slots__ = Fix.__slots__
    source: str
    t: float
    lat: float
    lon: float
    alt_m: float | None
    sog_mps: float | None
    cog_deg: float | None
    quality: int
    hdop: float | None
    sats: int | None
    rx_t: float | None


def new_fix(
    source: str,
    t: float,
    lat: float,
    lon: float,
    alt_m: float | None,
    sog_mps: float | None,
    cog_deg: float | None,
    quality: int,
    hdop: float | None,
    sats: int | None,
    rx_t: float | None,
) -> Fix:
    """``Fix(source, t, ...)``, all fields positional, about 7x faster.

    The ingest builds one Fix per epoch of every source; the frozen dataclass's
    ``__init__`` makes one ``object.__setattr__`` call per field, which was a tenth of
    epoch assembly.  Here the slots are filled on a :class:`_FixBuilder` and the object
    then becomes a Fix (``__class__`` assignment between classes of identical slot
    layout): the result is a Fix in every respect, frozen, equal and hashing like one
    built by ``Fix(...)``.  No validation happens in either.
    """
    f = _FixBuilder()
    f.source = source
    f.t = t
    f.lat = lat
    f.lon = lon
    f.alt_m = alt_m
    f.sog_mps = sog_mps
    f.cog_deg = cog_deg
    f.quality = quality
    f.hdop = hdop
    f.sats = sats
    f.rx_t = rx_t
    f.__class__ = Fix  # type: ignore[assignment]
    return f  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class TrackState:
    """A source's best estimate at time ``t``: what the separation core consumes.

    Velocity is in the local east/north/up frame at the position, in m/s; it is
    zero when the measured speed is below the fix's noise floor.
    """

    source: str
    t: float
    lat: float
    lon: float
    alt_m: float | None
    ve: float
    vn: float
    vu: float
    quality: int
    hdop: float | None
    age_s: float
    lost: bool
