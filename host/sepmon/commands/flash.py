"""``sepmon flash``: put the firmware and a board profile onto a MicroPython board."""

from __future__ import annotations

import argparse
import sys

from sepmon.apps.flashing import firmware_dir, flash, profile_names
from sepmon.core.errors import SepmonError

NAME = "flash"
HELP = "copy the sepmon firmware and a board profile onto a MicroPython board (via mpremote)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--board", required=True, metavar="PROFILE", help="board profile: pico, esp32_devkit, tbeam"
    )
    p.add_argument("--port", help="serial port of the board (default: the only USB serial port found)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--mpy", dest="compile", action="store_true", default=None, help="always copy .mpy")
    mode.add_argument("--source", dest="compile", action="store_false", help="always copy .py source")
    p.add_argument("--wait", type=float, default=15.0, metavar="S", help="seconds to wait for $PSEPI")


def _default_port() -> str:
    from serial.tools import list_ports

    usb = [p.device for p in list_ports.comports() if p.vid is not None]
    if len(usb) == 1:
        return str(usb[0])
    if not usb:
        raise SepmonError("no USB serial port found; plug the board in or pass --port")
    raise SepmonError(f"several USB serial ports ({', '.join(usb)}); choose one with --port")


def run(args: argparse.Namespace) -> int:
    fw = firmware_dir()
    if args.board not in profile_names(fw):
        raise SepmonError(f"unknown board profile {args.board!r}; known: {', '.join(profile_names(fw))}")
    port = args.port or _default_port()
    res = flash(
        port,
        args.board,
        fw,
        compile_=args.compile,
        wait_identity_s=args.wait,
        progress=lambda m: print(m, file=sys.stderr),
    )
    kind = "mpy" if res.compiled else "source"
    print(f"flashed {len(res.files)} files to {port} ({kind}, profile {res.profile})")
    if res.identity is None:
        raise SepmonError(
            f"files copied, but no $PSEPI identity from {port} within {args.wait:g} s after reset"
        )
    i = res.identity
    print(f"board {i.board_id}: sepmon firmware {i.fw_version}, profile {i.profile}, protocol {i.proto}")
    return 0
