"""Pictures of an event log (and the tracks it came from): PNG plots and one HTML page.

Inputs are what ``sepmon analyze`` writes (``--events`` JSONL, ``--tracks`` CSV) or the
live daemon's event log (no tracks: plots then show only what the events say).

Outputs in the chosen directory:

* ``map.png`` — every track in local east/north kilometres (equal scale on both
  axes), the stretches flown while a pair was alerting drawn over in the level's
  colour, and each pair's closest point of approach joined by a dashed line;
* ``pair-NN-<a>-<b>.png`` — per pair: horizontal range and vertical separation over
  time, the pair's minima as lines, the time spent at each alert level shaded, the
  closest approach marked;
* ``report.html`` — the same images embedded as ``data:`` URIs (no external files,
  safe to mail), per-pair summaries and the event table.
* ``playback.html`` — the live web view's page with the recording inside: tracks,
  pairs and events played back with a time slider and the alert timeline
  (:mod:`sepmon.presentation.playback`).

Which pairs: every pair that had a level event, plus (with tracks) the few closest
pairs that never alerted, so a quiet day still shows how close things came.

Broken input: an unreadable event line or track row is counted and skipped, and the
count is reported (on stderr by the command, and at the top of the page).  A missing
file, a file with no readable line at all, or a CSV without the track columns is a
:class:`~sepmon.core.errors.SepmonError`.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sepmon.core.config import Config
from sepmon.core.errors import SepmonError
from sepmon.core.geo import horizontal_range
from sepmon.core.model import Event, event_from_obj
from sepmon.presentation.playback import recording, write_playback

FloatArray = npt.NDArray[np.float64]

LEVEL_NAMES = {0: "none", 1: "advisory", 2: "caution", 3: "warning"}
LEVEL_COLOURS = {1: "#e6b800", 2: "#ff7f0e", 3: "#d62728"}
# Track colours: none of them red, orange or yellow, so alerts stand out.
TRACK_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#393b79")
MAP_SIZE_PX = (1000, 800)
PAIR_SIZE_PX = (1200, 700)
DPI = 100
MAX_ALERT_PAIRS = 20
MAP_MAX_CPA = 4
MAX_QUIET_PAIRS = 3
MAX_QUIET_SOURCES = 40  # beyond this many sources, quiet pairs are not searched (n² pairs)
MAX_TABLE_ROWS = 2000
TRACK_COLUMNS = ("t", "source", "lat", "lon")
WGS84_A = 6378137.0
WGS84_E2 = 6.69437999014e-3


# ---- loading ---------------------------------------------------------------------------------


@dataclass
class Skipped:
    """Lines of an input that could not be read: how many, and the first one's number."""

    count: int = 0
    first_line: int | None = None

    def add(self, line_no: int) -> None:
        """Count one bad line."""
        self.count += 1
        if self.first_line is None:
            self.first_line = line_no

    def describe(self, path: Path, what: str) -> str | None:
        """One line for the user, or None when nothing was skipped."""
        if not self.count:
            return None
        s = "" if self.count == 1 else "s"
        return f"{path}: skipped {self.count} unreadable {what}{s} (first at line {self.first_line})"


def _open_text(path: Path, what: str) -> Any:
    if not path.exists():
        raise SepmonError(f"{path}: no such file ({what})")
    if not path.is_file():
        raise SepmonError(f"{path}: not a regular file ({what})")
    try:
        return open(path, encoding="utf-8", errors="replace", newline="")
    except OSError as exc:
        raise SepmonError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load_events(path: str | Path) -> tuple[list[Event], Skipped]:
    """Read an event log; bad lines are counted and skipped, blank lines ignored."""
    p = Path(path)
    events: list[Event] = []
    skipped = Skipped()
    lines = 0
    with _open_text(p, "event log") as fh:
        try:
            for no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                lines += 1
                try:
                    ev = event_from_obj(json.loads(line))
                except ValueError:
                    ev = None
                if ev is None:
                    skipped.add(no)
                else:
                    events.append(ev)
        except OSError as exc:
            raise SepmonError(f"{p}: read failed: {exc.strerror or exc}") from None
    if lines and not events:
        raise SepmonError(f"{p}: no readable event in {lines} line(s) — is it a sepmon event log (JSONL)?")
    events.sort(key=lambda e: e.t)  # stable: a log is in order already; merged logs may not be
    return events, skipped


