"""Level onsets of ``sepmon analyze`` against DAIDALUS's, per scenario of the oracle set.

Runs the command line (``python -m sepmon analyze RECORDINGS --config TOML --events E``)
on every scenario's NMEA recordings, reads the level events, and prints a Markdown
table: per ownship/intruder pair and level, DAIDALUS's first time at or above that
level (with its hysteresis/M-of-N, and with ``--nohysteresis``), sepmon's, and the
difference. Times are seconds from the recording's start. Pairs not involving the
ownship (DAIDALUS only looks from the ownship) are listed when sepmon alerts on them.

Run: ``python tests/daidalus/measure_gap.py [--config TOML]``
(default config: ``sepmon-do365-approx.toml`` beside this file).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from daidalus_oracle import LEVELS, ScenarioInfo, level_series, onsets, read_daidalus, scenarios

HERE = Path(__file__).resolve().parent
DEFAULT_CONFIG = HERE / "sepmon-do365-approx.toml"
START = datetime(2026, 6, 1, 10, 0, 0, tzinfo=UTC).timestamp()  # make_scenarios.START
OWNSHIP = "ownship"


def sepmon_levels(sc: ScenarioInfo, config: Path) -> dict[tuple[str, str], list[tuple[float, int]]]:
    """Level changes per pair (sorted names) from ``sepmon analyze --events``."""
    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "events.jsonl"
        cmd = [
            sys.executable,
            "-m",
            "sepmon",
            "analyze",
            "--quiet",
            "--config",
            str(config),
            "--events",
            str(events),
            *(str(sc.dir / f"{a}.nmea") for a in sc.aircraft),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{sc.name}: sepmon analyze failed ({proc.returncode}): {proc.stderr.strip()}")
        out: dict[tuple[str, str], list[tuple[float, int]]] = {}
        for line in events.read_text(encoding="utf-8").splitlines():
            ev = json.loads(line)
            if ev["type"] == "level":
                a, b = sorted((ev["a"], ev["b"]))
                out.setdefault((a, b), []).append((round(ev["t"] - START, 3), int(ev["level"])))
        return out


def _fmt(t: float | None) -> str:
    return "–" if t is None else f"{t:g}"


def _delta(a: float | None, b: float | None) -> str:
    if a is None and b is None:
        return ""
    if a is None or b is None:
        return "missed" if a is None else "extra"
    return f"{a - b:+g}"


def table(config: Path) -> list[str]:
    """The Markdown table's lines, one row per scenario, pair and level."""
    rows = [
        "| scenario | pair | level | DAIDALUS | DAIDALUS no hyst. | sepmon | sepmon − DAIDALUS "
        "| changes D / s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for sc in scenarios():
        d_rows = read_daidalus(sc.dir / "daidalus.csv")
        s_levels = sepmon_levels(sc, config)
        for intr in sc.aircraft[1:]:
            d_series = level_series(d_rows, intr)
            d_on, dn_on = onsets(d_series), onsets(level_series(d_rows, intr, "level_nohyst"))
            s_series = s_levels.get(tuple(sorted((OWNSHIP, intr))), [])  # type: ignore[arg-type]
            s_on = onsets(s_series)
            d_changes = sum(1 for (_, x), (_, y) in itertools.pairwise(d_series) if x != y)
            s_changes = len(s_series)
            for lv in LEVELS:
                if d_on[lv] is None and s_on[lv] is None and lv > 1:
                    continue
                changes = f"{d_changes} / {s_changes}" if lv == 1 else ""
                cells = (
                    sc.name,
                    intr,
                    lv,
                    _fmt(d_on[lv]),
                    _fmt(dn_on[lv]),
                    _fmt(s_on[lv]),
                    _delta(s_on[lv], d_on[lv]),
                    changes,
                )
                rows.append("| " + " | ".join(str(c) for c in cells) + " |")
        for (a, b), series in sorted(s_levels.items()):
            if OWNSHIP not in (a, b) and series:
                top = max(x for _, x in series)
                rows.append(
                    f"| {sc.name} | {a}–{b} (no DAIDALUS view) | max {top} | | | "
                    f"{_fmt(series[0][0])} | | – / {len(series)} |"
                )
    return rows


def main(argv: Sequence[str]) -> int:
    """Print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = p.parse_args(argv)
    print("\n".join(table(args.config)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
