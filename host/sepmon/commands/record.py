"""``sepmon record``: append every line from boards / sources to a TAG-blocked recording."""

from __future__ import annotations

import argparse
import asyncio
import math
import sys

from sepmon.apps.configfile import load_config
from sepmon.apps.record import Recorder
from sepmon.apps.safeio import check_outputs
from sepmon.commands._common import add_ports_argument, all_sources, file_inputs
from sepmon.core.errors import SepmonError

NAME = "record"
HELP = "record NMEA from serial ports / sources into one TAG-blocked file (appends, crash-safe)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``sepmon record``."""
    add_ports_argument(p)
    p.add_argument("--config", "-c", metavar="FILE", help="TOML configuration ([[sources]], ingest.max_line)")
    p.add_argument("-o", "--output", metavar="OUT.nmea", help="recording to append to (created if missing)")
    p.add_argument("--duration", metavar="S", help="stop after S seconds (default: until SIGINT/SIGTERM)")


def run(args: argparse.Namespace) -> int:
    """Record until interrupted or the duration is over; a one-line summary on stderr."""
    if not args.output:
        raise SepmonError("an output is required: -o OUT.nmea", status=2)
    duration = None
    if args.duration is not None:
        try:
            duration = float(args.duration)
        except ValueError:
            duration = math.nan
        if not (math.isfinite(duration) and duration > 0):
            raise SepmonError(f"--duration must be a positive number of seconds, got {args.duration!r}", 2)
    config = load_config(args.config)
    specs = all_sources(config.raw.get("sources"), args.ports)
    check_outputs([("--config", args.config), *file_inputs(specs)], [("-o", args.output)])

    def note(text: str) -> None:
        print(f"sepmon record: {text}", file=sys.stderr, flush=True)

    recorder = Recorder(specs, args.output, max_line=config.ingest.max_line, note=note)
    asyncio.run(recorder.serve(duration))
    per = ", ".join(f"{s.name} {recorder.counts[s.name]}" for s in specs)
    note(f"{sum(recorder.counts.values())} lines appended to {args.output} ({per})")
    return 0
