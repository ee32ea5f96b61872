"""``sepmon check``: recordings judged against the expectations written beside them.

Each recording ``X.nmea`` has ``X.check.toml`` next to it, plain TOML a person
reads and edits::

    [check]
    config = "site.toml"            # optional: the sepmon configuration, relative to this file

    [[pair]]
    pair = ["alpha", "bravo"]
    reaches = "WARNING"             # the pair reaches WARNING ...
    lead_s = 20.0                   # ... at least 20 s before the minima are first violated
    by_s = 15.0                     # ... and at most 15 s after the recording starts
    max = "WARNING"                 # and never rises above WARNING ("NONE": never alerts)

    [[board]]
    board = "alpha"
    shows = "warning"               # the board shows this pattern at some point (by_s optional)
    acknowledges = true             # and acknowledges every alert (needs boards in the loop)

    [[source]]
    source = "charlie"
    lost_and_regained = true        # or never_lost = true

    [run]
    no_traceback = true             # nothing crashed, the daemon exited cleanly
    no_data_loss = true             # every line is accounted for in the statistics

A run of a recording (offline through :func:`observe_offline`, or live through
:mod:`sepmon.apps.checklive`) gives an :class:`Observation`; :func:`evaluate`
judges every expectation against it (pass, fail or skip, with what was expected,
what was seen and where in the recording); :func:`propose` writes expectations
from an observation (``--update``); :func:`junit_xml` gives the JUnit XML report.

Times are seconds from the recording's start (its earliest receive time), at
speed 1, whichever way it was run.  "The first violation" of a pair is the
first fix of either source at which the two measured positions (the other one
interpolated) are inside both minima of the pair's rule.
"""

from __future__ import annotations

import difflib
import math
import time
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

import numpy as np
import tomlkit

from sepmon.apps.analyze import read_recording, run_analysis
from sepmon.apps.configfile import load_config
from sepmon.apps.replay import load_recording
from sepmon.core.config import Config
from sepmon.core.errors import SepmonError
from sepmon.core.geo import horizontal_range
from sepmon.core.ingest import NmeaIngest
from sepmon.core.model import Event, Level, SourceStats
from sepmon.core.track import clock_time

EXPECT_SUFFIX = ".check.toml"
RECORDING_SUFFIXES = (".nmea", ".log", ".txt")
ALERT_PATTERNS = ("clear", "advisory", "caution", "warning")  # the pattern of level 0..3
BOARD_PATTERNS = (*ALERT_PATTERNS, "offline", "nogps", "degraded")
MAX_GAP_S = 2.5  # a fix of the other source further away than this is not interpolated across
LATENCY_S = 0.5  # what --update leaves for a live run on top of one fix interval

Status = Literal["pass", "fail", "skip"]


class CheckError(SepmonError):
    """A bad expectation file or a recording that cannot be checked (exit status 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=2)


# ---- expectations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """One thing a run must show.

    ``kind`` is one of ``reaches``, ``max``, ``shows``, ``acknowledges``,
    ``lost_and_regained``, ``never_lost``, ``no_traceback``, ``no_data_loss``;
    ``subject`` the pair (``alpha/bravo``), board or source it is about (``run``
    for the last two); ``args`` its numbers and names.
    """

    kind: str
    subject: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line a person reads in the table and in JUnit: what is expected."""
        a = self.args
        if self.kind == "reaches":
            text = f"{self.subject} reaches {a['level']}"
            if a.get("lead_s") is not None:
                text += f" ≥ {a['lead_s']:g} s before the first violation"
            if a.get("by_s") is not None:
                text += f" by +{a['by_s']:g} s"
            return text
        if self.kind == "max":
            return f"{self.subject} never above {a['level']}"
        if self.kind == "shows":
            by = f" by +{a['by_s']:g} s" if a.get("by_s") is not None else ""
            return f"board {self.subject} shows {a['pattern']}{by}"
        if self.kind == "acknowledges":
            return f"board {self.subject} acknowledges every alert"
        if self.kind == "lost_and_regained":
            return f"source {self.subject} is lost and regained"
        if self.kind == "never_lost":
            return f"source {self.subject} is never lost"
        if self.kind == "no_traceback":
            return "no traceback, clean exit"
        return "no data loss: every line accounted for"


