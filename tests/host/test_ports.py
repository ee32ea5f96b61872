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


@pytest.mark.parametrize("value", ["nan", "-1", "0", "inf", "-inf", "1e9"])
def test_listen_must_be_a_sensible_duration(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13 item 14: nan and negative values were taken, inf hung. Now one line, exit 1.

    Oracle: IEEE 754 (nan and inf are not finite durations) and the documented range, 0-3600 s.
    """
    assert main(["ports", f"--listen={value}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sepmon ports: error: --listen must be more than 0 and at most 3600 seconds")
    assert err.count("\n") == 1


def test_missing_port_named_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13 item 14: `sepmon ports /dev/nonexistent` exited 0."""
    missing = str(tmp_path / "ttyNONE")
    assert main(["ports", missing, "--listen", "0.5"]) == 1
    err = capsys.readouterr().err
    assert err == f"sepmon ports: error: no such port: {missing}\n"


def test_only_known_board_ids_are_opened(
    boards: list[PtyBoard], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16 item 7: a port whose USB ID is not a known board's is not opened (opening raises
    DTR/RTS and resets Arduino-style boards) unless --any-port; then it is opened carefully.

    Oracle: the USB IDs of the supported boards' bridges as the udev rule lists them
    (deploy/99-sepmon.rules); 2341:0043 is an Arduino Uno (Arduino's USB vendor ID).
    """
    from sepmon.apps import flashing
    from sepmon.commands import ports as ports_cmd

    a = PtyBoard("esp32_devkit")
    other = PtyBoard("pico", speak=False)
    boards += [a, other]
    listed = [
        flashing.SerialPort(a.port, "CP2102 USB to UART", (0x10C4, 0xEA60)),
        flashing.SerialPort(other.port, "Arduino Uno", (0x2341, 0x0043)),
        flashing.SerialPort("/dev/ttyS0", "built-in UART", None),
    ]
    monkeypatch.setattr(ports_cmd, "serial_ports", lambda: listed)
    opened: list[tuple[str, bool]] = []
    real_probe = ports_cmd.probe_port

    def probe(port: str, desc: str, listen: float, careful: bool = False) -> flashing.PortProbe:
        opened.append((port, careful))
        return real_probe(port, desc, listen, careful=careful)

    monkeypatch.setattr(ports_cmd, "probe_port", probe)
    assert main(["ports", "--listen", "11"]) == 0
    assert opened == [(a.port, False)]
    out, err = capsys.readouterr()
    assert "sepmon board e6614103e7" in out and other.port not in out
    assert "1 other USB serial port(s) not probed" in err
    opened.clear()
    assert main(["ports", "--listen", "0.5", "--any-port"]) == 0
    assert sorted(opened) == sorted([(a.port, False), (other.port, True)])  # not the built-in UART


def test_unrecognised_port_opened_without_touching_dtr(
    boards: list[PtyBoard], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port sepmon does not recognise: pyserial never sets DTR, and the close does not drop the
    lines (HUPCL cleared). Oracle: pyserial's own DTR call and the tty's termios flags."""
    import termios

    a = PtyBoard("pico")
    boards.append(a)
    attrs = termios.tcgetattr(a.slave)
    attrs[2] |= termios.HUPCL  # as a USB serial tty comes up (drop DTR/RTS on last close)
    termios.tcsetattr(a.slave, termios.TCSANOW, attrs)
    calls: list[str] = []
    monkeypatch.setattr(serial.Serial, "_update_dtr_state", lambda self: calls.append("dtr"))
    probe_port(a.port, "", 0.3)
    assert calls == ["dtr"]  # a known board's port: pyserial's defaults
    assert termios.tcgetattr(a.slave)[2] & termios.HUPCL
    calls.clear()
    probe_port(a.port, "", 0.3, careful=True)
    assert calls == []
    assert not termios.tcgetattr(a.slave)[2] & termios.HUPCL
