"""JSON messages of MQTT fleet sharing: encode what we publish, strictly decode what we receive.

Pure (no network): :mod:`sepmon.outputs.mqtt` does the I/O. Topic tree, under a
configurable root (default ``sepmon``)::

    <root>/<site>/status            retained; {"v":1,"site":..,"state":"online"|"offline","t":..}
                                    ("offline" is also the MQTT last will)
    <root>/<site>/track/<source>    every accepted local fix (see :func:`encode_track`)
    <root>/<site>/event             level events (alerts), ``Event.to_json`` fields + "v", "site"
    <root>/<site>/board/<source>    retained board/link health

Source names go into a topic level percent-encoded (``/``, ``+``, ``#``, ``%``
and control characters); the payload carries the name itself and a receiver
checks the two agree.

Decoding never evaluates anything: ``json.loads`` with NaN/Infinity and
duplicate keys refused, then every field checked for type and range. Every
failure is a :class:`BadMessage` whose ``reason`` is a short counter key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from sepmon.core.model import Event, Fix

VERSION = 1
MAX_TRACK_BYTES = 1024
"""A track message is ~250 bytes; anything over this is refused unread."""
MAX_STATUS_BYTES = 1024
MAX_SOURCE_LEN = 64
MAX_ERROR_M = 100_000.0  # an error estimate beyond this is no position
MAX_GEOID_SEP_M = 200.0  # the geoid departs from the WGS84 ellipsoid by -107..+86 m (EGM2008)
MIN_T = 946_684_800.0  # 2000-01-01: a fix time before this is a receiver without a clock
MAX_T = 4_102_444_800.0  # 2100-01-01

TRACK_KEYS = frozenset(
    {"v", "source", "t", "lat", "lon", "alt_m", "sog_mps", "cog_deg", "quality", "hdop", "sats", "rx_t"}
    | {"geoid_sep_m", "eph_m", "epv_m"}
)
"""Every key a track may carry.  ``geoid_sep_m``, ``eph_m`` and ``epv_m`` (the receiver's
geoid separation and its own ~95 % horizontal and vertical error estimates, see
:class:`~sepmon.core.model.Fix`) are left out when the fix has none; a peer older than
them refuses a track that carries them (unknown keys are refused)."""
_TOPIC_SAFE = "-_.:~!$&'()*,;=@ "  # everything printable except / + # % stays readable


class BadMessage(ValueError):
    """A received message we refuse; ``reason`` is the counter it goes to."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# ---- names and topics -------------------------------------------------------------------------