@dataclass
class ExpectationFile:
    """The expectations of one recording, and the configuration it is judged with."""

    path: Path
    items: list[Expectation] = field(default_factory=list)
    config_path: Path | None = None


def expectation_path(recording: str | Path) -> Path:
    """``session.nmea`` → ``session.check.toml`` (beside it)."""
    p = Path(recording)
    return p.with_name(p.stem + EXPECT_SUFFIX)


def find_recordings(paths: Sequence[str | Path]) -> list[Path]:
    """The recordings named, a directory standing for the recordings in it (not recursive).

    In a directory a recording is a ``.nmea``/``.log``/``.txt`` file, or any file
    with an expectation file beside it.
    """
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            inside = sorted(
                f
                for f in p.iterdir()
                if f.is_file()
                and not f.name.endswith(EXPECT_SUFFIX)
                and (f.suffix in RECORDING_SUFFIXES or expectation_path(f).is_file())
            )
            if not inside:
                raise CheckError(f"{p}: no recordings in this directory (*.nmea, *.log, *.txt)")
            found += inside
        elif p.is_file():
            found.append(p)
        else:
            raise CheckError(f"{p}: no such file or directory")
    return found


def _level(where: str, value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in Level.__members__:
        raise CheckError(f"{where}: expected one of {', '.join(Level.__members__)}, got {value!r}")
    return value.upper()


def _seconds(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CheckError(f"{where}: expected a number of seconds, got {value!r}")
    return float(value)


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise CheckError(f"{where}: expected a source name, got {value!r}")
    return value


def _flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise CheckError(f"{where}: expected true or false, got {value!r}")
    return value


def _tables(where: str, value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise CheckError(f"{where}: expected [[{where.rsplit(':', 1)[-1].strip()}]] tables")
    return value


def _unknown(where: str, table: Mapping[str, Any], known: Iterable[str]) -> None:
    extra = sorted(set(table) - set(known))
    if extra:
        raise CheckError(f"{where}: unknown key {extra[0]!r} (known: {', '.join(sorted(known))})")


def pair_name(a: str, b: str) -> str:
    """The one spelling of a pair: names sorted, ``a/b``."""
    x, y = sorted((a, b))
    return f"{x}/{y}"


def parse_expectations(data: Mapping[str, Any], path: Path) -> ExpectationFile:
    """Validate parsed TOML; every problem is a :class:`CheckError` naming the table and key."""
    out = ExpectationFile(path)
    _unknown(f"{path}", data, ("check", "pair", "board", "source", "run"))
    check = data.get("check", {})
    if not isinstance(check, dict):
        raise CheckError(f"{path}: [check] must be a table")
    _unknown(f"{path}: [check]", check, ("config",))
    if "config" in check:
        cfg = check["config"]
        if not isinstance(cfg, str) or not cfg:
            raise CheckError(f"{path}: [check] config: expected a file name, got {cfg!r}")
        out.config_path = (path.parent / cfg).resolve()
    for i, t in enumerate(_tables(f"{path}: pair", data.get("pair", []))):
        where = f"{path}: [[pair]] #{i + 1}"
        _unknown(where, t, ("pair", "reaches", "lead_s", "by_s", "max"))
        pair = t.get("pair")
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) and x for x in pair)):
            raise CheckError(f"{where}: pair: expected two source names, got {pair!r}")
        if pair[0] == pair[1]:
            raise CheckError(f"{where}: pair: a source is not a pair with itself")
        subject = pair_name(pair[0], pair[1])
        if "reaches" in t:
            args: dict[str, Any] = {"level": _level(f"{where}: reaches", t["reaches"])}
            for key in ("lead_s", "by_s"):
                if key in t:
                    args[key] = _seconds(f"{where}: {key}", t[key])
            out.items.append(Expectation("reaches", subject, args))
        elif "lead_s" in t or "by_s" in t:
            raise CheckError(f"{where}: lead_s and by_s need reaches = LEVEL")
        if "max" in t:
            out.items.append(Expectation("max", subject, {"level": _level(f"{where}: max", t["max"])}))
        if "reaches" not in t and "max" not in t:
            raise CheckError(f"{where}: says nothing (give reaches = LEVEL and/or max = LEVEL)")
    for i, t in enumerate(_tables(f"{path}: board", data.get("board", []))):
        where = f"{path}: [[board]] #{i + 1}"
        _unknown(where, t, ("board", "shows", "by_s", "acknowledges"))
        name = _name(f"{where}: board", t.get("board"))
        if "shows" in t:
            pattern = t["shows"]
            if pattern not in BOARD_PATTERNS:
                raise CheckError(
                    f"{where}: shows: expected one of {', '.join(BOARD_PATTERNS)}, got {pattern!r}"
                )
            args = {"pattern": pattern}
            if "by_s" in t:
                args["by_s"] = _seconds(f"{where}: by_s", t["by_s"])
            out.items.append(Expectation("shows", name, args))
        elif "by_s" in t:
            raise CheckError(f"{where}: by_s needs shows = PATTERN")
        if t.get("acknowledges") is not None and _flag(f"{where}: acknowledges", t["acknowledges"]):
            out.items.append(Expectation("acknowledges", name))
    for i, t in enumerate(_tables(f"{path}: source", data.get("source", []))):
        where = f"{path}: [[source]] #{i + 1}"
        _unknown(where, t, ("source", "lost_and_regained", "never_lost"))
        name = _name(f"{where}: source", t.get("source"))
        for key in ("lost_and_regained", "never_lost"):
            if key in t and _flag(f"{where}: {key}", t[key]):
                out.items.append(Expectation(key, name))
    run = data.get("run", {})
    if not isinstance(run, dict):
        raise CheckError(f"{path}: [run] must be a table")
    _unknown(f"{path}: [run]", run, ("no_traceback", "no_data_loss"))
    for key in ("no_traceback", "no_data_loss"):
        if key in run and _flag(f"{path}: [run] {key}", run[key]):
            out.items.append(Expectation(key, "run"))
    return out


