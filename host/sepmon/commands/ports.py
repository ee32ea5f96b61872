"""``sepmon ports``: serial ports, and which of them are sepmon boards."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor

from sepmon.apps.flashing import PortProbe, probe_port

NAME = "ports"
HELP = "list serial ports and identify sepmon boards on them"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("extra", nargs="*", metavar="PORT", help="also probe these ports (e.g. virtual ones)")
    p.add_argument(
        "--listen", type=float, default=11.0, metavar="S",
        help="seconds to listen for $PSEPI per port (boards send it every 10 s; default 11)",
    )  # fmt: skip
    p.add_argument("--all", action="store_true", help="include ports without a USB id (built-in UARTs)")


def run(args: argparse.Namespace) -> int:
    from serial.tools import list_ports

    found = [(p.device, p.description or "") for p in list_ports.comports() if args.all or p.vid is not None]
    known = {d for d, _ in found}
    found += [(d, "given on the command line") for d in args.extra if d not in known]
    if not found:
        print("no serial ports found")
        return 0
    with ThreadPoolExecutor(max_workers=min(8, len(found))) as pool:
        probes: list[PortProbe] = list(pool.map(lambda pd: probe_port(pd[0], pd[1], args.listen), found))
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
        print(f"{pr.port}\t{pr.description}\t{what}")
    return 0
