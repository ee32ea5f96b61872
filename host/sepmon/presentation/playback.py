"""The playback page of ``sepmon report``: the web view's own front end, a recording inside.

One self-contained HTML file (the page's script and style inlined, the recording as
JSON in a ``<script type="application/json">``): it opens from disk or a mail
attachment without a server and fetches nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from sepmon.core.errors import SepmonError
from sepmon.core.model import Event, Minima
from sepmon.outputs.web.frame import STALE_AFTER_S, minima_json
from sepmon.outputs.web.server import asset

FloatArray = npt.NDArray[np.float64]
MAX_SAMPLES = 400_000  # positions in one page; beyond this each track is thinned evenly


class TrackSamples(Protocol):
    """One source's positions in time order (``alt`` NaN where unknown), e.g. the report's tracks."""

    @property
    def t(self) -> FloatArray: ...
    @property
    def lat(self) -> FloatArray: ...
    @property
    def lon(self) -> FloatArray: ...
    @property
    def alt(self) -> FloatArray: ...


def _asset(name: str) -> str:
    return asset(name).decode("utf-8")


def _f(v: float | None, nd: int) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return round(v, nd)


def recording(
    events: Sequence[Event],
    tracks: Mapping[str, TrackSamples],
    *,
    minima: Minima,
    stale_s: float,
) -> dict[str, Any]:
    """What the page plays: tracks, each pair's level events, all events, and what is missing."""
    lacks: list[str] = []
    total = sum(len(tr.t) for tr in tracks.values())
    step = max(1, math.ceil(total / MAX_SAMPLES))
    if step > 1:
        lacks.append(f"Positions thinned to every {step}th fix to keep the page small.")
    out_tracks: dict[str, dict[str, list[Any]]] = {}
    for name, tr in tracks.items():
        idx = range(0, len(tr.t), step)
        out_tracks[name] = {
            "t": [round(float(tr.t[i]), 3) for i in idx],
            "lat": [round(float(tr.lat[i]), 7) for i in idx],
            "lon": [round(float(tr.lon[i]), 7) for i in idx],
            "alt": [_f(float(tr.alt[i]), 1) for i in idx],
        }
    if not tracks:
        lacks.append(
            "This recording has no tracks file: positions, the map and the closest approach of each "
            "pair are unknown (the event log gives the range only when a level changed). "
            "Write one with `sepmon run --tracks FILE` or `sepmon analyze --tracks FILE`."
        )
    lacks.append("Board patterns are not part of a recording: the boards panel is in the live view only.")
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    all_events = []
    for ev in events:
        d = json.loads(ev.to_json())
        all_events.append(d)
        if ev.type == "level" and ev.b is not None:
            key = (ev.a, ev.b) if ev.a <= ev.b else (ev.b, ev.a)
            pairs.setdefault(key, {"a": key[0], "b": key[1], "events": []})["events"].append(d)
    sources: dict[str, dict[str, Any]] = {}
    for ev in events:
        if ev.type == "source_stats" and ev.detail:
            try:
                counts = json.loads(ev.detail)
            except ValueError:
                continue
            if isinstance(counts, dict):
                rejected = {k: v for k, v in counts.items() if k not in ("lines", "fixes", "ignored")}
                sources[ev.a] = {
                    "name": ev.a,
                    "up": None,
                    "lines": counts.get("lines"),
                    "fixes": counts.get("fixes"),
                    "rejected": sum(v for v in rejected.values() if isinstance(v, int)),
                    "rejected_by": rejected,
                }
    for name in tracks:
        sources.setdefault(name, {"name": name, "up": None})
    times = [e.t for e in events] + [x for tr in out_tracks.values() for x in tr["t"][:1] + tr["t"][-1:]]
    t0, t1 = (min(times), max(times)) if times else (0.0, 0.0)
    return {
        "t0": t0,
        "t1": t1,
        "stale_s": stale_s,
        "stale_after_s": min(STALE_AFTER_S, stale_s),
        "minima": minima_json(minima),
        "tracks": out_tracks,
        "pairs": sorted(pairs.values(), key=lambda p: (p["a"], p["b"])),
        "events": all_events,
        "sources": sorted(sources.values(), key=lambda s: s["name"]),
        "lacks": lacks,
    }


def playback_html(rec: Mapping[str, Any], title: str) -> str:
    """The page: the live view's HTML with its script, style and the recording inlined."""
    page = _asset("index.html")
    css, js = _asset("app.css"), _asset("app.js")
    data = json.dumps(rec, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    if "</script" in js.lower() or "</style" in css.lower():
        raise ValueError("the page's script or style would end its own element")
    replacements = {
        '<link rel="icon" href="favicon.svg" type="image/svg+xml">\n': "",
        '<link rel="stylesheet" href="app.css">': f"<style>{css}</style>",
        '<script src="app.js"></script>': (
            f'<script type="application/json" id="recording">{data}</script>\n<script>{js}</script>'
        ),
        '<body data-mode="live">': '<body data-mode="playback">',
        "<title>sepmon</title>": f"<title>{escape(title)}</title>",
    }
    for old, new in replacements.items():
        if old not in page:
            raise ValueError(f"the page template lacks {old!r}")
        page = page.replace(old, new)
    return page


def write_playback(path: Path, rec: Mapping[str, Any], title: str) -> None:
    """Write the page; ``SepmonError`` when it cannot be written."""
    try:
        path.write_text(playback_html(rec, title), encoding="utf-8")
    except OSError as exc:
        raise SepmonError(f"cannot write {path}: {exc.strerror or exc}") from None