def load_expectations(path: str | Path) -> ExpectationFile:
    """Read an expectation file; a missing or bad one is a :class:`CheckError`."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise CheckError(
            f"{p}: no expectation file (write one from the current behaviour with --update)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckError(f"{p}: cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CheckError(f"{p}: not valid TOML: {exc}") from None
    return parse_expectations(data, p)


# ---- what a run showed --------------------------------------------------------------------


@dataclass(frozen=True)
class LevelChange:
    """A pair's level changed at ``t`` (recording seconds)."""

    t: float
    pair: str
    level: int


@dataclass
class Observation:
    """What one run of a recording showed, in recording seconds from its start.

    ``boards_seen``: per board, the (t, pattern) changes a board in the loop showed
    (virtual boards only: a real board's lights are not visible to the host);
    ``boards_in_loop``: the sources whose port was a board (virtual or real);
    ``silent``: when a board in the loop stopped acknowledging; ``problems``:
    crashes, tracebacks, bad exit statuses; ``losses``: lines not accounted for.
    """

    mode: str
    recording: Path
    start: float
    duration: float
    sources: list[str]
    levels: list[LevelChange] = field(default_factory=list)
    tracks: list[tuple[float, str, str]] = field(default_factory=list)  # (t, lost|regained|acquired, source)
    violations: dict[str, float | None] = field(default_factory=dict)
    boards_seen: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    boards_in_loop: set[str] = field(default_factory=set)
    silent: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    fix_interval_s: float = 1.0
    wall_s: float = 0.0

    def where(self, t: float) -> str:
        """``+12.3 s (10:00:12.3Z)``: a time in the recording a person can find in the file."""
        clock = datetime.fromtimestamp(self.start + t, UTC).strftime("%H:%M:%S.%f")[:-5]
        return f"{t:+.1f} s ({clock}Z)"


