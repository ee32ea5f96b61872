"""``sepmon replay``: play a recording into virtual serial ports (see ``sepmon.apps.replay``)."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from sepmon.apps.replay import Replayer, load_recording
from sepmon.apps.safeio import check_outputs
from sepmon.apps.virtualboard import BoardView
from sepmon.core.errors import SepmonError

NAME = "replay"
HELP = "play NMEA recordings into virtual serial ports (one pty per source), with their timing"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``sepmon replay``."""
    p.add_argument(
        "recordings",
        nargs="+",
        metavar="RECORDING",
        help="TAG-blocked recordings (sepmon record / simulate) or plain NMEA files (source = file stem)",
    )
    p.add_argument(
        "--speed",
        metavar="X",
        default="1",
        help="time factor (default 1; 10 plays ten times faster); 0: no pacing, as fast as read",
    )
    p.add_argument(
        "--boards",
        action="store_true",
        help="a virtual board (the firmware) on every port: $PSEPI/$PSEPS out, $PSEPA in",
    )
    p.add_argument("--dir", metavar="DIR", help="where the port links DIR/<source> go (default: a temp dir)")
    p.add_argument(
        "--ports-file", metavar="FILE", help="write the 'source port' lines here (atomically), not stdout"
    )
    p.add_argument("--loop", action="store_true", help="start over at the end, until interrupted")


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        speed = math.nan
    if not (math.isfinite(speed) and speed >= 0):
        raise SepmonError(f"--speed must be 0 or a positive number, got {text!r}", status=2)
    return speed


def write_ports_file(path: str | Path, ports: dict[str, str]) -> None:
    """``source port`` lines, written to a temp file beside ``path`` and renamed over it."""
    target = Path(path)
    text = "".join(f"{name} {port}\n" for name, port in ports.items())
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise SepmonError(f"cannot write {target}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _stop_on_signals(replayer: Replayer) -> Iterator[None]:
    """SIGINT/SIGTERM end the replay cleanly (ports closed, links removed)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        replayer.stop()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def run(args: argparse.Namespace) -> int:
    """Load, open the ports, announce them, play; 0 at the end or on SIGINT/SIGTERM."""
    speed = _speed(args.speed)
    recording = load_recording(args.recordings)
    port_dir = Path(args.dir) if args.dir else None
    check_outputs(
        [("recording", r) for r in args.recordings],
        [("--ports-file", args.ports_file)]
        + ([(f"the port of {s}", port_dir / s) for s in recording.lines] if port_dir is not None else []),
    )
    if recording.bad_lines:
        print(f"sepmon replay: skipped {recording.bad_lines} line(s) with a bad TAG block", file=sys.stderr)

    def on_board(t: float, source: str, view: BoardView) -> None:
        print(f"{t:8.2f} s  {source}  {view.pattern} (level {view.level})", flush=True)

    replayer = Replayer(
        recording.lines, args.dir, speed, boards=args.boards, loop=args.loop, on_board=on_board
    )
    try:
        with _stop_on_signals(replayer):
            ports = replayer.open()
            if args.ports_file:
                write_ports_file(args.ports_file, ports)
            else:
                for name, port in ports.items():
                    print(f"{name} {port}", flush=True)
            replayer.run()
    finally:
        replayer.close()
    stats = replayer.stats()
    lost = {n: s.dropped for n, s in stats.items() if s.dropped}
    summary = f"replayed {sum(s.lines for s in stats.values())} lines of {len(stats)} source(s)"
    if speed > 0:
        p50, _, worst = replayer.lateness()
        summary += f", late by {p50 * 1000:.1f} ms median, {worst * 1000:.1f} ms at most"
    if lost:
        summary += "; lines dropped: " + ", ".join(f"{n} {k}" for n, k in lost.items())
    print(f"sepmon replay: {summary}", file=sys.stderr)
    return 0
