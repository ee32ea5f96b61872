"""``sepmon flash``: put the firmware and a board profile onto a MicroPython board."""

from __future__ import annotations

import argparse
import sys

from sepmon.apps.flashing import BOARD_USB_IDS, firmware_dir, flash, profile_names, serial_ports
from sepmon.commands._common import check_seconds
from sepmon.core.errors import SepmonError

MAX_WAIT_S = 600.0  # a board that has not said who it is ten minutes after a reset will not

NAME = "flash"
HELP = "copy the sepmon firmware and a board profile onto a MicroPython board (via mpremote)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--board", required=True, metavar="PROFILE", help="board profile: pico, esp32_devkit, tbeam"
    )
    p.add_argument("--port", help="serial port of the board (default: the only board USB port found)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--mpy", dest="compile", action="store_true", default=None, help="always copy .mpy")
    mode.add_argument("--source", dest="compile", action="store_false", help="always copy .py source")
    p.add_argument(
        "--wait", type=float, default=15.0, metavar="S", help="seconds to wait for the REPL, then for $PSEPI"
    )
    p.add_argument(
        "--gps", metavar="PRESET",
        help="receiver set-up at boot: ublox, ublox-airborne, ublox-airborne-5hz, mtk, mtk-airborne, "
        "mtk-airborne-5hz, or none (default: the profile's own; see docs/firmware.md)",
    )  # fmt: skip
    p.add_argument(
        "--any-port", action="store_true",
        help="allow a port whose USB ID is not a known board's (opening a port resets Arduino-style boards)",
    )  # fmt: skip


def _default_port(any_port: bool) -> str:
    ports = [p for p in serial_ports() if p.usb_id is not None and (any_port or p.known)]
    if len(ports) == 1:
        return ports[0].device
    if not ports:
        ids = ", ".join(f"{v:04x}:{p:04x}" for v, p in BOARD_USB_IDS)
        raise SepmonError(f"no board USB serial port found ({ids}); plug the board in or pass --port")
    raise SepmonError(
        f"several board USB serial ports ({', '.join(p.device for p in ports)}); choose one with --port"
    )


def run(args: argparse.Namespace) -> int:
    check_seconds("--wait", args.wait, MAX_WAIT_S)
    fw = firmware_dir()
    if args.board not in profile_names(fw):
        raise SepmonError(f"unknown board profile {args.board!r}; known: {', '.join(profile_names(fw))}")
    port = args.port or _default_port(args.any_port)
    res = flash(
        port,
        args.board,
        fw,
        compile_=args.compile,
        wait_identity_s=args.wait,
        progress=lambda m: print(m, file=sys.stderr),
        gps=args.gps,
        any_port=args.any_port,
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