@dataclass(frozen=True)
class Recorded:
    """The recording itself: its sources' fixes, time origin, line counts and violations."""

    start: float
    duration: float
    sources: list[str]
    lines: dict[str, int]
    bad_lines: int
    fixes: dict[str, int]
    violations: dict[str, float | None]
    fix_interval_s: float


def _first_violations(
    fixes: Mapping[str, list[tuple[float, float, float, float | None]]], config: Config, start: float
) -> dict[str, float | None]:
    """First time (recording s) each checked pair's measured positions are inside both minima."""
    arrays = {
        s: np.array([(t, la, lo, math.nan if h is None else h) for t, la, lo, h in fx], dtype=np.float64)
        for s, fx in fixes.items()
        if fx
    }
    out: dict[str, float | None] = {}
    for a, b in combinations(sorted(arrays), 2):
        rule = config.rule_for(a, b)
        if not rule.check:
            continue
        first: float | None = None
        for x, y in ((arrays[a], arrays[b]), (arrays[b], arrays[a])):
            t = x[:, 0]
            inside = (t >= y[0, 0]) & (t <= y[-1, 0])
            # The other source's nearest fix must be close: no interpolation across a dropout.
            idx = np.clip(np.searchsorted(y[:, 0], t), 1, max(len(y) - 1, 1))
            gap = np.minimum(np.abs(y[idx - 1, 0] - t), np.abs(y[np.minimum(idx, len(y) - 1), 0] - t))
            ok = inside & (gap <= MAX_GAP_S)
            if not ok.any():
                continue
            lat = np.interp(t[ok], y[:, 0], y[:, 1])
            lon = np.interp(t[ok], y[:, 0], y[:, 2])
            h = np.interp(t[ok], y[:, 0], y[:, 3])
            hor = horizontal_range(x[ok, 1], x[ok, 2], lat, lon)
            ver = np.abs(x[ok, 3] - h)
            ver = np.where(np.isnan(ver), 0.0, ver)  # a 2D fix: only the horizontal can tell
            # Outside by how much (< 0: inside both minima); the crossing is interpolated between
            # the last fix outside and the first inside, so a 1 Hz recording is not a second late.
            excess = np.maximum(hor / max(rule.horizontal_m, 1e-9), ver / max(rule.vertical_m, 1e-9)) - 1.0
            hit = np.nonzero(excess < 0)[0]
            if len(hit):
                k = int(hit[0])
                tk = t[ok]
                tv = float(tk[k])
                if k > 0 and tk[k] - tk[k - 1] <= MAX_GAP_S:
                    f0, f1 = float(excess[k - 1]), float(excess[k])
                    tv = float(tk[k - 1] + (tk[k] - tk[k - 1]) * f0 / (f0 - f1))
                tv -= start
                first = tv if first is None else min(first, tv)
        out[pair_name(a, b)] = first
    return out


