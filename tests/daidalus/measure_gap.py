"""Level onsets of ``sepmon analyze`` against DAIDALUS's, per scenario of the oracle set.

Runs ``sepmon analyze``'s public function on every scenario's NMEA recordings with a
configuration file (``sepmon_onsets.analyze_levels``), reads the level events, and prints a
Markdown table: per ownship/intruder pair and level, DAIDALUS's first time at or above that
level (with its hysteresis/M-of-N, and with ``--nohysteresis``), sepmon's, and the
difference. Times are seconds from the recording's start. Pairs not involving the
ownship (DAIDALUS only looks from the ownship) are listed when sepmon alerts on them.

Run: ``python tests/daidalus/measure_gap.py [--config TOML]``
(default config: ``sepmon-do365.toml`` beside this file, ``preset = "do365"``, the one
``test_end_to_end.py`` uses; ``sepmon-do365-approx.toml`` is the README's "before", in the keys
sepmon had before the presets).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from daidalus_oracle import scenarios
from sepmon_onsets import DO365_CONFIG, compare, markdown

from sepmon.core.errors import SepmonError


def main(argv: Sequence[str]) -> int:
    """Print the table."""
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--config", type=Path, default=DO365_CONFIG)
    args = p.parse_args(argv)
    try:
        runs = [compare(sc, args.config) for sc in scenarios()]
    except SepmonError as exc:
        print(f"measure_gap: {exc}", file=sys.stderr)
        return 2
    print("\n".join(markdown(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
