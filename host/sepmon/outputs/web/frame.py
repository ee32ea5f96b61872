"""The picture as the web page reads it: one JSON-ready dict per update.

Pure: it only reads a :class:`~sepmon.core.picture.Picture` (and the minima the
scope's range rings are drawn at) and returns plain dicts, lists and numbers.
"""

from __future__ import annotations

import json
import math
from typing import Any

from sepmon.core.model import Event, Level, Minima
from sepmon.core.picture import BoardEntry, Picture

STALE_AFTER_S = 2.5  # a track with no fix for this long is drawn greyed, before it is lost
GPS_SILENT_MS = 2000  # a board whose receiver has been silent this long says "no GPS"
STATUS_OLD_S = 3.0  # a board status older than this tells nothing about its GPS
TOLD = {Level.NONE: "clear", Level.ADVISORY: "advisory", Level.CAUTION: "caution", Level.WARNING: "warning"}


def _num(v: float | None, nd: int = 1) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return round(v, nd)


def event_json(ev: Event) -> dict[str, Any]:
    """An event with the event log's own fields and rounding."""
    d: dict[str, Any] = json.loads(ev.to_json())
    return d


def minima_json(m: Minima) -> dict[str, float]:
    """The minima the scope's range rings are drawn at."""
    return {
        "horizontal_m": m.horizontal_m,
        "vertical_m": m.vertical_m,
        "caution_factor": m.caution_factor,
        "advisory_factor": m.advisory_factor,
    }


def board_json(b: BoardEntry, now: float, link_up: bool | None, link_detail: str) -> dict[str, Any]:
    """One board: the pattern it was last told, whether it acknowledges, its port and GPS."""
    told: str | None = None
    if b.told_t != -math.inf:
        told = TOLD.get(Level(b.told_level), "warning") if b.told_level or not b.told_flags else "degraded"
    if b.gps_silent_ms is None or now - b.status_t > STATUS_OLD_S:
        gps, silent = "unknown", None
    elif b.gps_silent_ms > GPS_SILENT_MS:
        gps, silent = "silent", b.gps_silent_ms / 1000
    else:
        gps, silent = "ok", None
    return {
        "name": b.source,
        "told": told,
        "flags": b.told_flags,
        "told_age": None if told is None else round(now - b.told_t, 1),
        "acks": b.acks,
        "acked": told is not None and b.acking and b.acks > 0,
        "silent": not b.acking,
        "port_up": link_up,
        "port_detail": link_detail,
        "gps": gps,
        "gps_silent_s": silent,
        "id": b.board_id,
        "fw": b.fw_version,
    }


def frame_of(picture: Picture, minima: Minima) -> dict[str, Any]:
    """Tracks (with age and state), pairs at advisory or above, boards and sources."""
    now = picture.t
    tracks = []
    for entry in picture.tracks:
        st, fix = entry.state, entry.fix
        age = max(0.0, now - entry.last_clock)
        tracks.append(
            {
                "n": st.source,
                "lat": round(fix.lat, 6),  # 0.1 m: the message stays small with many tracks
                "lon": round(fix.lon, 6),
                "alt": _num(fix.alt_m),
                "ve": _num(st.ve, 2) or 0.0,
                "vn": _num(st.vn, 2) or 0.0,
                "age": round(age, 2),
                "state": "lost" if st.lost else "stale" if age > STALE_AFTER_S else "ok",
            }
        )
    pairs = [
        {
            "a": p.a,
            "b": p.b,
            "level": int(p.level),
            "range": _num(p.range_m),
            "vert": _num(p.vertical_m),
            "tcpa": _num(p.tcpa_s),
            "cpa": _num(p.cpa_m),
            "lost": bool(p.lost),
        }
        for p in picture.alerting
    ]
    links = {s.name: s for s in picture.sources}
    boards = []
    for b in picture.boards:
        link = links.get(b.source)
        boards.append(board_json(b, now, link.up if link else None, link.detail if link else ""))
    sources = [
        {
            "name": s.name,
            "up": s.up,
            "detail": s.detail,
            "bytes": s.bytes_in,
            "lines": s.lines,
            "fixes": s.fixes,
            "rejected": s.rejected_total,
            "rejected_by": dict(s.rejected),
        }
        for s in picture.sources
    ]
    return {
        "type": "frame",
        "t": round(now, 3),
        "minima": minima_json(minima),
        "tracks": tracks,
        "pairs": pairs,
        "boards": boards,
        "sources": sources,
    }
