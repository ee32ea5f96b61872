"""``sepmon report``: plots and an HTML page from an event log (and tracks)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sepmon.apps.configfile import load_config
from sepmon.apps.safeio import check_outputs

NAME = "report"
HELP = "draw a map, range-over-time plots and an HTML page from an event log (and tracks CSV)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``sepmon report``."""
    p.add_argument(
        "events", metavar="EVENTS", help="event log (JSON Lines from analyze --events or run --events)"
    )
    p.add_argument(
        "tracks", nargs="?", metavar="TRACKS", help="tracks CSV from analyze --tracks (for the map)"
    )
    p.add_argument(
        "--output", "-o", metavar="OUTDIR", required=True, help="directory for the PNGs and report.html"
    )
    p.add_argument("--config", "-c", metavar="FILE", help="TOML configuration (minima per pair, aliases)")
    p.add_argument("--title", default="sepmon report", help="page title")


def run(args: argparse.Namespace) -> int:
    """Write the report; problems with the input are one line each on stderr."""
    # Imported here: matplotlib loads in ~0.5 s, other commands should not pay for it.
    from sepmon.presentation.report import build_report

    config = load_config(args.config)
    inputs = [("--config", args.config), ("EVENTS", args.events), ("TRACKS", args.tracks)]
    out = Path(args.output)
    written = [("the report", out / "report.html"), ("the map", out / "map.png")]
    for _label, path in inputs:  # the pair plots: pair-NN-a-b.png
        if path is not None and Path(path).name.startswith("pair-") and Path(path).suffix == ".png":
            written.append(("a pair plot", out / Path(path).name))
    check_outputs(inputs, written)
    result = build_report(args.events, args.tracks, args.output, config=config, title=args.title)
    for w in result.warnings:
        print(f"sepmon report: warning: {w}", file=sys.stderr)
    print(f"{result.html}  ({len(result.images)} image(s), {len(result.pairs)} pair(s))")
    return 0