def read_recorded(path: str | Path, config: Config) -> Recorded:
    """Load a recording once: time origin (as replay and analyze see it), lines, fixes, violations."""
    rec = load_recording([path])
    ingest = NmeaIngest(
        Path(path).stem, require_checksum=config.ingest.require_checksum, max_line=config.ingest.max_line
    )
    fixes: dict[str, list[tuple[float, float, float, float | None]]] = {}
    for fx in read_recording(path, ingest):
        fixes.setdefault(config.canonical(fx.source), []).append((clock_time(fx), fx.lat, fx.lon, fx.alt_m))
    for fx_list in fixes.values():
        fx_list.sort(key=lambda r: r[0])
    start = rec.start
    if start is None:  # no absolute times at all: the fixes' own times are the axis
        start = min((fx[0][0] for fx in fixes.values() if fx), default=0.0)
    intervals = [float(np.median(np.diff([r[0] for r in fx]))) for fx in fixes.values() if len(fx) > 2]
    return Recorded(
        start=start,
        duration=rec.duration,
        sources=sorted(rec.lines),
        lines={s: len(ls) for s, ls in rec.lines.items()},
        bad_lines=rec.bad_lines,
        fixes={s: len(fx) for s, fx in fixes.items()},
        violations=_first_violations(fixes, config, start),
        fix_interval_s=max(intervals, default=1.0),
    )


def unaccounted(st: SourceStats) -> int:
    """Lines a source's statistics counted but did not file under any outcome (0 when all are)."""
    filed = sum(st.rejected.values()) + st.ignored + st.proprietary + st.used + st.unused
    return st.lines - filed


def add_events(obs: Observation, events: Iterable[Event], t0: float, scale: float, until: float) -> None:
    """Level and track events into ``obs``: ``t = (ev.t - t0) * scale``, those up to ``until`` only."""
    for ev in events:
        t = (ev.t - t0) * scale
        if t > until:
            continue
        if ev.type == "level" and ev.b is not None and ev.level is not None:
            obs.levels.append(LevelChange(t, pair_name(ev.a, ev.b), int(ev.level)))
        elif ev.type in ("acquired", "lost", "regained"):
            obs.tracks.append((t, ev.type, ev.a))
        elif ev.type == "board_silent":
            obs.silent.setdefault(ev.a, t)


def observe_offline(path: str | Path, config: Config, recorded: Recorded | None = None) -> Observation:
    """Run the recording through ``analyze`` (deterministic, no ports, no boards)."""
    wall = time.monotonic()
    rd = recorded if recorded is not None else read_recorded(path, config)
    obs = Observation(
        "offline",
        Path(path),
        rd.start,
        rd.duration,
        rd.sources,
        violations=rd.violations,
        fix_interval_s=rd.fix_interval_s,
    )
    try:
        result = run_analysis([path], config)
    except SepmonError:
        raise
    except Exception as exc:  # a crash of the pipeline is what no_traceback is about
        obs.problems.append(f"analysis crashed: {type(exc).__name__}: {exc}")
        obs.wall_s = time.monotonic() - wall
        return obs
    add_events(obs, result.events, rd.start, 1.0, math.inf)
    for name, st in sorted(result.stats.items()):
        missing = unaccounted(st)
        if missing:
            obs.losses.append(f"{name}: {missing} of {st.lines} lines not accounted for in the statistics")
    counted = sum(st.lines for st in result.stats.values())
    recorded_lines = sum(rd.lines.values()) + rd.bad_lines
    if counted < recorded_lines:
        obs.losses.append(f"{recorded_lines - counted} of {recorded_lines} recorded lines never counted")
    obs.wall_s = time.monotonic() - wall
    return obs


def judge_config(exp: ExpectationFile, override: str | Path | None) -> Config:
    """The configuration a recording is judged with: the command line's, else the file's, else defaults."""
    return load_config(override if override is not None else exp.config_path)


# ---- judging ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The verdict on one expectation: pass/fail/skip, and for a failure what, why and where."""

    expectation: Expectation
    status: Status
    seen: str
    where: str = ""

    @property
    def name(self) -> str:
        """What was expected (one line)."""
        return self.expectation.describe()

    def explain(self) -> str:
        """``expected …; seen …; at …``."""
        at = f"; at {self.where}" if self.where else ""
        return f"expected {self.name}; seen {self.seen}{at}"


