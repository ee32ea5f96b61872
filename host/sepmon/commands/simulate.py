"""``sepmon simulate``: write an NMEA recording of a generated encounter (see ``sepmon.sim``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from sepmon.apps.safeio import check_outputs
from sepmon.sim import SCENARIOS, SimulationError, simulate, write_recording, write_truth_csv
from sepmon.sim.params import RECEIVERS

NAME = "simulate"
HELP = "write an NMEA recording of a generated encounter, with realistic noise and faults"

T = TypeVar("T", int, float)

# (option, Params field, type). Values arrive as strings and are converted in run(),
# so a bad one is reported as one line by our error path instead of argparse's usage dump.
_NUMERIC: tuple[tuple[str, str, type], ...] = (
    ("seed", "seed", int),
    ("rate", "rate", float),
    ("duration", "duration", float),
    ("speed", "speed", float),
    ("separation", "separation", float),
    ("miss", "miss", float),
    ("vertical", "vertical", float),
    ("hdop", "hdop", float),
    ("vehicles", "vehicles", int),
    ("heading", "heading", float),
    ("lat", "lat", float),
    ("lon", "lon", float),
    ("alt", "alt", float),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``sepmon simulate``."""
    p.add_argument("scenario", metavar="SCENARIO", help=f"one of: {', '.join(SCENARIOS)}")
    p.add_argument(
        "-o", "--output", metavar="OUT.nmea", help="recording to write (a directory with --per-source-files)"
    )
    p.add_argument("--seed", metavar="N", help="random seed (default 0); same seed, same bytes")
    p.add_argument(
        "--rate", metavar="HZ", help="fix rate of every receiver: 0.5, 1, 2, 4, 5, 10 or 20 (default 1)"
    )
    p.add_argument(
        "--duration", metavar="S", help="length of the run in seconds (default: twice the CPA time)"
    )
    p.add_argument("--speed", metavar="MPS", help="vehicle speed in m/s (default 60; boats ~8)")
    p.add_argument(
        "--separation", metavar="M", help="initial horizontal range (parallel: the lateral distance)"
    )
    p.add_argument("--miss", metavar="M", help="horizontal miss distance at the CPA (default 150)")
    p.add_argument(
        "--vertical", metavar="M", help="intruder height above alpha (climbing: start below, default 300)"
    )
    p.add_argument(
        "--hdop", "--noise", dest="hdop", metavar="X", help="HDOP; noise σ = 2.5 m × HDOP (default 1)"
    )
    p.add_argument(
        "--faults", action="store_true", help="dropouts, no-fix gaps, corrupt/truncated lines, binary garbage"
    )
    p.add_argument("--talker", metavar="GP|GN|mixed", help="talker ID (GN: multi-GNSS GSA/GSV); default GP")
    p.add_argument(
        "--sentences",
        metavar="LIST",
        help="comma list of RMC,VTG,GGA,GNS,GLL,GSA,ZDA,GSV, sent in that order (default RMC,VTG,GGA,GSA)",
    )
    p.add_argument(
        "--dialect", metavar="2.3|4.10|4.11", help="NMEA version written (4.10+: navigational status, IDs)"
    )
    p.add_argument(
        "--receiver",
        metavar="KIND",
        help=f"a receiver's defaults for dialect, talker and sentences: {', '.join(RECEIVERS)}",
    )
    p.add_argument("--bystander", action="store_true", help="add a parked vehicle 15 km away")
    p.add_argument("--vehicles", metavar="N", help="number of vehicles for 'many' (default 6)")
    p.add_argument("--heading", metavar="DEG", help="alpha's course, degrees true (default 70)")
    p.add_argument("--lat", metavar="DEG", help="latitude of the encounter (default 47.26)")
    p.add_argument("--lon", metavar="DEG", help="longitude of the encounter (default 11.35)")
    p.add_argument("--alt", metavar="M", help="alpha's ellipsoid height (default 1500)")
    p.add_argument(
        "--start", metavar="ISO8601", help="UTC start, e.g. 2024-03-15T23:59:30Z (default 2024-03-15T10:00Z)"
    )
    p.add_argument(
        "--per-source-files", action="store_true", help="one OUT/<source>.nmea per vehicle, no TAG blocks"
    )
    p.add_argument(
        "--truth", metavar="TRUTH.csv", help="also write the true state of every vehicle at every fix"
    )


def _convert(option: str, text: str, kind: Callable[[str], T]) -> T:
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise SimulationError(f"--{option} must be {what}, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Simulate, write the recording (and truth), print a one-line summary."""
    if not args.output:
        raise SimulationError("an output is required: -o OUT.nmea")
    params: dict[str, Any] = {}
    for option, field, kind in _NUMERIC:
        text = getattr(args, option)
        if text is not None:
            params[field] = _convert(option, text, kind)
    if args.receiver is not None:
        if args.receiver not in RECEIVERS:
            raise SimulationError(f"--receiver must be one of {', '.join(RECEIVERS)}, got {args.receiver!r}")
        params["dialect"], params["talker"], params["sentences"] = RECEIVERS[args.receiver]
    if args.dialect is not None:
        params["dialect"] = args.dialect
    if args.talker is not None:
        params["talker"] = "mixed" if args.talker.lower() == "mixed" else args.talker.upper()
    if args.sentences is not None:
        params["sentences"] = args.sentences.upper()
    if args.start is not None:
        params["start"] = args.start
    params["faults"] = bool(args.faults)
    params["bystander"] = bool(args.bystander)
    check_outputs([], [("-o", args.output), ("--truth", args.truth)])
    sim = simulate(args.scenario, **params)
    written = write_recording(sim, args.output, per_source=args.per_source_files)
    if args.truth:
        write_truth_csv(sim, args.truth)
    where = args.output if not args.per_source_files else f"{args.output} ({len(written)} files)"
    print(f"{sim.summary()} -> {where}")
    return 0
