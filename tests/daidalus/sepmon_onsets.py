"""``sepmon analyze`` on the DAIDALUS oracle recordings, and its level onsets beside DAIDALUS's.

Shared by ``measure_gap.py`` (prints the gap table) and ``test_end_to_end.py`` (asserts it):

- :func:`analyze_levels` runs a scenario's NMEA recordings through ``sepmon analyze``'s public
  function (:func:`sepmon.apps.analyze.run_analysis`, with the configuration file loaded by
  :func:`sepmon.apps.configfile.load_config`, as the command does) and returns every pair's
  level events, in seconds from the recording's start;
- :func:`compare` pairs them with DAIDALUS's ``level`` column for every ownship–intruder pair;
- :func:`markdown` formats the comparison as the README's table.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from daidalus_oracle import LEVELS, ScenarioInfo, level_series, onsets, read_daidalus

from sepmon.apps.analyze import run_analysis
from sepmon.apps.configfile import load_config

HERE = Path(__file__).resolve().parent
APPROX_CONFIG = HERE / "sepmon-do365-approx.toml"  # keys before presets, near DO_365B_no_SUM
DO365_CONFIG = HERE / "sepmon-do365.toml"  # [separation] preset = "do365"
START = datetime(2026, 6, 1, 10, 0, 0, tzinfo=UTC).timestamp()  # make_scenarios.START: time 0 of the .daa
OWNSHIP = "ownship"

Pair = tuple[str, str]


@dataclass(frozen=True)
class LevelChange:
    """One ``level`` event of a pair: seconds from the start, the new level, the pair's lost flag."""

    t: float
    level: int
    lost: bool


def pair_key(a: str, b: str) -> Pair:
    """A pair's names in sorted order (sepmon's events name the two either way round)."""
    x, y = sorted((a, b))
    return (x, y)


def analyze_levels(sc: ScenarioInfo, config: Path) -> dict[Pair, list[LevelChange]]:
    """Every pair's level changes when ``sepmon analyze`` reads the scenario's recordings with ``config``."""
    result = run_analysis([sc.dir / f"{a}.nmea" for a in sc.aircraft], load_config(config))
    out: dict[Pair, list[LevelChange]] = {}
    for ev in result.events:
        if ev.type == "level" and ev.b is not None and ev.level is not None:
            out.setdefault(pair_key(ev.a, ev.b), []).append(
                LevelChange(round(ev.t - START, 3), int(ev.level), bool(ev.lost))
            )
    return out


def series(changes: Iterable[LevelChange]) -> list[tuple[float, int]]:
    """(time, level) of a pair's changes, for :func:`daidalus_oracle.onsets`."""
    return [(c.t, c.level) for c in changes]


@dataclass(frozen=True)
class PairGap:
    """One ownship–intruder pair of one scenario: DAIDALUS's onsets and sepmon's."""

    scenario: str
    intruder: str
    daidalus: dict[int, float | None]  # with hysteresis, persistence and 2-of-4 (``level``)
    daidalus_nohyst: dict[int, float | None]  # ``level_nohyst``
    sepmon: dict[int, float | None]
    daidalus_changes: int
    sepmon_changes: list[LevelChange]

    def gap(self, level: int) -> float | None:
        """sepmon's onset minus DAIDALUS's (None when either never reaches the level)."""
        s, d = self.sepmon[level], self.daidalus[level]
        return None if s is None or d is None else s - d


@dataclass(frozen=True)
class ScenarioRun:
    """What one scenario gave: the ownship–intruder comparisons and every pair's changes."""

    scenario: ScenarioInfo
    pairs: list[PairGap]
    levels: dict[Pair, list[LevelChange]]

    def other_pairs(self) -> dict[Pair, list[LevelChange]]:
        """Pairs not involving the ownship (DAIDALUS only looks from the ownship: no oracle)."""
        return {k: v for k, v in self.levels.items() if OWNSHIP not in k}


def compare(sc: ScenarioInfo, config: Path) -> ScenarioRun:
    """Run ``sepmon analyze`` on one scenario and set its onsets beside DAIDALUS's."""
    d_rows = read_daidalus(sc.dir / "daidalus.csv")
    levels = analyze_levels(sc, config)
    pairs = []
    for intr in sc.aircraft[1:]:
        d_series = level_series(d_rows, intr)
        ours = levels.get(pair_key(OWNSHIP, intr), [])
        pairs.append(
            PairGap(
                scenario=sc.name,
                intruder=intr,
                daidalus=onsets(d_series),
                daidalus_nohyst=onsets(level_series(d_rows, intr, "level_nohyst")),
                sepmon=onsets(series(ours)),
                daidalus_changes=sum(1 for (_, x), (_, y) in itertools.pairwise(d_series) if x != y),
                sepmon_changes=ours,
            )
        )
    return ScenarioRun(sc, pairs, levels)


def _fmt(t: float | None) -> str:
    return "–" if t is None else f"{t:g}"


def _delta(ours: float | None, theirs: float | None) -> str:
    if ours is None and theirs is None:
        return ""
    if ours is None or theirs is None:
        return "missed" if ours is None else "extra"
    return f"{ours - theirs:+g}"


def markdown(runs: Iterable[ScenarioRun]) -> list[str]:
    """The gap table's lines: one row per scenario, pair and level (level 1 always shown)."""
    rows = [
        "| scenario | pair | level | DAIDALUS | DAIDALUS no hyst. | sepmon | sepmon − DAIDALUS "
        "| changes D / s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for g in run.pairs:
            for lv in LEVELS:
                if g.daidalus[lv] is None and g.sepmon[lv] is None and lv > 1:
                    continue
                cells = (
                    g.scenario,
                    g.intruder,
                    lv,
                    _fmt(g.daidalus[lv]),
                    _fmt(g.daidalus_nohyst[lv]),
                    _fmt(g.sepmon[lv]),
                    _delta(g.sepmon[lv], g.daidalus[lv]),
                    f"{g.daidalus_changes} / {len(g.sepmon_changes)}" if lv == 1 else "",
                )
                rows.append("| " + " | ".join(str(c) for c in cells) + " |")
        for (a, b), changes in sorted(run.other_pairs().items()):
            if changes:
                top = max(c.level for c in changes)
                rows.append(
                    f"| {run.scenario.name} | {a}–{b} (no DAIDALUS view) | max {top} | | | "
                    f"{_fmt(changes[0].t)} | | – / {len(changes)} |"
                )
    return rows