def _level_timeline(obs: Observation, source: str) -> list[tuple[float, int]]:
    """The level the host tells ``source``'s board over time: the highest of its pairs'."""
    current: dict[str, int] = {}
    out: list[tuple[float, int]] = []
    for ch in sorted(obs.levels, key=lambda c: c.t):
        if source not in ch.pair.split("/"):
            continue
        current[ch.pair] = ch.level
        lv = max(current.values())
        if not out or out[-1][1] != lv:
            out.append((ch.t, lv))
    return out


def _pair_history(obs: Observation, pair: str) -> list[LevelChange]:
    return [c for c in sorted(obs.levels, key=lambda c: c.t) if c.pair == pair]


def _judge(exp: Expectation, obs: Observation) -> Outcome:
    a = exp.args
    known = set(obs.sources)
    names = exp.subject.split("/") if exp.kind in ("reaches", "max") else [exp.subject]
    if exp.subject != "run":
        missing = [n for n in names if n not in known]
        if missing:
            return Outcome(
                exp, "fail", f"no source {missing[0]!r} in the recording ({', '.join(sorted(known))})"
            )
    if exp.kind == "reaches":
        want = Level[a["level"]]
        hist = _pair_history(obs, exp.subject)
        onset = next((c for c in hist if c.level >= want), None)
        viol = obs.violations.get(exp.subject)
        vtext = f"first violation at {obs.where(viol)}" if viol is not None else "no violation of the minima"
        if onset is None:
            top = max(hist, key=lambda c: c.level, default=None)
            seen = "no alert" if top is None or top.level == 0 else f"at most {Level(top.level).name}"
            return Outcome(exp, "fail", f"{seen} ({vtext})", obs.where(top.t) if top and top.level else "")
        seen = Level(onset.level).name
        problems = []
        if a.get("lead_s") is not None:
            if viol is None:
                problems.append("the recording has no violation of the minima to lead")
            else:
                lead = viol - onset.t
                seen += f" {lead:.1f} s before the {vtext}"
                if lead < a["lead_s"]:
                    problems.append(f"{a['lead_s'] - lead:.1f} s late")
        if a.get("by_s") is not None and onset.t > a["by_s"]:
            problems.append(f"{onset.t - a['by_s']:.1f} s after +{a['by_s']:g} s")
        if problems:
            return Outcome(exp, "fail", f"{seen}: {'; '.join(problems)}", obs.where(onset.t))
        return Outcome(exp, "pass", seen, obs.where(onset.t))
    if exp.kind == "max":
        limit = Level[a["level"]]
        hist = _pair_history(obs, exp.subject)
        over = next((c for c in hist if c.level > limit), None)
        highest = max((c.level for c in hist), default=0)
        if over is not None:
            return Outcome(exp, "fail", f"rose to {Level(over.level).name}", obs.where(over.t))
        return Outcome(exp, "pass", f"highest {Level(highest).name}")
    if exp.kind == "shows":
        pattern = a["pattern"]
        if exp.subject in obs.boards_seen:
            seen_at = next((t for t, p in obs.boards_seen[exp.subject] if p == pattern), None)
            shown = sorted({p for _, p in obs.boards_seen[exp.subject]})
            how = "the board showed"
        elif pattern in ALERT_PATTERNS:
            lv = ALERT_PATTERNS.index(pattern)
            timeline = _level_timeline(obs, exp.subject) or [(0.0, 0)]
            seen_at = next((t for t, v in timeline if v == lv), None)
            shown = sorted({ALERT_PATTERNS[v] for _, v in timeline})
            how = "told by the host (no board seen)"
        else:
            return Outcome(
                exp, "skip", f"'{pattern}' is only seen on a board: run with --live --boards virtual"
            )
        if seen_at is None:
            return Outcome(exp, "fail", f"{how}: {', '.join(shown)}; never {pattern}")
        if a.get("by_s") is not None and seen_at > a["by_s"]:
            late = seen_at - a["by_s"]
            return Outcome(exp, "fail", f"{how} {pattern} {late:.1f} s late", obs.where(seen_at))
        return Outcome(exp, "pass", f"{how} {pattern}", obs.where(seen_at))
    if exp.kind == "acknowledges":
        if exp.subject not in obs.boards_in_loop:
            return Outcome(exp, "skip", "no board in the loop: run with --live --boards")
        if exp.subject in obs.silent:
            t = obs.silent[exp.subject]
            return Outcome(exp, "fail", "stopped acknowledging alerts (board_silent)", obs.where(t))
        return Outcome(exp, "pass", "every alert acknowledged")
    if exp.kind in ("lost_and_regained", "never_lost"):
        evs = [(t, kind) for t, kind, s in sorted(obs.tracks) if s == exp.subject]
        lost = next((t for t, kind in evs if kind == "lost"), None)
        if exp.kind == "never_lost":
            if lost is not None:
                return Outcome(exp, "fail", "lost", obs.where(lost))
            return Outcome(exp, "pass", "never lost")
        if lost is None:
            return Outcome(exp, "fail", "never lost")
        back = next((t for t, kind in evs if kind == "regained" and t >= lost), None)
        if back is None:
            return Outcome(exp, "fail", "lost and not regained", obs.where(lost))
        return Outcome(exp, "pass", f"lost at +{lost:.1f} s, regained at +{back:.1f} s", obs.where(lost))
    if exp.kind == "no_traceback":
        if obs.problems:
            return Outcome(exp, "fail", "; ".join(obs.problems))
        return Outcome(exp, "pass", "clean")
    if obs.losses:
        return Outcome(exp, "fail", "; ".join(obs.losses))
    return Outcome(exp, "pass", "every line accounted for")


