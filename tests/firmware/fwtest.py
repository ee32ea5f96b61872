"""Shared helpers of the firmware tests (imported by name: conftest modules are not for importing)."""

from __future__ import annotations

import sys
from functools import reduce
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))

from sepmon_fw.app import Board  # noqa: E402
from sepmon_fw.hal import FakeHardware  # noqa: E402


def nmea(body: str) -> bytes:
    """``GPGGA,...`` → ``b"$GPGGA,...*hh\\r\\n"`` (computed here, independently of the firmware)."""
    ck = reduce(lambda a, c: a ^ c, body.encode(), 0)
    return f"${body}*{ck:02X}\r\n".encode()


GGA = nmea("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")
RMC = nmea("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W")


class Rig:
    """A Board on FakeHardware with a fake clock, stepped in fixed increments."""

    def __init__(self, profile: str = "pico") -> None:
        self.hw = FakeHardware(board_id="e6614103e7", mem=123456)
        self.board = Board(self.hw, profile)

    def step(self, ms: int = 0) -> bytes:
        self.hw.advance(ms)
        self.board.step(self.hw.now)
        return self.hw.take_output()

    def run(
        self, total_ms: int, every_ms: int = 10, gps: bytes | None = None, gps_every_ms: int = 0
    ) -> bytes:
        """Step for ``total_ms``; optionally feed ``gps`` every ``gps_every_ms``. Returns all output."""
        out = bytearray()
        t = 0
        next_gps = 0
        while t < total_ms:
            if gps is not None and gps_every_ms and t >= next_gps:
                self.hw.gps_in(gps)
                next_gps += gps_every_ms
            out += self.step(every_ms)
            t += every_ms
        return bytes(out)

    def alert(
        self,
        seq: int,
        level: int,
        ttl: int = 2000,
        bearing: str = "90",
        rng: str = "1500",
        flags: str | None = None,
    ) -> bytes:
        """Send ``$PSEPA`` (the 5-field form when ``flags`` is None) and step once."""
        extra = "" if flags is None else f",{flags}"
        self.hw.host_in(nmea(f"PSEPA,{seq},{level},{bearing},{rng},{ttl}{extra}"))
        return self.step(1)
