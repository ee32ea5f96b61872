"""One declarative entry per NMEA sentence type we use: where its fields are, what makes it
valid, what a Fix takes from it.

Both paths of the epoch assembly read this table: the reference path
(:func:`sepmon.core.epoch.EpochAssembler.add_from_table`, and
:class:`sepmon.core.epoch_reference.ReferenceAssembler`, which uses nothing else) takes
every rule from the entry; the fast path's per-type adds take their pad lengths and
field positions from it and are tested against the reference on every recording.  A new
sentence type is one entry here: it is parsed (:data:`sepmon.core.nmea.USED_TYPES`) and
assembled through the reference path until a fast add is written for it.

Field positions are pynmea2's (``pynmea2.types.talker``), checked by
``tests/host/test_epoch.py``; the rules are NMEA 0183's (validity: GGA quality 1-6, RMC and
GLL status A, FAA mode letters other than N/S/M, GNS any constellation with a fix, GSA
fix type 2/3).  Pattern after pynmea2's field tables and Peter Hinch's as_GPS.
"""

from __future__ import annotations

from dataclasses import dataclass

# FAA mode letter → GGA-style quality.  N (none), S (simulator), M (manual) are not fixes.
MODE_QUALITY = {"A": 1, "D": 2, "P": 3, "R": 4, "F": 5, "E": 6}
GGA_FIX = frozenset("123456")  # GGA quality: 0 none, 7 manual, 8 simulator are not fixes


@dataclass(frozen=True, slots=True)
class SentenceSpec:
    """One sentence type.  Indices are into the data fields (after the address); None: absent.

    ``fields``: how many a complete sentence has (a shorter, checksum-valid one is padded);
    ``time``: its hhmmss field (None: time-less, it joins the open epoch); ``date_only``:
    it dates epochs and opens none (ZDA: time, day, month, year); ``lat``: a position
    ``lat,N,lon,E`` from there; ``position_first``: its position replaces one from a type
    without (GGA/GNS over RMC/GLL); validity: ``status`` must be ``"A"``, ``quality`` (GGA)
    one of 1-6, ``mode`` an FAA letter (``any_mode``: any letter of a per-constellation
    string, GNS), ``fix_type`` 2 or 3 (GSA); values: ``sats``, ``hdop``, ``alt`` (+ ``sep``
    geoid separation), ``sog_kn``/``sog_kmh``, ``cog``, ``date`` (ddmmyy); ``sd_lat``,
    ``sd_lon``, ``sd_alt``: standard deviations (m) of the position error (GST);
    ``legacy_vtg``: pre-2.3 VTG without unit letters; ``member``: counts for emitting an
    epoch early (GSA only when no type that carries HDOP is sent).
    """

    kind: str
    fields: int
    time: int | None = None
    date_only: bool = False
    lat: int | None = None
    position_first: bool = False
    status: int | None = None
    quality: int | None = None
    mode: int | None = None
    any_mode: bool = False
    fix_type: int | None = None
    sats: int | None = None
    hdop: int | None = None
    alt: int | None = None
    sep: int | None = None
    sog_kn: int | None = None
    sog_kmh: int | None = None
    cog: int | None = None
    date: int | None = None
    sd_lat: int | None = None
    sd_lon: int | None = None
    sd_alt: int | None = None
    legacy_vtg: bool = False
    member: bool = False


SENTENCES: dict[str, SentenceSpec] = {
    s.kind: s
    for s in (
        SentenceSpec(
            "GGA",
            14,
            time=0,
            lat=1,
            position_first=True,
            quality=5,
            sats=6,
            hdop=7,
            alt=8,
            sep=10,
            member=True,
        ),
        SentenceSpec(
            "GNS",
            12,
            time=0,
            lat=1,
            position_first=True,
            mode=5,
            any_mode=True,
            sats=6,
            hdop=7,
            alt=8,
            sep=9,
            member=True,
        ),
        SentenceSpec("RMC", 13, time=0, lat=2, status=1, mode=11, sog_kn=6, cog=7, date=8, member=True),
        SentenceSpec("GLL", 7, time=4, lat=0, status=5, mode=6, member=True),
        SentenceSpec("VTG", 9, mode=8, cog=0, sog_kn=4, sog_kmh=6, legacy_vtg=True, member=True),
        SentenceSpec("GSA", 17, fix_type=1, hdop=15),
        SentenceSpec("GST", 8, time=0, sd_lat=5, sd_lon=6, sd_alt=7, member=True),
        SentenceSpec("ZDA", 6, time=0, date_only=True),
    )
}
"""The sentence types a Fix uses, by three-letter type."""
