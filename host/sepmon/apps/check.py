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
    fixes = 120                     # exactly this many fixes made from its sentences
    first_fix_by = 2024-03-15T10:00:04Z   # its first fix at this receiver time (UTC) or before

    [run]
    no_traceback = true             # nothing crashed, the daemon exited cleanly
    no_data_loss = true             # every line is accounted for in the statistics

An expectation file may also stand alone, naming what it judges, so that a suite
is a directory of expectation files (``sepmon check DIR`` takes them, and the
recordings, in DIR and its subdirectories)::

    [check]
    recording = "../../real/bn-9015.log"    # a recording elsewhere, relative to this file
    # or several, one source each (merged in time into one TAG-blocked recording):
    # recording = ["../x/ownship.nmea", "../x/intruder.nmea"]
    # or: the simulator writes the recording, and its geometry is the truth of the
    # first violation (instead of the recorded positions):
    simulate = { scenario = "head-on", seed = 5, rate = 1, separation = 7200, duration = 45 }

A run of a recording (offline through :func:`observe_offline`, or live through
:mod:`sepmon.apps.checklive`) gives an :class:`Observation`; :func:`evaluate`
judges every expectation against it (pass, fail or skip, with what was expected,
what was seen and where in the recording); :func:`propose` writes expectations
from an observation (``--update``); :func:`junit_xml` gives the JUnit XML report.

Times are seconds from the recording's start (its earliest receive time), at
speed 1, whichever way it was run.  "The first violation" of a pair is the
first fix of either source at which the two measured positions (the other one
interpolated) are inside both minima of the pair's rule; for a simulated case,
the first time the simulator's true trajectories are.
"""

from __future__ import annotations

import atexit
import difflib
import json
import math
import shutil
import tempfile
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
from sepmon.sim import Simulation, recording_bytes, simulate, write_recording

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
    ``lost_and_regained``, ``never_lost``, ``fixes``, ``first_fix_by``,
    ``no_traceback``, ``no_data_loss``;
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
        if self.kind == "fixes":
            return f"source {self.subject} makes {a['count']} fixes"
        if self.kind == "first_fix_by":
            return f"source {self.subject} has its first fix by {_iso(a['time'])}"
        if self.kind == "no_traceback":
            return "no traceback, clean exit"
        return "no data loss: every line accounted for"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ExpectationFile:
    """The expectations of one recording, and the configuration it is judged with.

    ``recording``/``simulate``: what a stand-alone file judges (``[check] recording``,
    ``[check] simulate``); ``case``: those keys as written, kept by ``--update``.
    """

    path: Path
    items: list[Expectation] = field(default_factory=list)
    config_path: Path | None = None
    recording: list[Path] | None = None
    simulate: dict[str, Any] | None = None
    case: dict[str, Any] = field(default_factory=dict)


def expectation_path(recording: str | Path) -> Path:
    """``session.nmea`` → ``session.check.toml`` (beside it); an expectation file is its own."""
    p = Path(recording)
    if p.name.endswith(EXPECT_SUFFIX):
        return p
    return p.with_name(p.stem + EXPECT_SUFFIX)


def _twin(exp: Path) -> bool:
    """A recording ``X.nmea``/``.log``/``.txt`` (or any ``X``) lies beside ``X.check.toml``."""
    stem = exp.name[: -len(EXPECT_SUFFIX)]
    return any(exp.with_name(stem + suffix).is_file() for suffix in ("", *RECORDING_SUFFIXES))


def find_recordings(paths: Sequence[str | Path]) -> list[Path]:
    """The recordings named, a directory standing for the cases in it and its subdirectories.

    In a directory a case is a ``.nmea``/``.log``/``.txt`` file, any file with an
    expectation file beside it, or a stand-alone expectation file (one without a
    recording beside it: its ``[check] recording`` or ``simulate`` says what it judges).
    Hidden directories are skipped.
    """
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            inside = sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts[:-1])
                and (
                    (f.name.endswith(EXPECT_SUFFIX) and not _twin(f))
                    or (
                        not f.name.endswith(EXPECT_SUFFIX)
                        and (f.suffix in RECORDING_SUFFIXES or expectation_path(f).is_file())
                    )
                )
            )
            if not inside:
                raise CheckError(
                    f"{p}: no recordings in this directory "
                    f"(*.nmea, *.log, *.txt, stand-alone *{EXPECT_SUFFIX})"
                )
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


def _utc(where: str, value: Any) -> float:
    """A TOML date-time with its offset (``2024-03-15T10:00:04Z``), or the same as a string."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            value = None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise CheckError(f"{where}: expected a UTC date and time like 2024-03-15T10:00:04Z, got {value!r}")
    return value.timestamp()


