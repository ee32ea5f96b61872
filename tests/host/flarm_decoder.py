"""A strict FLARM data-port decoder for the tests, written from the specification.

Independent of ``sepmon.outputs.flarmcodec`` on purpose: it computes its own checksum, knows
the field order and ranges of FTD-012 (FLARM Data Port Specification) and
refuses anything outside them, so an encoder bug cannot hide behind a decoder
that shares its code. It also reads GPGGA/GPRMC far enough to check positions
(NMEA 0183: fields of a sentence without a valid fix may be null), and the
answers to an app's ``$PFLAV``/``$PFLAC`` queries. :func:`pynmea2_fields` reads a
sentence with pynmea2 (a third-party NMEA library, which verifies the checksum and
splits proprietary ``$P<mfr>`` sentences), so framing is checked by code we did not write.

PFLAU,<RX>,<TX>,<GPS>,<Power>,<AlarmLevel>,<RelativeBearing>,<AlarmType>,<RelativeVertical>,
      <RelativeDistance>[,<ID>]
PFLAA,<AlarmLevel>,<RelativeNorth>,<RelativeEast>,<RelativeVertical>,<IDType>,<ID>,<Track>,
      <TurnRate>,<GroundSpeed>,<ClimbRate>,<AcftType>
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pynmea2

_SENTENCE = re.compile(r"^\$([A-Z0-9]+(?:,[^*$\r\n]*)?)\*([0-9A-F]{2})$")
_INT = re.compile(r"^-?[0-9]+$")
_FIXED1 = re.compile(r"^-?[0-9]+\.[0-9]$")
_HEX6 = re.compile(r"^[0-9A-F]{6}$")


class DecodeError(ValueError):
    """The input breaks the specification."""


def _xor(text: str) -> int:
    c = 0
    for ch in text.encode("ascii"):
        c ^= ch
    return c


def split_lines(data: bytes) -> list[str]:
    """Complete CRLF-terminated lines of a stream; raises if the stream ends mid-line."""
    text = data.decode("ascii")
    if text and not text.endswith("\r\n"):
        raise DecodeError(f"stream ends inside a line: {text[-60:]!r}")
    lines = text.split("\r\n")[:-1] if text else []
    for ln in lines:
        if "\r" in ln or "\n" in ln:
            raise DecodeError(f"stray line break in {ln!r}")
    return lines


def fields_of(line: str) -> tuple[str, list[str]]:
    """``$BODY*hh`` with a correct checksum → (sentence name, fields)."""
    m = _SENTENCE.match(line)
    if m is None:
        raise DecodeError(f"not a framed NMEA sentence: {line!r}")
    body, given = m.group(1), m.group(2)
    if int(given, 16) != _xor(body):
        raise DecodeError(f"bad checksum in {line!r}")
    if len(line) > 82:  # NMEA 0183: at most 82 characters including $ and CRLF
        raise DecodeError(f"sentence longer than NMEA allows: {line!r}")
    parts = body.split(",")
    return parts[0], parts[1:]


def pynmea2_fields(line: str) -> tuple[str, list[str]]:
    """(sentence name, fields) as pynmea2 reads ``line``, its checksum required and verified."""
    msg = pynmea2.parse(line, check=True)
    if isinstance(msg, pynmea2.ProprietarySentence):  # $PFLAU -> manufacturer FLA, data U,...
        return "P" + msg.manufacturer + msg.data[0], list(msg.data[1:])
    return msg.talker + msg.sentence_type, list(msg.data)


def _int(value: str, name: str, lo: int, hi: int, *, empty_ok: bool = False) -> int | None:
    if value == "":
        if empty_ok:
            return None
        raise DecodeError(f"{name} is empty")
    if not _INT.match(value):
        raise DecodeError(f"{name} is not a decimal integer: {value!r}")
    v = int(value)
    if not lo <= v <= hi:
        raise DecodeError(f"{name}={v} outside {lo}..{hi}")
    return v


@dataclass(frozen=True)
class Pflau:
    """Operating status and priority intruder."""

    rx: int
    tx: int
    gps: int
    power: int
    alarm_level: int
    relative_bearing: int | None
    alarm_type: int
    relative_vertical: int | None
    relative_distance: int | None
    id: str | None


@dataclass(frozen=True)
class Pflaa:
    """One other aircraft."""

    alarm_level: int
    relative_north: int
    relative_east: int | None
    relative_vertical: int
    id_type: int | None
    id: str | None
    track: int | None
    turn_rate: str
    ground_speed: int | None
    climb_rate: float | None
    acft_type: int


def decode_pflau(f: list[str]) -> Pflau:
    """Decode PFLAU fields (after the name)."""
    if len(f) not in (9, 10):  # <ID> is absent before protocol version 4
        raise DecodeError(f"PFLAU has {len(f)} fields, expected 9 or 10")
    rx = _int(f[0], "RX", 0, 99)
    tx = _int(f[1], "TX", 0, 1)
    gps = _int(f[2], "GPS", 0, 2)
    power = _int(f[3], "Power", 0, 1)
    level = _int(f[4], "AlarmLevel", 0, 3)
    bearing = _int(f[5], "RelativeBearing", -180, 180, empty_ok=True)
    if not re.match(r"^[0-9A-F]{1,2}$", f[6]):
        raise DecodeError(f"AlarmType is not hex 0..FF: {f[6]!r}")
    alarm_type = int(f[6], 16)
    vertical = _int(f[7], "RelativeVertical", -32768, 32767, empty_ok=True)
    distance = _int(f[8], "RelativeDistance", 0, 2147483647, empty_ok=True)
    ident = f[9] if len(f) == 10 and f[9] != "" else None
    if ident is not None and not _HEX6.match(ident):
        raise DecodeError(f"ID is not six hex digits: {ident!r}")
    assert rx is not None and tx is not None and gps is not None and power is not None and level is not None
    if level > 0 and alarm_type == 0:
        raise DecodeError("an alarm level without an alarm type")
    return Pflau(rx, tx, gps, power, level, bearing, alarm_type, vertical, distance, ident)


def decode_pflaa(f: list[str]) -> Pflaa:
    """Decode PFLAA fields (after the name)."""
    if len(f) < 11:
        raise DecodeError(f"PFLAA has {len(f)} fields, expected at least 11")
    level = _int(f[0], "AlarmLevel", 0, 3)
    north = _int(f[1], "RelativeNorth", -32768, 32767)
    east = _int(f[2], "RelativeEast", -32768, 32767, empty_ok=True)
    vertical = _int(f[3], "RelativeVertical", -32768, 32767)
    id_type = _int(f[4], "IDType", 0, 3, empty_ok=True)
    ident = f[5] or None
    if ident is not None and not _HEX6.match(ident):
        raise DecodeError(f"ID is not six hex digits: {ident!r}")
    track = _int(f[6], "Track", 0, 359, empty_ok=True)
    speed = _int(f[8], "GroundSpeed", 0, 32767, empty_ok=True)
    climb: float | None = None
    if f[9] != "":
        if not _FIXED1.match(f[9]):
            raise DecodeError(f"ClimbRate is not a one-decimal number: {f[9]!r}")
        climb = float(f[9])
        if not -32.7 <= climb <= 32.7:
            raise DecodeError(f"ClimbRate {climb} outside -32.7..32.7")
    if not re.match(r"^[0-9A-F]$", f[10]):
        raise DecodeError(f"AcftType is not one hex digit: {f[10]!r}")
    assert level is not None and north is not None and vertical is not None
    return Pflaa(level, north, east, vertical, id_type, ident, track, f[7], speed, climb, int(f[10], 16))


@dataclass(frozen=True)
class Position:
    """What GGA/RMC say about the own position (lat/lon None: no fix, fields null)."""

    kind: str
    hhmmss: str
    lat: float | None
    lon: float | None
    alt: float | None = None
    sog_kn: float | None = None
    cog: float | None = None
    ddmmyy: str | None = None
    valid: bool = True
    geoid_sep: float | None = None
    quality: int | None = None


@dataclass(frozen=True)
class Answer:
    """``$PFLAV,A,...`` or ``$PFLAC,A,...``: the reply to a query (``item`` ERROR: refused)."""

    kind: str
    item: str
    values: tuple[str, ...]


def _angle(value: str, hemi: str, deg_digits: int, pos: str, neg: str) -> float:
    if not re.match(rf"^[0-9]{{{deg_digits}}}[0-5][0-9]\.[0-9]+$", value) or hemi not in (pos, neg):
        raise DecodeError(f"bad angle {value!r},{hemi!r}")
    v = int(value[:deg_digits]) + float(value[deg_digits:]) / 60.0
    return v if hemi == pos else -v


def _metres(value: str, unit: str, name: str) -> float | None:
    if value == "":
        return None
    if unit != "M" or not re.match(r"^-?[0-9]+(\.[0-9]+)?$", value):
        raise DecodeError(f"{name} is not metres: {value!r},{unit!r}")
    return float(value)


def decode_gga(f: list[str]) -> Position:
    """The fields of GGA that matter here: quality 0 (no fix) may leave the position null."""
    if len(f) != 14:
        raise DecodeError(f"GGA has {len(f)} fields, expected 14")
    quality = _int(f[5], "GGA quality", 0, 8)
    assert quality is not None
    if quality == 0 and f[1] == f[3] == "":
        lat = lon = None
    else:
        lat, lon = _angle(f[1], f[2], 2, "N", "S"), _angle(f[3], f[4], 3, "E", "W")
    alt = _metres(f[8], f[9], "GGA altitude")
    sep = _metres(f[10], f[11], "GGA geoid separation")
    return Position("GGA", f[0], lat, lon, alt=alt, valid=quality > 0, geoid_sep=sep, quality=quality)


def decode_rmc(f: list[str]) -> Position:
    """The fields of RMC that matter here."""
    if len(f) not in (11, 12, 13):
        raise DecodeError(f"RMC has {len(f)} fields")
    if f[1] not in ("A", "V"):
        raise DecodeError(f"RMC status {f[1]!r}")
    if f[1] == "V" and f[2] == f[4] == "":
        return Position("RMC", f[0], None, None, ddmmyy=f[8] or None, valid=False)
    return Position(
        "RMC",
        f[0],
        _angle(f[2], f[3], 2, "N", "S"),
        _angle(f[4], f[5], 3, "E", "W"),
        sog_kn=float(f[6]) if f[6] else None,
        cog=float(f[7]) if f[7] else None,
        ddmmyy=f[8],
        valid=f[1] == "A",
    )


def decode_answer(name: str, f: list[str]) -> Answer:
    """FTD-012 answers: ``PFLAV,A,<HwVersion>,<SwVersion>,<ObstVersion>``;
    ``PFLAC,A,<Key>,<Value>`` or ``PFLAC,A,ERROR``."""
    if not f or f[0] != "A":
        raise DecodeError(f"{name} from the device must be an answer (A), got {f[:1]}")
    if name == "PFLAV":
        if (
            len(f) != 4
            or not re.match(r"^[0-9]+\.[0-9]{2}$", f[1])
            or not re.match(r"^[0-9]+\.[0-9]{2}$", f[2])
        ):
            raise DecodeError(f"PFLAV answer is not A,<x.yy>,<x.yy>,<obst>: {f}")
        return Answer(name, "", tuple(f[1:]))
    if f[1:] == ["ERROR"]:
        return Answer(name, "ERROR", ())
    if len(f) < 3 or not re.match(r"^[A-Z0-9]+$", f[1]):
        raise DecodeError(f"PFLAC answer is not A,<Key>,<Value>: {f}")
    return Answer(name, f[1], tuple(f[2:]))


Decoded = Pflau | Pflaa | Position | Answer


def decode_line(line: str) -> Decoded:
    """One sentence of the feed."""
    name, f = fields_of(line)
    if name == "PFLAU":
        return decode_pflau(f)
    if name == "PFLAA":
        return decode_pflaa(f)
    if name == "GPGGA":
        return decode_gga(f)
    if name == "GPRMC":
        return decode_rmc(f)
    if name in ("PFLAV", "PFLAC"):
        return decode_answer(name, f)
    raise DecodeError(f"unexpected sentence {name}")


def decode_stream(data: bytes) -> list[Decoded]:
    """Every sentence of a byte stream, which must end on a line boundary."""
    return [decode_line(ln) for ln in split_lines(data)]
