"""``sepmon ports``: serial ports, and which of them are sepmon boards."""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from sepmon.apps.flashing import BOARD_USB_IDS, PortProbe, port_info, probe_port, serial_ports
from sepmon.commands._common import check_seconds
from sepmon.core.errors import SepmonError

NAME = "ports"
HELP = "list serial ports of known boards and identify sepmon boards on them"
MAX_LISTEN_S = 3600.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("extra", nargs="*", metavar="PORT", help="also probe these ports (e.g. virtual ones)")
    p.add_argument(
        "--listen", type=float, default=11.0, metavar="S",
        help="seconds to listen for $PSEPI per port (boards send it every 10 s; default 11, at most 3600)",
    )  # fmt: skip
    p.add_argument(
        "--any-port", action="store_true",
        help="probe every USB serial port, not only known board USB IDs "
        f"({', '.join(f'{v:04x}:{d:04x}' for v, d in BOARD_USB_IDS)}); opening a port resets "
        "Arduino-style boards",
    )  # fmt: skip
    p.add_argument(
        "--all", action="store_true", help="also ports without a USB id (built-in UARTs); implies --any-port"
    )


def run(args: argparse.Namespace) -> int:
    listen = check_seconds("--listen", args.listen, MAX_LISTEN_S)
    for d in args.extra:
        if not os.path.exists(d):
            raise SepmonError(f"no such port: {d}")
    any_port = args.any_port or args.all
    found: list[tuple[str, str, bool]] = []  # device, description, careful (not a known board)
    skipped = 0
    for sp in serial_ports():
        if sp.known:
            found.append((sp.device, sp.description, False))
        elif (sp.usb_id is not None and any_port) or args.all:
            found.append((sp.device, sp.description, True))
        elif sp.usb_id is not None:
            skipped += 1
    listed = {os.path.realpath(d) for d, _, _ in found}
    for d in args.extra:
        if os.path.realpath(d) not in listed:
            info = port_info(d)
            found.append((d, "given on the command line", info is None or not info.known))
    if skipped:
        print(
            f"{skipped} other USB serial port(s) not probed: no known board USB ID (--any-port probes them)",
            file=sys.stderr,
        )
    if not found:
        print("no board serial ports found")
        return 0
    with ThreadPoolExecutor(max_workers=min(8, len(found))) as pool:
        probes: list[PortProbe] = list(
            pool.map(lambda f: probe_port(f[0], f[1], listen, careful=f[2]), found)
        )
    failed = []
    for pr in probes:
        if pr.identity is not None:
            i = pr.identity
            what = (
                f"sepmon board {i.board_id}, firmware {i.fw_version}, profile {i.profile}, protocol {i.proto}"
            )
        elif pr.state == "sepmon?":
            what = f"sepmon board ({pr.detail})"
        elif pr.state == "quiet":
            what = "no sepmon board heard"
        else:
            what = f"{pr.state}: {pr.detail}"
            if pr.port in args.extra:
                failed.append(pr)
        print(f"{pr.port}\t{pr.description}\t{what}")
    if failed:
        raise SepmonError(f"cannot probe {failed[0].port}: {failed[0].state}: {failed[0].detail}")
    return 0