def evaluate(expectations: ExpectationFile, obs: Observation) -> list[Outcome]:
    """Judge every expectation against what the run showed."""
    return [_judge(e, obs) for e in expectations.items]


# ---- --update -----------------------------------------------------------------------------


def _commented(value: Any, comment: str) -> Any:
    item = tomlkit.item(value)
    item.comment(comment)
    return item


def propose(obs: Observation, config_name: str | None = None) -> str:
    """Expectations (TOML text, with comments) that the observed run meets, for a person to review.

    Times keep one fix interval plus :data:`LATENCY_S` of slack, so a live run of
    the same recording meets them too.
    """
    slack = obs.fix_interval_s + LATENCY_S
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"sepmon check expectations for {obs.recording.name}"))
    doc.add(tomlkit.comment(f"written by `sepmon check --update` from the {obs.mode} run; review and edit."))
    doc.add(tomlkit.comment("Times are seconds from the start of the recording; see docs/hil.md."))
    if config_name is not None:
        check = tomlkit.table()
        check["config"] = config_name
        doc["check"] = check
    pairs = tomlkit.aot()
    for a, b in combinations(sorted(obs.sources), 2):
        name = pair_name(a, b)
        hist = _pair_history(obs, name)
        top = max((c.level for c in hist), default=0)
        viol = obs.violations.get(name)
        t = tomlkit.table()
        t["pair"] = [a, b]
        if top > 0:
            onset = next(c for c in hist if c.level >= top)
            t["reaches"] = Level(top).name
            if viol is not None:
                lead = viol - onset.t
                t["lead_s"] = _commented(
                    max(0.0, math.floor((lead - slack) * 10) / 10),
                    f"seen: {lead:.1f} s before the first violation at +{viol:.1f} s",
                )
            else:
                t["by_s"] = _commented(
                    math.ceil((onset.t + slack) * 10) / 10,
                    f"seen at +{onset.t:.1f} s; the minima were never violated",
                )
        elif viol is not None:
            t.comment(f"the minima are violated at +{viol:.1f} s, yet no alert was seen")
        t["max"] = Level(top).name
        pairs.append(t)
    if pairs:
        doc["pair"] = pairs
    boards = tomlkit.aot()
    for s in sorted(obs.sources):
        t = tomlkit.table()
        t["board"] = s
        if s in obs.boards_seen:
            alert = [p for _, p in obs.boards_seen[s] if p in ALERT_PATTERNS]
            top_p = max(alert, key=ALERT_PATTERNS.index, default=None)
        else:
            timeline = _level_timeline(obs, s) or [(0.0, 0)]
            top_p = ALERT_PATTERNS[max(v for _, v in timeline)]
        if top_p is not None:
            t["shows"] = top_p
        t["acknowledges"] = (
            True
            if s in obs.boards_in_loop
            else _commented(True, "checked only with boards in the loop (--live --boards)")
        )
        boards.append(t)
    doc["board"] = boards
    sources = tomlkit.aot()
    for s in sorted(obs.sources):
        evs = [kind for _, kind, src in sorted(obs.tracks) if src == s]
        t = tomlkit.table()
        t["source"] = s
        if "lost" in evs:
            if "regained" in evs[evs.index("lost") :]:
                t["lost_and_regained"] = True
            else:
                continue  # lost at the end: nothing stable to promise
        else:
            t["never_lost"] = True
        sources.append(t)
    if sources:
        doc["source"] = sources
    run = tomlkit.table()
    run["no_traceback"] = True
    run["no_data_loss"] = True
    doc["run"] = run
    return tomlkit.dumps(doc)