@dataclass
class RecordedTrack:
    """One source's fixes as arrays, in time order (``alt`` is NaN where unknown)."""

    source: str
    t: FloatArray
    lat: FloatArray
    lon: FloatArray
    alt: FloatArray


def _float(s: str | None) -> float:
    if s is None or s.strip() == "":
        return math.nan
    v = float(s)
    return v


def load_tracks(path: str | Path) -> tuple[dict[str, RecordedTrack], Skipped]:
    """Read a tracks CSV (``sepmon analyze --tracks``); bad rows are counted and skipped."""
    p = Path(path)
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    skipped = Skipped()
    with _open_text(p, "tracks CSV") as fh:
        try:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in TRACK_COLUMNS if c not in header]
            if missing:
                raise SepmonError(
                    f"{p}: not a sepmon tracks CSV (missing column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)})"
                )
            for row in reader:
                try:
                    t, lat, lon = float(row["t"]), float(row["lat"]), float(row["lon"])
                    alt = _float(row.get("alt_m"))
                    src = row["source"]
                    ok = all(math.isfinite(v) for v in (t, lat, lon)) and -90 <= lat <= 90 and src
                except (TypeError, ValueError):
                    ok = False
                if not ok:
                    skipped.add(reader.line_num)
                    continue
                rows.setdefault(src, []).append((t, lat, lon, alt))
        except (csv.Error, OSError) as exc:
            raise SepmonError(f"{p}: cannot read as CSV: {exc}") from None
    if skipped.count and not rows:
        raise SepmonError(f"{p}: no readable track row — is it a sepmon tracks CSV?")
    tracks = {}
    for src, rs in rows.items():
        arr = np.array(sorted(rs), dtype=np.float64)
        lon_c = np.rad2deg(np.unwrap(np.deg2rad(arr[:, 2])))  # continuous across the antimeridian
        tracks[src] = RecordedTrack(src, arr[:, 0], arr[:, 1], lon_c, arr[:, 3])
    return tracks, skipped


# ---- analysis --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A stretch of time a pair spent at one alert level (> 0)."""

    t0: float
    t1: float
    level: int


@dataclass
class Closest:
    """A pair's closest approach: time, horizontal range and vertical separation, positions."""

    t: float
    range_m: float
    vertical_m: float | None
    a_pos: tuple[float, float] | None = None  # lat, lon
    b_pos: tuple[float, float] | None = None