def valid_name(name: object, *, max_len: int = MAX_SOURCE_LEN) -> bool:
    """A site or source name we accept: 1..max_len printable characters, no ',' or '*'."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= max_len
        and name.isprintable()
        and "," not in name
        and "*" not in name
    )


def topic_level(name: str) -> str:
    """``name`` as one topic level (no ``/``, ``+``, ``#``; ``%`` escaped)."""
    return quote(name, safe=_TOPIC_SAFE)


def name_from_level(level: str) -> str:
    """Inverse of :func:`topic_level`."""
    return unquote(level, errors="strict")


def valid_site(site: object) -> bool:
    """A site name usable verbatim as a topic level."""
    return valid_name(site, max_len=32) and isinstance(site, str) and topic_level(site) == site


# ---- encoding ---------------------------------------------------------------------------------


def _num(x: float | None, ndigits: int) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(x, ndigits)


def _error(x: float | None) -> float | None:
    """An error estimate to whole centimetres, rounded up: never 0, never smaller."""
    if x is None or not 0.0 < x < math.inf:
        return None
    return math.ceil(x * 100.0) / 100.0


def encode_track(fix: Fix) -> bytes:
    """The track message for one local fix (compact JSON, UTF-8)."""
    d: dict[str, Any] = {
        "v": VERSION,
        "source": fix.source,
        "t": round(fix.t, 3),
        "lat": round(fix.lat, 7),
        "lon": round(fix.lon, 7),
        "alt_m": _num(fix.alt_m, 1),
        "sog_mps": _num(fix.sog_mps, 2),
        "cog_deg": _num(fix.cog_deg, 1),
        "quality": fix.quality,
        "hdop": _num(fix.hdop, 2),
        "sats": fix.sats,
    }
    if fix.rx_t is not None and math.isfinite(fix.rx_t):
        d["rx_t"] = round(fix.rx_t, 3)
    sep = _num(fix.geoid_sep_m, 2)
    if sep is not None:
        d["geoid_sep_m"] = sep
    eph, epv = _error(fix.eph_m), _error(fix.epv_m)
    if eph is not None:
        d["eph_m"] = eph
    if epv is not None:
        d["epv_m"] = epv
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()


def encode_event(site: str, event: Event) -> bytes:
    """An event as published on ``<root>/<site>/event``."""
    d: dict[str, Any] = {"v": VERSION, "site": site}
    d.update(json.loads(event.to_json()))
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()


def encode_status(site: str, state: str, t: float | None = None, **extra: Any) -> bytes:
    """The retained status (``online``/``offline``); ``t`` is omitted in the last will."""
    d: dict[str, Any] = {"v": VERSION, "site": site, "state": state}
    if t is not None:
        d["t"] = round(t, 3)
    d.update(extra)
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()


def encode_board(site: str, source: str, t: float, health: Mapping[str, Any]) -> bytes:
    """Board and link health of one local source."""
    d: dict[str, Any] = {"v": VERSION, "site": site, "source": source, "t": round(t, 3)}
    for k, v in health.items():
        d[k] = _num(v, 3) if isinstance(v, float) else v
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()


# ---- strict decoding --------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise BadMessage("json", f"{name} is not a number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise BadMessage("json", f"duplicate key {k!r}")
        d[k] = v
    return d


def _load_object(payload: bytes, limit: int) -> dict[str, Any]:
    if len(payload) > limit:
        raise BadMessage("too_big", f"{len(payload)} bytes (limit {limit})")
    try:
        text = payload.decode("utf-8", errors="strict")
        obj = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except BadMessage:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadMessage("json", type(exc).__name__) from None
    if not isinstance(obj, dict):
        raise BadMessage("schema", f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _number(d: Mapping[str, Any], key: str, lo: float, hi: float, *, optional: bool = False) -> float | None:
    if key not in d or d[key] is None:
        if optional:
            return None
        raise BadMessage("schema", f"{key} missing")
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise BadMessage("schema", f"{key} is not a number")
    try:
        f = float(v)
    except OverflowError:  # an integer beyond any float
        raise BadMessage("range", f"{key} is out of range") from None
    if not math.isfinite(f):
        raise BadMessage("range", f"{key} is not finite")
    if not lo <= f <= hi:
        raise BadMessage("range", f"{key}={f!r} outside [{lo:g}, {hi:g}]")
    return f


def _integer(d: Mapping[str, Any], key: str, lo: int, hi: int, *, optional: bool = False) -> int | None:
    if key not in d or d[key] is None:
        if optional:
            return None
        raise BadMessage("schema", f"{key} missing")
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise BadMessage("schema", f"{key} is not a whole number")
    if not lo <= v <= hi:
        raise BadMessage("range", f"{key}={v} outside [{lo}, {hi}]")
    return v


def _version(d: Mapping[str, Any]) -> None:
    v = d.get("v")
    if isinstance(v, bool) or v != VERSION:
        raise BadMessage("version", f"v={v!r}, expected {VERSION}")


def decode_track(payload: bytes) -> Fix:
    """A track message → :class:`Fix` (``rx_t`` None: the receiver stamps it).

    Raises :class:`BadMessage` for anything but a well-formed version-1 track.
    """
    d = _load_object(payload, MAX_TRACK_BYTES)
    _version(d)
    unknown = set(d) - TRACK_KEYS
    if unknown:
        raise BadMessage("schema", f"unknown key {sorted(unknown)[0]!r}")
    source = d.get("source")
    if not valid_name(source):
        raise BadMessage("schema", "source is not a valid name")
    assert isinstance(source, str)
    t = _number(d, "t", MIN_T, MAX_T)
    lat = _number(d, "lat", -90.0, 90.0)
    lon = _number(d, "lon", -180.0, 180.0)
    assert t is not None and lat is not None and lon is not None
    quality = _integer(d, "quality", 0, 9)
    assert quality is not None
    if quality == 0:
        raise BadMessage("range", "quality 0 (no fix)")
    _number(d, "rx_t", MIN_T, MAX_T, optional=True)  # informational, checked all the same
    errors = [_number(d, key, 0.0, MAX_ERROR_M, optional=True) for key in ("eph_m", "epv_m")]
    if 0.0 in errors:
        raise BadMessage("range", "an error estimate of 0")  # no receiver is exact: a bad sender
    return Fix(
        source=source,
        t=t,
        lat=lat,
        lon=lon,
        alt_m=_number(d, "alt_m", -1000.0, 100_000.0, optional=True),
        sog_mps=_number(d, "sog_mps", 0.0, 2000.0, optional=True),
        cog_deg=_number(d, "cog_deg", 0.0, 360.0, optional=True),
        quality=quality,
        hdop=_number(d, "hdop", 0.0, 100.0, optional=True),
        sats=_integer(d, "sats", 0, 255, optional=True),
        geoid_sep_m=_number(d, "geoid_sep_m", -MAX_GEOID_SEP_M, MAX_GEOID_SEP_M, optional=True),
        eph_m=errors[0],
        epv_m=errors[1],
    )


def decode_status(payload: bytes) -> str:
    """The ``state`` of a status message (``online`` or ``offline``)."""
    d = _load_object(payload, MAX_STATUS_BYTES)
    _version(d)
    state = d.get("state")
    if state not in ("online", "offline"):
        raise BadMessage("schema", "state is not online/offline")
    assert isinstance(state, str)
    return state