def write_update(path: Path, text: str) -> list[str]:
    """Write ``text`` to the expectation file; returns what to tell the user (never silent)."""
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    try:
        tmp = path.with_name(path.name + ".new")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise CheckError(f"cannot write {path}: {exc.strerror or exc}") from None
    if old is None:
        return [f"wrote {path} (new):", *text.rstrip("\n").splitlines()]
    if old == text:
        return [f"{path}: unchanged"]
    diff = difflib.unified_diff(
        old.splitlines(), text.splitlines(), str(path), f"{path} (updated)", lineterm=""
    )
    return [f"updated {path}:", *diff]


# ---- JUnit XML ----------------------------------------------------------------------------


@dataclass
class RecordingResult:
    """One recording's check: its outcomes, or the error that kept it from running."""

    recording: Path
    mode: str
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        """True when it ran and nothing failed (skips do not fail)."""
        return self.error is None and all(o.status != "fail" for o in self.outcomes)


def junit_xml(results: Sequence[RecordingResult]) -> bytes:
    """The results as JUnit XML: one ``testsuite`` per recording, one ``testcase`` per expectation."""
    root = ET.Element("testsuites", name="sepmon check")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for r in results:
        suite = ET.SubElement(root, "testsuite", name=str(r.recording))
        tests = failures = errors = skipped = 0
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="mode", value=r.mode)
        classname = f"sepmon.check.{r.recording.stem}"
        if r.error is not None:
            tests, errors = 1, 1
            case = ET.SubElement(suite, "testcase", name="run the recording", classname=classname)
            ET.SubElement(case, "error", type="CheckError", message=r.error).text = r.error
        for o in r.outcomes:
            tests += 1
            case = ET.SubElement(suite, "testcase", name=o.name, classname=classname)
            if o.status == "fail":
                failures += 1
                ET.SubElement(case, "failure", type="expectation", message=o.explain()).text = o.explain()
            elif o.status == "skip":
                skipped += 1
                ET.SubElement(case, "skipped", message=o.seen)
            else:
                ET.SubElement(case, "system-out").text = f"seen {o.seen}" + (
                    f" at {o.where}" if o.where else ""
                )
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
        suite.set("time", f"{r.wall_s:.3f}")
        totals["tests"] += tests
        totals["failures"] += failures
        totals["errors"] += errors
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{sum(r.wall_s for r in results):.3f}")
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"