@dataclass
class PairReport:
    """Everything shown about one pair."""

    a: str
    b: str
    segments: list[Segment] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    t: FloatArray | None = None  # range series from the tracks, if any
    range_m: FloatArray | None = None
    vertical_m: FloatArray | None = None
    closest: Closest | None = None
    max_level: int = 0
    image: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Order-free identity of the pair."""
        return pair_key(self.a, self.b)

    def time_at(self, level: int) -> float:
        """Seconds spent at ``level``."""
        return sum(s.t1 - s.t0 for s in self.segments if s.level == level)


def pair_key(a: str, b: str) -> tuple[str, str]:
    """``(a, b)`` in sorted order."""
    return (a, b) if a <= b else (b, a)


def level_segments(events: Sequence[Event], t_end: float) -> list[Segment]:
    """The level events of one pair (in time order) → segments of level > 0, ending at ``t_end``."""
    segs = []
    for i, ev in enumerate(events):
        level = ev.level or 0
        if level <= 0:
            continue
        end = events[i + 1].t if i + 1 < len(events) else max(t_end, ev.t)
        segs.append(Segment(ev.t, end, level))
    return segs


def _gap_limit(t: FloatArray) -> float:
    if len(t) < 2:
        return 5.0
    return max(5.0, 5.0 * float(np.median(np.diff(t))))


def _interp_masked(grid: FloatArray, t: FloatArray, v: FloatArray, gap: float) -> FloatArray:
    """``v(t)`` at ``grid``; NaN outside the track and across gaps longer than ``gap``."""
    out = np.interp(grid, t, v)
    hi = np.clip(np.searchsorted(t, grid, side="left"), 1, len(t) - 1)
    lo = hi - 1
    exact = t[np.clip(np.searchsorted(t, grid), 0, len(t) - 1)] == grid
    bad = ((t[hi] - t[lo]) > gap) & ~exact
    bad |= (grid < t[0]) | (grid > t[-1])
    out[bad] = np.nan
    return out


def pair_series(ta: RecordedTrack, tb: RecordedTrack) -> tuple[FloatArray, FloatArray, FloatArray] | None:
    """Horizontal range and vertical separation over the union of both tracks' times."""
    if len(ta.t) < 1 or len(tb.t) < 1:
        return None
    lo, hi = max(ta.t[0], tb.t[0]), min(ta.t[-1], tb.t[-1])
    if hi < lo:
        return None
    grid = np.unique(np.concatenate([ta.t, tb.t]))
    grid = grid[(grid >= lo) & (grid <= hi)]
    if len(ta.t) == 1 or len(tb.t) == 1:
        grid = grid[:1]
    ga, gb = _gap_limit(ta.t), _gap_limit(tb.t)
    la, oa, aa = (_interp_masked(grid, ta.t, v, ga) for v in (ta.lat, ta.lon, ta.alt))
    lb, ob, ab = (_interp_masked(grid, tb.t, v, gb) for v in (tb.lat, tb.lon, tb.alt))
    ok = np.isfinite(la) & np.isfinite(lb)
    rng = np.full(grid.shape, np.nan)
    if ok.any():
        rng[ok] = horizontal_range(la[ok], oa[ok], lb[ok], ob[ok])
    return grid, rng, np.abs(ab - aa)


def _closest(pr: PairReport, tracks: dict[str, RecordedTrack]) -> Closest | None:
    if pr.range_m is not None and pr.t is not None and np.isfinite(pr.range_m).any():
        i = int(np.nanargmin(pr.range_m))
        t = float(pr.t[i])
        v = float(pr.vertical_m[i]) if pr.vertical_m is not None else math.nan
        pos = []
        for name in (pr.a, pr.b):
            tr = tracks[name]
            pos.append((float(np.interp(t, tr.t, tr.lat)), float(np.interp(t, tr.t, tr.lon))))
        return Closest(t, float(pr.range_m[i]), v if math.isfinite(v) else None, pos[0], pos[1])
    # Without tracks the closest approach is unknown: the event log has the range only when a
    # level changed (a 150 m miss logged its last change at 3.7 km), so none is stated.
    return None


def smallest_logged(pr: PairReport) -> Event | None:
    """The level event of the pair with the smallest range (what an event log alone can say)."""
    with_range = [e for e in pr.events if e.range_m is not None]
    return min(with_range, key=lambda e: e.range_m or math.inf) if with_range else None


def build_pairs(events: Sequence[Event], tracks: dict[str, RecordedTrack]) -> tuple[list[PairReport], int]:
    """The pairs to show (alerting first, then the closest quiet ones) and how many were left out."""
    by_pair: dict[tuple[str, str], list[Event]] = {}
    names: dict[tuple[str, str], tuple[str, str]] = {}
    for ev in events:
        if ev.type == "level" and ev.b is not None:
            k = pair_key(ev.a, ev.b)
            by_pair.setdefault(k, []).append(ev)
            names.setdefault(k, (ev.a, ev.b))
    t_end = max([e.t for e in events] + [float(tr.t[-1]) for tr in tracks.values() if len(tr.t)], default=0.0)
    reports = []
    for k, evs in by_pair.items():
        pr = PairReport(*names[k], events=evs)
        pr.segments = level_segments(evs, t_end)
        pr.max_level = max((e.level or 0 for e in evs), default=0)
        reports.append(pr)
    quiet: list[PairReport] = []
    if len(tracks) <= MAX_QUIET_SOURCES:
        srcs = sorted(tracks)
        for i, a in enumerate(srcs):
            for b in srcs[i + 1 :]:
                if (a, b) not in by_pair:
                    quiet.append(PairReport(a, b))
    for pr in reports + quiet:
        if pr.a in tracks and pr.b in tracks:
            series = pair_series(tracks[pr.a], tracks[pr.b])
            if series is not None:
                pr.t, pr.range_m, pr.vertical_m = series
        pr.closest = _closest(pr, tracks)

    def closeness(pr: PairReport) -> float:
        return pr.closest.range_m if pr.closest is not None else math.inf

    reports.sort(key=lambda pr: (-pr.max_level, closeness(pr)))
    quiet = sorted((q for q in quiet if q.closest is not None), key=closeness)
    shown = reports[:MAX_ALERT_PAIRS] + quiet[:MAX_QUIET_PAIRS]
    left_out = max(0, len(reports) - MAX_ALERT_PAIRS)
    return shown, left_out