def parse_expectations(data: Mapping[str, Any], path: Path) -> ExpectationFile:
    """Validate parsed TOML; every problem is a :class:`CheckError` naming the table and key."""
    out = ExpectationFile(path)
    _unknown(f"{path}", data, ("check", "pair", "board", "source", "run"))
    check = data.get("check", {})
    if not isinstance(check, dict):
        raise CheckError(f"{path}: [check] must be a table")
    _unknown(f"{path}: [check]", check, ("config", "recording", "simulate"))
    if "config" in check:
        cfg = check["config"]
        if not isinstance(cfg, str) or not cfg:
            raise CheckError(f"{path}: [check] config: expected a file name, got {cfg!r}")
        out.config_path = (path.parent / cfg).resolve()
    if "recording" in check and "simulate" in check:
        raise CheckError(f"{path}: [check] give recording or simulate, not both")
    if "recording" in check:
        rec = check["recording"]
        names = rec if isinstance(rec, list) else [rec]
        if not names or not all(isinstance(n, str) and n for n in names):
            raise CheckError(
                f"{path}: [check] recording: expected a file name or a list of them, got {rec!r}"
            )
        out.recording = [(path.parent / n).resolve() for n in names]
        out.case["recording"] = rec
    if "simulate" in check:
        sim = check["simulate"]
        if not isinstance(sim, dict) or not isinstance(sim.get("scenario"), str):
            raise CheckError(
                f"{path}: [check] simulate: expected a table with scenario = NAME and the simulator's "
                f"parameters, got {sim!r}"
            )
        out.simulate = dict(sim)
        out.case["simulate"] = dict(sim)
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
        _unknown(where, t, ("source", "lost_and_regained", "never_lost", "fixes", "first_fix_by"))
        name = _name(f"{where}: source", t.get("source"))
        for key in ("lost_and_regained", "never_lost"):
            if key in t and _flag(f"{where}: {key}", t[key]):
                out.items.append(Expectation(key, name))
        if "fixes" in t:
            n = t["fixes"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise CheckError(f"{where}: fixes: expected a count (0 or more), got {n!r}")
            out.items.append(Expectation("fixes", name, {"count": n}))
        if "first_fix_by" in t:
            out.items.append(
                Expectation("first_fix_by", name, {"time": _utc(f"{where}: first_fix_by", t["first_fix_by"])})
            )
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
    crashes, tracebacks, bad exit statuses; ``losses``: lines not accounted for;
    ``fixes``: fixes made per source, from its statistics.
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
    fixes: dict[str, int] = field(default_factory=dict)  # fixes made per source (its statistics)
    fix_interval_s: float = 1.0
    wall_s: float = 0.0
    truth: str = "the recorded positions"  # what the first violations were worked out from

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
    truth: str = "the recorded positions"


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


def read_recorded(path: str | Path, config: Config, simulation: Simulation | None = None) -> Recorded:
    """Load a recording once: time origin (as replay and analyze see it), lines, fixes, violations.

    With the ``simulation`` that wrote the recording, the first violations are the
    simulator's geometry (its true trajectories), not the recorded positions.
    """
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
    truth = "the recorded positions"
    if simulation is None:
        violations = _first_violations(fixes, config, start)
    else:
        truth = "the simulator's geometry"
        violations = {}
        for a, b in combinations(sorted(simulation.sources), 2):
            rule = config.rule_for(a, b)
            if rule.check:
                t = simulation.truth.first_violation(a, b, rule.horizontal_m, rule.vertical_m)
                violations[pair_name(a, b)] = None if t is None else t - start
    return Recorded(
        start=start,
        duration=rec.duration,
        sources=sorted(rec.lines),
        lines={s: len(ls) for s, ls in rec.lines.items()},
        bad_lines=rec.bad_lines,
        fixes={s: len(fx) for s, fx in fixes.items()},
        violations=violations,
        fix_interval_s=max(intervals, default=1.0),
        truth=truth,
    )


_SIM_DIR: list[Path] = []


def case_recording(path: str | Path, exp: ExpectationFile | None) -> tuple[Path, Simulation | None]:
    """The recording a case plays, and the simulation that wrote it (None for a recorded one).

    A stand-alone expectation file names it (``[check] recording``) or has the simulator
    write it (``[check] simulate``, into a temporary directory removed at exit).
    """
    p = Path(path)
    if exp is None or not p.name.endswith(EXPECT_SUFFIX):
        return p, None
    if exp.recording is not None:
        for f in exp.recording:
            if not f.is_file():
                raise CheckError(f"{exp.path}: [check] recording: no such file {f}")
        if len(exp.recording) == 1:
            return exp.recording[0], None
        return _merged(exp, _scratch(exp)), None
    if exp.simulate is None:
        stem = p.name[: -len(EXPECT_SUFFIX)]
        for suffix in (*RECORDING_SUFFIXES, ""):  # the expectation file was named, not its recording
            if (twin := p.with_name(stem + suffix)).is_file():
                return twin, None
        raise CheckError(
            f"{exp.path}: no recording beside it, and no [check] recording = FILE or simulate = {{...}}"
        )
    params = dict(exp.simulate)
    scenario = params.pop("scenario")
    try:
        sim = simulate(scenario, **params)
    except SepmonError as exc:
        raise CheckError(f"{exp.path}: [check] simulate: {exc}") from None
    except (TypeError, ValueError) as exc:  # a parameter of the wrong type
        raise CheckError(f"{exp.path}: [check] simulate: {exc}") from None
    out = _scratch(exp)
    try:
        write_recording(sim, out)
    except OSError as exc:
        raise CheckError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out, sim


def _scratch(exp: ExpectationFile) -> Path:
    """Where a case's written recording goes: a temporary directory removed at exit."""
    if not _SIM_DIR:
        _SIM_DIR.append(Path(tempfile.mkdtemp(prefix="sepmon-check-")))
        atexit.register(shutil.rmtree, _SIM_DIR[0], True)
    return _SIM_DIR[0] / f"{exp.path.name[: -len(EXPECT_SUFFIX)]}.nmea"


def _merged(exp: ExpectationFile, out: Path) -> Path:
    """Several recordings, one TAG-blocked file in receive-time order (as ``sepmon record`` writes)."""
    assert exp.recording is not None
    try:
        rec = load_recording(exp.recording)
    except SepmonError as exc:
        raise CheckError(f"{exp.path}: [check] recording: {exc}") from None
    if rec.start is None:
        raise CheckError(
            f"{exp.path}: [check] recording: these files carry no dates to line them up in time; "
            "give one recording"
        )
    start = rec.start
    lines = sorted(
        ((start + ln.t, source, ln.data) for source, ls in rec.lines.items() for ln in ls),
        key=lambda x: x[0],
    )
    try:
        out.write_bytes(b"".join(recording_bytes(lines)))
    except OSError as exc:
        raise CheckError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def unaccounted(st: SourceStats) -> int:
    """Lines a source's statistics counted but did not file under any outcome (0 when all are)."""
    filed = sum(st.rejected.values()) + st.ignored + st.proprietary + st.used + st.unused
    return st.lines - filed


def add_events(obs: Observation, events: Iterable[Event], t0: float, scale: float, until: float) -> None:
    """Level and track events into ``obs``: ``t = (ev.t - t0) * scale``, those up to ``until`` only.

    The statistics at exit (``source_stats``, one per port) give each source's fixes.
    """
    fixes: dict[str, int] = {}
    for ev in events:
        if ev.type == "source_stats" and ev.detail:
            try:
                n = json.loads(ev.detail).get("fixes", 0)
            except (ValueError, AttributeError):
                continue
            if isinstance(n, int):
                fixes[ev.a] = fixes.get(ev.a, 0) + n
            continue
        t = (ev.t - t0) * scale
        if t > until:
            continue
        if ev.type == "level" and ev.b is not None and ev.level is not None:
            obs.levels.append(LevelChange(t, pair_name(ev.a, ev.b), int(ev.level)))
        elif ev.type in ("acquired", "lost", "regained"):
            obs.tracks.append((t, ev.type, ev.a))
        elif ev.type == "board_silent":
            obs.silent.setdefault(ev.a, t)
    if fixes:
        obs.fixes = fixes


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
        truth=rd.truth,
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
    obs.fixes = {name: st.fixes for name, st in result.stats.items()}
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
        vtext = (
            f"first violation at {obs.where(viol)}"
            if viol is not None
            else f"no violation of the minima (by {obs.truth})"
        )
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
                if lead < a["lead_s"] - 1e-6:  # not a float's last bit
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
    if exp.kind == "fixes":
        got = obs.fixes.get(exp.subject)
        if got is None:
            return Outcome(exp, "fail", "no statistics for this source")
        if got != a["count"]:
            return Outcome(exp, "fail", f"{got} fixes ({got - a['count']:+d})")
        return Outcome(exp, "pass", f"{got} fixes")
    if exp.kind == "first_fix_by":
        first = next(
            (t for t, kind, s in sorted(obs.tracks) if s == exp.subject and kind == "acquired"), None
        )
        if first is None:
            return Outcome(exp, "fail", "no fix at all")
        at = obs.start + first
        # Live, the time is when the host had it: one fix interval and latency later at most.
        slack = 0.0 if obs.mode == "offline" else obs.fix_interval_s + LATENCY_S
        if at > a["time"] + slack:
            return Outcome(
                exp, "fail", f"first fix at {_iso(at)}: {at - a['time']:.1f} s late", obs.where(first)
            )
        return Outcome(exp, "pass", f"first fix at {_iso(at)}", obs.where(first))
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


def propose(obs: Observation, config_name: str | None = None, case: Mapping[str, Any] | None = None) -> str:
    """Expectations (TOML text, with comments) that the observed run meets, for a person to review.

    Times keep one fix interval plus :data:`LATENCY_S` of slack, so a live run of
    the same recording meets them too.  ``case``: a stand-alone file's ``[check]``
    ``recording``/``simulate``, kept as they were.
    """
    slack = obs.fix_interval_s + LATENCY_S
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"sepmon check expectations for {obs.recording.name}"))
    doc.add(tomlkit.comment(f"written by `sepmon check --update` from the {obs.mode} run; review and edit."))
    doc.add(tomlkit.comment("Times are seconds from the start of the recording; see docs/hil.md."))
    if config_name is not None or case:
        check = tomlkit.table()
        if config_name is not None:
            check["config"] = config_name
        for key, value in (case or {}).items():
            check[key] = tomlkit.inline_table() if isinstance(value, Mapping) else value
            if isinstance(value, Mapping):
                check[key].update(value)
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
            lead = None if viol is None else viol - onset.t
            if lead is not None and viol is not None and lead >= slack:
                t["lead_s"] = _commented(
                    math.floor((lead - slack) * 10) / 10,
                    f"seen: {lead:.1f} s before the first violation at +{viol:.1f} s",
                )
            else:
                # No lead to promise: the minima were never violated, were from the start,
                # or the alert came later than a lead would allow (review that one!).
                why = (
                    "the minima were never violated"
                    if viol is None
                    else f"the first violation is at {viol:+.1f} s, only {lead:.1f} s after the alert"
                )
                t["by_s"] = _commented(
                    math.ceil((onset.t + slack) * 10) / 10, f"seen at +{onset.t:.1f} s; {why}"
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
