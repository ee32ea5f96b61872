"""``sepmon analyze``: the whole pipeline over recorded NMEA, offline."""

from __future__ import annotations

import argparse
import datetime

from rich.console import Console

from sepmon.apps.analyze import run_analysis
from sepmon.apps.configfile import load_config
from sepmon.apps.safeio import check_outputs
from sepmon.core.model import Event
from sepmon.presentation.report_text import event_line, print_summary

NAME = "analyze"
HELP = "run recorded NMEA through the monitor and print the alert timeline"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``sepmon analyze``."""
    p.add_argument("recordings", nargs="+", metavar="RECORDING", help="NMEA files (TAG blocks optional)")
    p.add_argument("--config", "-c", metavar="FILE", help="TOML configuration")
    p.add_argument("--events", metavar="OUT.jsonl", help="write events as JSON Lines")
    p.add_argument("--tracks", metavar="OUT.csv", help="write every fix as CSV")
    p.add_argument("--quiet", "-q", action="store_true", help="summary only, no timeline")
    p.add_argument(
        "--date",
        type=_date,
        metavar="YYYY-MM-DD",
        help="UTC date of recordings that carry none (no RMC/ZDA date, no TAG c:)",
    )


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Run the analysis; exit 1 when no fix at all was found."""
    config = load_config(args.config)
    check_outputs(
        [("--config", args.config), *(("recording", r) for r in args.recordings)],
        [("--events", args.events), ("--tracks", args.tracks)],
    )
    console = Console(highlight=False)

    def show(ev: Event) -> None:
        if not args.quiet:
            console.print(event_line(ev), soft_wrap=True)

    result = run_analysis(
        args.recordings,
        config,
        events_out=args.events,
        tracks_out=args.tracks,
        on_event=show,
        default_date=args.date,
    )
    print_summary(console, result.stats, result.pairs)
    if result.fixes == 0:
        console.print("[bold red]no position fix found in the input[/]")
        return 1
    return 0