# ---- formatting ------------------------------------------------------------------------------


def utc(t: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Unix seconds → UTC text."""
    return datetime.fromtimestamp(t, UTC).strftime(fmt)


def dist(m: float | None) -> str:
    """``147 m`` / ``3.97 km`` / ``—``."""
    if m is None or not math.isfinite(m):
        return "—"
    return f"{m / 1000:.2f} km" if abs(m) >= 1000 else f"{m:.0f} m"


def duration(s: float) -> str:
    """``1 min 04 s`` / ``12 s``."""
    s = round(s)
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:40] or "x"


# ---- plots -----------------------------------------------------------------------------------


def _figure(size_px: tuple[int, int]) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise SepmonError("sepmon report needs matplotlib (pip install matplotlib)") from None
    fig = Figure(figsize=(size_px[0] / DPI, size_px[1] / DPI), dpi=DPI)
    FigureCanvasAgg(fig)  # Agg, no GUI and no global pyplot state
    return fig


def _save(fig: Any, path: Path) -> None:
    try:
        fig.savefig(path, dpi=DPI, format="png")
    except OSError as exc:
        raise SepmonError(f"cannot write {path}: {exc.strerror or exc}") from None


def local_km(lat: FloatArray, lon: FloatArray, lat0: float, lon0: float) -> tuple[FloatArray, FloatArray]:
    """East/north kilometres from (lat0, lon0) on the WGS84 ellipsoid's local radii.

    Good to a fraction of a percent over the tens of kilometres of an encounter.
    """
    s2 = math.sin(math.radians(lat0)) ** 2
    n = WGS84_A / math.sqrt(1 - WGS84_E2 * s2)
    m = WGS84_A * (1 - WGS84_E2) / (1 - WGS84_E2 * s2) ** 1.5
    east = np.deg2rad(lon - lon0) * n * math.cos(math.radians(lat0)) / 1000.0
    north = np.deg2rad(lat - lat0) * m / 1000.0
    return east, north


def render_map(tracks: dict[str, RecordedTrack], pairs: Sequence[PairReport], path: Path) -> None:
    """``map.png``: tracks, alerting stretches by level, closest approaches."""
    from matplotlib.lines import Line2D

    fig = _figure(MAP_SIZE_PX)
    ax = fig.add_subplot(1, 1, 1)
    all_lat = np.concatenate([tr.lat for tr in tracks.values()])
    all_lon = np.concatenate([tr.lon for tr in tracks.values()])
    lat0 = float((np.nanmin(all_lat) + np.nanmax(all_lat)) / 2)
    lon0 = float((np.nanmin(all_lon) + np.nanmax(all_lon)) / 2)
    xy = {name: local_km(tr.lat, tr.lon, lat0, lon0) for name, tr in tracks.items()}
    colour = {name: TRACK_COLOURS[i % len(TRACK_COLOURS)] for i, name in enumerate(sorted(tracks))}
    # Alert stretches first (underneath), lowest level first so the highest shows on top.
    segs = sorted(((s, pr) for pr in pairs for s in pr.segments), key=lambda x: x[0].level)
    for seg, pr in segs:
        for name in (pr.a, pr.b):
            if name not in tracks:
                continue
            tr = tracks[name]
            m = (tr.t >= seg.t0) & (tr.t <= seg.t1)
            if m.sum() >= 1:
                x, y = xy[name]
                ax.plot(
                    x[m],
                    y[m],
                    color=LEVEL_COLOURS[seg.level],
                    lw=9,
                    alpha=0.75,
                    solid_capstyle="round",
                    zorder=2,
                )
    for name in sorted(tracks):
        x, y = xy[name]
        c = colour[name]
        ax.plot(x, y, color=c, lw=1.6, zorder=3)
        ax.plot(x[0], y[0], "o", mfc="white", mec=c, ms=7, zorder=4)
        if len(x) >= 2:
            heading = math.degrees(math.atan2(y[-1] - y[-2], x[-1] - x[-2]))
            ax.plot(x[-1], y[-1], marker=(3, 0, heading - 90), color=c, ms=11, zorder=4)
        ax.annotate(
            name,
            (x[0], y[0]),
            xytext=(6, 6),
            textcoords="offset points",
            color=c,
            fontsize=10,
            fontweight="bold",
            zorder=5,
        )
    # The closest approaches of the most serious pairs only: more labels would bury the tracks.
    marked = [pr for pr in pairs if pr.closest is not None and pr.closest.a_pos is not None]
    for pr in marked[:MAP_MAX_CPA]:
        cl = pr.closest
        if cl is None or cl.a_pos is None or cl.b_pos is None:
            continue
        (xa, ya), (xb, yb) = (
            local_km(np.array([p[0]]), np.array([p[1]]), lat0, lon0) for p in (cl.a_pos, cl.b_pos)
        )
        ax.plot([xa[0], xb[0]], [ya[0], yb[0]], "k--", lw=1.2, zorder=6)
        ax.plot([xa[0], xb[0]], [ya[0], yb[0]], "k*", ms=12, zorder=6)
        label = f"CPA {pr.a}↔{pr.b}: {dist(cl.range_m)}, {utc(cl.t, '%H:%M:%S')}Z"
        ax.annotate(
            label,
            ((xa[0] + xb[0]) / 2, (ya[0] + yb[0]) / 2),
            xytext=(10, -16),
            textcoords="offset points",
            fontsize=9,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.6", "alpha": 0.9},
            zorder=7,
        )
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(True, color="0.85", lw=0.6)
    ax.set_xlabel("east (km)")
    ax.set_ylabel("north (km)")
    ax.set_title(
        f"Tracks around {abs(lat0):.4f}°{'N' if lat0 >= 0 else 'S'} "
        f"{abs(lon0):.4f}°{'E' if lon0 >= 0 else 'W'}  (○ start, ▲ end)"
    )
    handles = [Line2D([], [], color=colour[n], lw=2, label=n) for n in sorted(tracks)][:12]
    handles += [
        Line2D([], [], color=LEVEL_COLOURS[lv], lw=8, alpha=0.75, label=LEVEL_NAMES[lv])
        for lv in (1, 2, 3)
        if any(s.level == lv for pr in pairs for s in pr.segments)
    ]
    if marked:
        label = "closest approach" if len(marked) <= MAP_MAX_CPA else f"closest approach (top {MAP_MAX_CPA})"
        handles.append(Line2D([], [], color="k", ls="--", marker="*", label=label))
    ax.legend(handles=handles, loc="best", fontsize=9, framealpha=0.9)
    fig.tight_layout()
    _save(fig, path)


def _dates(t: Iterable[float] | FloatArray) -> list[datetime]:
    return [datetime.fromtimestamp(float(x), UTC) for x in t]


def render_pair(pr: PairReport, config: Config, path: Path) -> None:
    """Range and vertical separation over time for one pair, levels shaded."""
    import matplotlib.dates as mdates
    from matplotlib.patches import Patch

    rule = config.rule_for(pr.a, pr.b)
    fig = _figure(PAIR_SIZE_PX)
    ax_h, ax_v = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    for ax in (ax_h, ax_v):
        for seg in pr.segments:
            d0, d1 = _dates([seg.t0, seg.t1])
            ax.axvspan(d0, d1, color=LEVEL_COLOURS[seg.level], alpha=0.28, lw=0)
        ax.grid(True, color="0.85", lw=0.6)
    if pr.t is not None and pr.range_m is not None and pr.vertical_m is not None:
        d = _dates(pr.t)
        ax_h.plot(d, pr.range_m / 1000, color="#1f77b4", lw=1.8, label="horizontal range")
        ax_v.plot(d, pr.vertical_m, color="#2ca02c", lw=1.5, label="vertical separation")
    ev = [e for e in pr.events if e.range_m is not None]
    if ev:
        ax_h.plot(
            _dates(e.t for e in ev),
            [(e.range_m or 0) / 1000 for e in ev],
            "kD",
            ms=5,
            label="level change (monitor)",
        )
    ev = [e for e in pr.events if e.vertical_m is not None]
    if ev:
        ax_v.plot(_dates(e.t for e in ev), [e.vertical_m for e in ev], "kD", ms=5)
    h_km = rule.horizontal_m / 1000
    ax_h.axhline(h_km, color="#d62728", lw=1.5, label=f"minimum {dist(rule.horizontal_m)}")
    ax_h.axhline(
        h_km * rule.caution_factor, color="#ff7f0e", lw=1, ls="--", label=f"caution ×{rule.caution_factor:g}"
    )
    ax_h.axhline(
        h_km * rule.advisory_factor,
        color="#e6b800",
        lw=1,
        ls="--",
        label=f"advisory ×{rule.advisory_factor:g}",
    )
    ax_v.axhline(rule.vertical_m, color="#d62728", lw=1.5, label=f"minimum {dist(rule.vertical_m)}")
    cl = pr.closest
    if cl is not None:
        (dc,) = _dates([cl.t])
        ax_h.plot([dc], [cl.range_m / 1000], "k*", ms=14, zorder=5)
        ax_h.annotate(
            f"closest {dist(cl.range_m)} at {utc(cl.t, '%H:%M:%S')}Z",
            (dc, cl.range_m / 1000),
            xytext=(12, 12),
            textcoords="offset points",
            fontsize=10,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.6"},
        )
        if cl.vertical_m is not None:
            ax_v.plot([dc], [cl.vertical_m], "k*", ms=12, zorder=5)
    ax_h.set_ylim(bottom=0)
    ax_v.set_ylim(bottom=0)
    ax_h.set_ylabel("horizontal range (km)")
    ax_v.set_ylabel("vertical separation (m)")
    ax_v.set_xlabel("time (UTC)")
    ax_v.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=UTC))  # type: ignore[no-untyped-call]
    ax_h.set_title(f"{pr.a} ↔ {pr.b}: highest level {LEVEL_NAMES[pr.max_level]}")
    handles, _ = ax_h.get_legend_handles_labels()
    handles += [
        Patch(color=LEVEL_COLOURS[lv], alpha=0.28, label=LEVEL_NAMES[lv])
        for lv in (1, 2, 3)
        if any(s.level == lv for s in pr.segments)
    ]
    # Legends beside the plots, never over the curve.
    ax_h.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    ax_v.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    fig.tight_layout()
    _save(fig, path)


# ---- HTML ------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1250px;
color:#222;padding:0 1em}
h1{margin-bottom:.2em} .meta{color:#666} img{max-width:100%;border:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;width:100%}
th,td{padding:.25em .6em;border-bottom:1px solid #eee;text-align:left}
th{background:#f4f4f4;position:sticky;top:0} td.num{text-align:right;font-variant-numeric:tabular-nums}
.lv1{background:#fff3bf} .lv2{background:#ffd8a8} .lv3{background:#ffc9c9} .lv0{background:#d3f9d8}
.warn{background:#fff3bf;border:1px solid #e6b800;padding:.5em 1em;margin:1em 0}
section.pair{margin:2em 0}
"""


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _level_cell(level: int | None) -> str:
    if level is None:
        return "<td></td>"
    return f'<td class="lv{level}">{LEVEL_NAMES.get(level, str(level))}</td>'


def _event_row(ev: Event) -> str:
    def num(v: float | None, fmt: str = "{:.0f}") -> str:
        return f'<td class="num">{"" if v is None else fmt.format(v)}</td>'

    what = f"{ev.a} ↔ {ev.b}" if ev.b else ev.a
    change = ""
    if ev.type == "level":
        arrow = "↑" if (ev.level or 0) > (ev.prev_level or 0) else "↓"
        change = f"{arrow} {LEVEL_NAMES.get(ev.prev_level or 0, '?')} → "
    cls = f' class="lv{ev.level}"' if ev.type == "level" and ev.level is not None else ""
    level = (
        f"<td{cls}>{html.escape(change)}{LEVEL_NAMES.get(ev.level, '') if ev.level is not None else ''}</td>"
    )
    detail = ev.detail or ("track lost" if ev.lost else "")
    return (
        f'<tr class="ev"><td>{utc(ev.t)}</td>'
        f"<td>{html.escape(ev.type)}</td><td>{html.escape(what)}</td>{level}"
        f"{num(ev.range_m)}{num(ev.vertical_m)}{num(ev.bearing_deg)}{num(ev.tcpa_s)}{num(ev.cpa_m)}"
        f"<td>{html.escape(detail[:200])}</td></tr>"
    )


def render_html(
    path: Path,
    *,
    title: str,
    inputs: Sequence[Path],
    events: Sequence[Event],
    tracks: dict[str, RecordedTrack],
    pairs: Sequence[PairReport],
    map_png: Path | None,
    left_out: int,
    warnings: Sequence[str],
) -> None:
    """``report.html``: everything in one file."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    times = [e.t for e in events] + [float(x) for tr in tracks.values() for x in (tr.t[0], tr.t[-1])]
    span = f"{utc(min(times))} – {utc(max(times), '%H:%M:%S')} UTC" if times else "no data"
    out.append(
        f'<p class="meta">{span} · {len(tracks) or "no"} track(s) · {len(events)} event(s) · '
        f"from {', '.join(html.escape(p.name) for p in inputs)}</p>"
    )
    for w in warnings:
        out.append(f'<p class="warn">{html.escape(w)}</p>')
    # Named, not linked: this page is self-contained (safe to mail on its own).
    out.append(
        '<p class="meta">Beside this page, <code>playback.html</code> plays it back: the tracks, '
        "the pairs and the alert timeline in the live web view's page, with a time slider.</p>"
    )
    out.append("<h2>Pairs</h2>")
    if pairs:
        out.append(
            "<table><tr><th>pair</th><th>highest level</th><th>closest</th><th>vertical there</th>"
            "<th>when</th><th>advisory</th><th>caution</th><th>warning</th></tr>"
        )
        for pr in pairs:
            cl = pr.closest
            out.append(
                f'<tr class="pair"><td><a href="#{html.escape(_anchor(pr))}">'
                f"{html.escape(pr.a)} ↔ {html.escape(pr.b)}</a></td>"
                f"{_level_cell(pr.max_level)}<td class='num'>{dist(cl.range_m) if cl else 'unknown'}</td>"
                f"<td class='num'>{dist(cl.vertical_m if cl else None)}</td>"
                f"<td>{utc(cl.t, '%H:%M:%S') + 'Z' if cl else ''}</td>"
                + "".join(
                    f"<td class='num'>{duration(pr.time_at(lv)) if pr.time_at(lv) else ''}</td>"
                    for lv in (1, 2, 3)
                )
                + "</tr>"
            )
        out.append("</table>")
        if left_out:
            out.append(f'<p class="meta">{left_out} more alerting pair(s) not shown.</p>')
    else:
        out.append("<p>No pair came into view: no level event and no two overlapping tracks.</p>")
    out.append("<h2>Map</h2>")
    if map_png is not None:
        out.append(_img(map_png, "map of the tracks"))
    else:
        out.append(
            "<p>No tracks given: write them with <code>sepmon run --tracks FILE.csv</code> or "
            "<code>sepmon analyze --tracks FILE.csv</code> for a map and the closest approaches.</p>"
        )
    for pr in pairs:
        out.append(f'<section class="pair" id="{html.escape(_anchor(pr))}">')
        out.append(f"<h2>{html.escape(pr.a)} ↔ {html.escape(pr.b)}</h2>")
        cl = pr.closest
        facts = [f"highest level <b>{LEVEL_NAMES[pr.max_level]}</b>"]
        if cl is not None:
            facts.append(
                f"closest approach <b>{dist(cl.range_m)}</b> horizontal, {dist(cl.vertical_m)} vertical, "
                f"at {utc(cl.t)} UTC"
            )
        elif (low := smallest_logged(pr)) is not None:
            facts.append(
                "closest approach unknown without tracks (the event log has the range only when the "
                f"level changed; the smallest logged, {dist(low.range_m)} at {utc(low.t)} UTC, is not it)"
            )
        for lv in (3, 2, 1):
            if pr.time_at(lv):
                facts.append(f"{duration(pr.time_at(lv))} at {LEVEL_NAMES[lv]}")
        out.append(f"<p>{'; '.join(facts)}.</p>")
        if pr.image is not None:
            out.append(_img(path.parent / pr.image, f"range over time, {pr.a} and {pr.b}"))
        out.append("</section>")
    out.append("<h2>Events</h2>")
    if events:
        out.append(
            "<table><tr><th>time (UTC)</th><th>type</th><th>pair / source</th><th>level</th>"
            "<th>range m</th><th>vertical m</th><th>bearing °</th><th>TCPA s</th><th>CPA m</th>"
            "<th>detail</th></tr>"
        )
        out.extend(_event_row(ev) for ev in events[:MAX_TABLE_ROWS])
        out.append("</table>")
        if len(events) > MAX_TABLE_ROWS:
            out.append(f'<p class="meta">{len(events) - MAX_TABLE_ROWS} more event(s) not listed.</p>')
    else:
        out.append("<p>No events.</p>")
    out.append("</body></html>")
    try:
        path.write_text("\n".join(out) + "\n", encoding="utf-8")
    except OSError as exc:
        raise SepmonError(f"cannot write {path}: {exc.strerror or exc}") from None


def _anchor(pr: PairReport) -> str:
    return f"pair-{_safe(pr.a)}-{_safe(pr.b)}"


# ---- the whole report ------------------------------------------------------------------------


@dataclass
class ReportResult:
    """What was written, and what was wrong with the input."""

    html: Path
    images: list[Path]
    pairs: list[PairReport]
    warnings: list[str]


def build_report(
    events_path: str | Path,
    tracks_path: str | Path | None,
    outdir: str | Path,
    *,
    config: Config | None = None,
    title: str = "sepmon report",
) -> ReportResult:
    """Read the inputs, draw the plots, write the page; returns the files written."""
    config = config or Config()
    ev_path = Path(events_path)
    events, ev_skipped = load_events(ev_path)
    warnings = [w for w in (ev_skipped.describe(ev_path, "event line"),) if w]
    tracks: dict[str, RecordedTrack] = {}
    inputs = [ev_path]
    if tracks_path is not None:
        tr_path = Path(tracks_path)
        inputs.append(tr_path)
        raw, tr_skipped = load_tracks(tr_path)
        tracks = {config.canonical(k): v for k, v in raw.items()}
        w = tr_skipped.describe(tr_path, "track row")
        if w:
            warnings.append(w)
    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SepmonError(f"cannot create {out}: {exc.strerror or exc}") from None
    pairs, left_out = build_pairs(events, tracks)
    images = []
    map_png = None
    if tracks:
        map_png = out / "map.png"
        render_map(tracks, pairs, map_png)
        images.append(map_png)
    for i, pr in enumerate(pairs, 1):
        if pr.t is None and not pr.events:
            continue
        name = f"pair-{i:02d}-{_safe(pr.a)}-{_safe(pr.b)}.png"
        render_pair(pr, config, out / name)
        pr.image = name
        images.append(out / name)
    rec = recording(events, tracks, minima=config.default_rule, stale_s=config.stale_s)
    write_playback(out / "playback.html", rec, title)
    html_path = out / "report.html"
    render_html(
        html_path,
        title=title,
        inputs=inputs,
        events=events,
        tracks=tracks,
        pairs=pairs,
        map_png=map_png,
        left_out=left_out,
        warnings=warnings,
    )
    return ReportResult(html_path, images, pairs, warnings)
