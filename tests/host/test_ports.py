"""``sepmon ports``: finds sepmon boards by listening for their identity."""

from __future__ import annotations

import os
import sys
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from sepmon.apps.flashing import probe_port
from sepmon.cli import main

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))

from sepmon_fw.app import Board  # noqa: E402
from sepmon_fw.hal import FakeHardware  # noqa: E402


class PtyBoard:
    """The real firmware core (CPython) on a pty: what a board sends on its USB port."""

    def __init__(self, profile: str, speak: bool = True, uptime_ms: int = 0) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.hw = FakeHardware(board_id="e6614103e7")
        self.board = Board(self.hw, profile)
        self.stop = threading.Event()
        self.speak = speak
        if uptime_ms:  # booted a while ago: the boot identity went out before anyone listened
            self.board.step(0)
            self.hw.take_output()
        self.uptime_ms = uptime_ms
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self) -> None:
        t0 = time.monotonic() - self.uptime_ms / 1000
        while not self.stop.is_set():
            if self.speak:
                self.board.step(self.hw.now)
                out = self.hw.take_output()
                if out:
                    os.write(self.master, out)
            time.sleep(0.02)
            self.hw.now = int((time.monotonic() - t0) * 1000)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def boards() -> Iterator[list[PtyBoard]]:
    made: list[PtyBoard] = []
    yield made
    for b in made:
        b.close()


def test_ports_identifies_boards(boards: list[PtyBoard], capsys: pytest.CaptureFixture[str]) -> None:
    # booted 9 s ago: its next identity is due in about 1 s (then every 10 s)
    a = PtyBoard("esp32_devkit", uptime_ms=9_000)
    quiet = PtyBoard("pico", speak=False)
    boards += [a, quiet]
    t = time.monotonic()
    assert main(["ports", a.port, "--listen", "12"]) == 0
    assert time.monotonic() - t < 12  # stops listening once the identity is in
    assert main(["ports", quiet.port, "--listen", "1"]) == 0
    out = capsys.readouterr().out
    lines = {ln.split("\t")[0]: ln for ln in out.splitlines()}
    assert "sepmon board e6614103e7, firmware 0.1.0, profile esp32_devkit, protocol 1" in lines[a.port]
    assert "no sepmon board heard" in lines[quiet.port]


def test_busy_port_reported(boards: list[PtyBoard]) -> None:
    a = PtyBoard("pico")
    boards.append(a)
    holder = serial.Serial(a.port, exclusive=True)
    try:
        pr = probe_port(a.port, "", 0.5)
    finally:
        holder.close()
    assert pr.state == "busy"


def test_status_only_board(boards: list[PtyBoard]) -> None:
    """Joined between two identities: it is recognised as a sepmon board from its status lines."""
    a = PtyBoard("tbeam", uptime_ms=1_000)
    boards.append(a)
    pr = probe_port(a.port, "", 2.5)
    assert pr.state == "sepmon?" and pr.identity is None


def test_missing_port(tmp_path: Path) -> None:
    pr = probe_port(str(tmp_path / "nope"), "", 0.1)
    assert pr.state == "error"
