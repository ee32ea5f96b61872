"""``sepmon check``: run recordings and judge them against the expectation files beside them."""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sepmon.apps.check import (
    CheckError,
    ExpectationFile,
    Observation,
    RecordingResult,
    case_recording,
    evaluate,
    expectation_path,
    find_recordings,
    judge_config,
    junit_xml,
    load_expectations,
    observe_offline,
    parse_expectations,
    propose,
    read_recorded,
    write_update,
)
from sepmon.apps.checklive import observe_live
from sepmon.core.errors import SepmonError

NAME = "check"
HELP = "run recordings (offline, or live through ports, virtual or real boards) and check their expectations"

STYLE = {"pass": "green", "fail": "bold red", "skip": "yellow"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``sepmon check``."""
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="recordings, or directories of them; each X.nmea is judged by X.check.toml beside it",
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="play through virtual serial ports into a real `sepmon run` child (default: offline analysis)",
    )
    p.add_argument(
        "--boards",
        nargs="+",
        action="extend",
        metavar="virtual|NAME=PORT",
        help="with --live: 'virtual' runs the firmware's logic on every port; NAME=PORT uses the real "
        "board on PORT for source NAME, fed NAME's recorded NMEA by GPS injection over that port",
    )
    p.add_argument(
        "--gps-feed",
        action="append",
        default=[],
        metavar="NAME=DEVICE",
        help="real boards: the USB-serial adapter wired to board NAME's GPS RX, fed NAME's recorded NMEA "
        "(instead of GPS injection)",
    )
    p.add_argument(
        "--inject",
        action="store_true",
        help="with --boards virtual: feed the virtual boards by GPS injection over their USB port, "
        "as real boards are fed, and judge them on their acknowledgements",
    )
    p.add_argument("--gps-baud", type=int, default=9600, metavar="BAUD", help="GPS feed baud rate (9600)")
    p.add_argument(
        "--update",
        action="store_true",
        help="write the expectation files from the current behaviour (shown, for review)",
    )
    p.add_argument("--junit", metavar="FILE.xml", help="also write the results as JUnit XML")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help="live playing speed (default 1; offline ignores it)",
    )
    p.add_argument(
        "--config", "-c", metavar="FILE", help="sepmon configuration (default: [check] config of each file)"
    )


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise SepmonError(f"{what} {item!r}: expected NAME=PORT", status=2)
        if name in out:
            raise SepmonError(f"{what} {name}: given twice", status=2)
        out[name] = value
    return out


def _boards(args: argparse.Namespace) -> str | dict[str, str] | None:
    if not args.boards:
        if args.gps_feed:
            raise SepmonError("--gps-feed goes with --boards NAME=PORT", status=2)
        return None
    if not args.live:
        raise SepmonError("--boards needs --live (offline analysis has no ports)", status=2)
    if args.boards == ["virtual"]:
        return "virtual"
    if "virtual" in args.boards:
        raise SepmonError("--boards: give either 'virtual' or NAME=PORT pairs, not both", status=2)
    return _pairs(args.boards, "--boards")


def _existing(path: Path) -> ExpectationFile | None:
    """The expectation file already there (for --update: its [check] config is kept)."""
    if not path.is_file():
        return None
    try:
        return load_expectations(path)
    except CheckError:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            return parse_expectations({"check": data.get("check", {})}, path)
        except (CheckError, ValueError, OSError):
            return None


def _observe(rec: Path, exp: ExpectationFile | None, args: argparse.Namespace) -> Observation:
    config = judge_config(exp or ExpectationFile(rec), args.config)
    rec, simulation = case_recording(rec, exp)  # a stand-alone expectation file names its recording
    recorded = read_recorded(rec, config, simulation)
    if not args.live:
        return observe_offline(rec, config, recorded)
    return observe_live(
        rec,
        config,
        speed=args.speed,
        boards=_boards(args),
        gps_feeds=_pairs(args.gps_feed, "--gps-feed"),
        gps_baud=args.gps_baud,
        recorded=recorded,
        inject=args.inject,
    )


def _table(console: Console, result: RecordingResult) -> None:
    table = Table(title=f"{escape(str(result.recording))} ({result.mode})", title_justify="left")
    for col in ("", "expectation", "seen", "where"):
        table.add_column(col)
    for o in result.outcomes:
        table.add_row(
            f"[{STYLE[o.status]}]{o.status.upper()}[/]", escape(o.name), escape(o.seen), escape(o.where)
        )
    console.print(table)


def run(args: argparse.Namespace) -> int:
    """Check every recording; exit 0 only when every expectation of every recording holds."""
    if args.live and not args.speed > 0:
        raise SepmonError("--speed must be above 0 with --live", status=2)
    _boards(args)  # argument errors before any work
    recordings = find_recordings(args.paths)
    console = Console(highlight=False)
    results: list[RecordingResult] = []
    for rec in recordings:
        exp_path = expectation_path(rec)
        mode = "offline" if not args.live else "live"
        try:
            exp = _existing(exp_path) if args.update else load_expectations(exp_path)
            obs = _observe(rec, exp, args)
            if args.update:
                cfg = None
                if args.config is not None:
                    cfg = os.path.relpath(Path(args.config).resolve(), exp_path.parent.resolve())
                elif exp is not None and exp.config_path is not None:
                    cfg = os.path.relpath(exp.config_path, exp_path.parent.resolve())
                case = exp.case if exp is not None else None
                for line in write_update(exp_path, propose(obs, cfg, case)):
                    console.print(escape(line), soft_wrap=True)
                exp = load_expectations(exp_path)
            assert exp is not None
            result = RecordingResult(rec, obs.mode, evaluate(exp, obs), wall_s=obs.wall_s)
        except SepmonError as exc:
            result = RecordingResult(rec, mode, error=str(exc))
        results.append(result)
        if result.error is not None:
            console.print(f"[bold red]ERROR[/] {escape(str(rec))}: {escape(result.error)}", soft_wrap=True)
            continue
        _table(console, result)
        for o in result.outcomes:
            if o.status == "fail":
                console.print(f"[bold red]FAIL[/] {escape(str(rec))}: {escape(o.explain())}", soft_wrap=True)
    if args.junit:
        try:
            Path(args.junit).write_bytes(junit_xml(results))
        except OSError as exc:
            raise SepmonError(f"cannot write {args.junit}: {exc.strerror or exc}") from None
    mode_text = "live" if args.live else "offline"
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    style = "green" if not failed else "bold red"
    console.print(
        f"[{style}]checked {len(results)} recording(s) {mode_text}: {passed} passed, {failed} failed[/]"
    )
    return 0 if not failed else 1
