"""The DAIDALUS suite of ``sepmon check`` (tests/data/check/daidalus/), from DAIDALUS's levels.

For every scenario of the DAIDALUS oracle sets (tests/data/daidalus/, DO_365B_no_SUM, and
tests/data/daidalus-sum/, DO_365B_SUM) one stand-alone expectation file names the scenario's
recordings (one per aircraft, merged in time) and the preset it is judged with, and says for
each ownship–intruder pair:

- DAIDALUS alerts: ``reaches`` = DAIDALUS's highest level, ``by_s`` = DAIDALUS's first second
  at that level plus issue 15's 2 s tolerance, and ``max`` = that level;
- DAIDALUS never alerts: ``max = "NONE"``;
- no traceback, no data loss.

The oracle is NASA DAIDALUS v2.0.4 (its ``level`` column in each scenario's ``daidalus.csv``,
read with tests/daidalus/daidalus_oracle.py); time 0 of its ``.daa`` is the first fix of every
recording, so its seconds are the recording's.  The SUM variants that
tests/daidalus/test_sum_end_to_end.py lists as not comparable (DAIDALUS was given other
sensor uncertainties than NMEA carries) are left out.  ``test_suites.py`` holds the files to
this; run this module to write them again::

    .venv/bin/python tests/check/daidalus_suite.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
SUITE = TESTS / "data" / "check" / "daidalus"
SETS = {
    # data directory: the configuration it is judged with (relative to tests/)
    "daidalus": "daidalus/sepmon-do365.toml",
    "daidalus-sum": "daidalus/sepmon-do365-sum.toml",
}
OWNSHIP = "ownship"
TOLERANCE_S = 2.0  # issue 15: every level onset within 2 s of DAIDALUS
LEVEL_NAMES = {1: "ADVISORY", 2: "CAUTION", 3: "WARNING"}  # DAIDALUS's levels, sepmon's names

sys.path.insert(0, str(TESTS / "daidalus"))
from daidalus_oracle import level_series, read_daidalus  # noqa: E402
from test_sum_end_to_end import NOT_COMPARABLE  # noqa: E402  (its reasons, kept in one place)


def scenarios() -> list[tuple[str, str]]:
    """Every (set, scenario) the suite has a file for, in order."""
    out = []
    for data in SETS:
        for d in sorted(p for p in (TESTS / "data" / data).iterdir() if p.is_dir()):
            if d.name not in NOT_COMPARABLE:
                out.append((data, d.name))
    return out


def oracle(data: str, name: str) -> dict[str, tuple[int, float | None]]:
    """Per intruder: DAIDALUS's highest level and its first second at it (None: never alerts)."""
    rows = read_daidalus(TESTS / "data" / data / name / "daidalus.csv")
    out: dict[str, tuple[int, float | None]] = {}
    for intruder in sorted({r["traffic"] for r in rows if r["ownship"] == OWNSHIP}):
        series = level_series((r for r in rows if r["ownship"] == OWNSHIP), intruder)
        top = max((lv for _, lv in series), default=0)
        out[intruder] = (top, next((t for t, lv in series if lv == top), None) if top else None)
    return out


def expectation_text(data: str, name: str) -> str:
    """The expectation file of scenario ``name`` of set ``data``."""
    pairs = oracle(data, name)
    aircraft = [OWNSHIP, *pairs]
    rel = "../../" + data + "/" + name
    recordings = ", ".join(f'"{rel}/{a}.nmea"' for a in aircraft)
    lines = [
        f"# sepmon check: the DAIDALUS scenario {name} (tests/data/{data}/), judged with {SETS[data]}.",
        "# Oracle: NASA DAIDALUS v2.0.4's `level` column of its daidalus.csv: per pair its highest level,",
        f"# reached by its first second at it + {TOLERANCE_S:g} s (issue 15's tolerance), never above it.",
        "# Written by tests/check/daidalus_suite.py; tests/check/test_suites.py holds it to DAIDALUS's CSV.",
        "",
        "[check]",
        f"recording = [{recordings}]",
        f'config = "../../../{SETS[data]}"',
    ]
    for intruder, (top, first) in pairs.items():
        lines += ["", "[[pair]]", f'pair = ["{intruder}", "{OWNSHIP}"]']
        if top:
            assert first is not None
            lines += [
                f'reaches = "{LEVEL_NAMES[top]}"',
                f"by_s = {first + TOLERANCE_S:g}  # DAIDALUS: {LEVEL_NAMES[top]} at {first:g} s",
                f'max = "{LEVEL_NAMES[top]}"',
            ]
        else:
            lines.append('max = "NONE"  # DAIDALUS never alerts')
    lines += ["", "[run]", "no_traceback = true", "no_data_loss = true", ""]
    return "\n".join(lines)


def file_name(name: str) -> str:
    """The expectation file's name for scenario ``name`` (the SUM variants' names are distinct)."""
    return name + ".check.toml"


def main() -> int:
    SUITE.mkdir(parents=True, exist_ok=True)
    cases = scenarios()
    for data, name in cases:
        (SUITE / file_name(name)).write_text(expectation_text(data, name), encoding="utf-8")
    print(f"wrote {len(cases)} expectation files in {SUITE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
