"""sepmon replay: loading recordings, ptys with the recorded timing, boards, unplug/replug, the CLI."""

from __future__ import annotations

import os
import select
import signal
import statistics
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sepmon.apps.replay import DEFAULT_LINE_INTERVAL_S, STALE_S, Replayer, load_recording
from sepmon.apps.virtualboard import BoardView
from sepmon.boardlink.protocol import AlertCommand, encode
from sepmon.core.checksum import nmea_checksum
from sepmon.core.errors import SepmonError
from sepmon.sim import simulate, write_recording

pytestmark = pytest.mark.timeout(30)


def _nmea(body: str) -> bytes:
    return f"${body}*{nmea_checksum(body):02X}\r\n".encode()


def _open_port(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    return fd


def _read_lines(
    fds: dict[str, int], until: Callable[[], bool], timeout: float = 10.0
) -> dict[str, list[tuple[float, bytes]]]:
    """Lines (with monotonic arrival time) from each fd until ``until()`` and nothing more is waiting."""
    got: dict[str, list[tuple[float, bytes]]] = {k: [] for k in fds}
    bufs = dict.fromkeys(fds, b"")
    by_fd = {fd: k for k, fd in fds.items()}
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select(list(by_fd), [], [], 0.05)
        now = time.monotonic()
        if not ready and until():
            break
        for fd in ready:
            key = by_fd[fd]
            try:
                data = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                continue
            bufs[key] += data
            while b"\n" in bufs[key]:
                line, bufs[key] = bufs[key].split(b"\n", 1)
                got[key].append((now, line + b"\n"))
    return got


# ---- loading ------------------------------------------------------------------------------


def test_tag_recording_loads_per_source_without_tag_blocks(tmp_path: Path) -> None:
    sim = simulate("crossing", rate=5, duration=4, bystander=True)
    path = tmp_path / "rec.nmea"
    write_recording(sim, path)
    rec = load_recording([path])
    assert set(rec.lines) == set(sim.sources)
    assert rec.bad_lines == 0
    assert rec.start == pytest.approx(sim.records[0].rx_t, abs=1e-3)
    for src in sim.sources:
        want = [r for r in sim.records if r.source == src]
        got = rec.lines[src]
        assert [ln.data for ln in got] == [r.data for r in want]
        for ln, r in zip(got, want, strict=True):
            assert ln.t == pytest.approx(r.rx_t - sim.records[0].rx_t, abs=1.5e-3)
    assert rec.line_count == len(sim.records)


def test_plain_files_use_fix_times_on_a_shared_axis(tmp_path: Path) -> None:
    sim = simulate("head-on", rates=(1, 5), duration=3)
    files = write_recording(sim, tmp_path / "per", per_source=True)
    rec = load_recording(files)
    assert set(rec.lines) == {"alpha", "bravo"}
    assert rec.start == pytest.approx(sim.start)
    # RMC, VTG, GGA, GSA of one epoch go out together, epochs 1/rate apart.
    alpha = [round(ln.t, 3) for ln in rec.lines["alpha"]]
    bravo = [round(ln.t, 3) for ln in rec.lines["bravo"]]
    assert alpha[:8] == [0.0] * 4 + [1.0] * 4
    assert bravo[:8] == [0.0] * 4 + [0.2] * 4
    assert [ln.data for ln in rec.lines["bravo"]] == [r.data for r in sim.records if r.source == "bravo"]


def test_plain_file_without_date_wraps_midnight_and_starts_with_the_replay(tmp_path: Path) -> None:
    gga = "GPGGA,{},4715.000,N,01121.000,E,1,08,1.0,500.0,M,47.0,M,,"
    lines = [
        _nmea("GPTXT,01,01,02,before any time"),
        _nmea(gga.format("235959.00")),
        _nmea("GPGSA,A,3,01,02,03,,,,,,,,,,1.5,1.0,1.2"),
        _nmea(gga.format("000000.00")),
        _nmea(gga.format("000001.50")),
    ]
    p = tmp_path / "nodate.nmea"
    p.write_bytes(b"".join(lines)[:-2])  # no terminator on the last line
    rec = load_recording([p])
    assert rec.start is None  # relative: no date anywhere
    assert [ln.t for ln in rec.lines["nodate"]] == pytest.approx([0, 0, 0, 1, 2.5])
    assert rec.lines["nodate"][-1].data.endswith(b"*" + lines[-1][-4:-2] + b"\r\n")


def test_fixed_interval_without_times_and_bad_tag_blocks_are_counted(tmp_path: Path) -> None:
    p = tmp_path / "misc.nmea"
    good_tag = "s:zulu"
    p.write_bytes(
        b"$PUBX,00*33\r\n"
        + b"\r\n"  # blank: skipped
        + f"\\{good_tag}*{nmea_checksum(good_tag):02X}\\".encode()
        + b"$GPTXT,x*00\r\n"
        + b"\\s:zulu*00\\$GPTXT,bad tag checksum*00\r\n"
        + b"$GPGSV,1,1,00*79\n"
    )
    rec = load_recording([p])
    assert rec.bad_lines == 1
    assert [ln.t for ln in rec.lines["misc"]] == pytest.approx([0, DEFAULT_LINE_INTERVAL_S])
    assert [ln.data for ln in rec.lines["misc"]] == [b"$PUBX,00*33\r\n", b"$GPGSV,1,1,00*79\n"]
    assert [ln.data for ln in rec.lines["zulu"]] == [b"$GPTXT,x*00\r\n"]


def test_loading_errors_are_one_liners(tmp_path: Path) -> None:
    a = tmp_path / "a" / "alpha.nmea"
    b = tmp_path / "b" / "alpha.nmea"
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes(_nmea("GPTXT,1"))
    with pytest.raises(SepmonError, match="is in both"):
        load_recording([a, b])
    with pytest.raises(SepmonError, match="cannot read"):
        load_recording([tmp_path / "missing.nmea"])
    with pytest.raises(SepmonError, match="is a directory"):
        load_recording([tmp_path / "a"])
    (tmp_path / "empty.nmea").write_bytes(b"\r\n")
    with pytest.raises(SepmonError, match="no lines"):
        load_recording([tmp_path / "empty.nmea"])
    with pytest.raises(SepmonError, match="cannot be a port name"):
        Replayer({"../x": [(0.0, b"$A*00\r\n")]}, tmp_path)
    with pytest.raises(SepmonError, match="speed"):
        Replayer({"x": [(0.0, b"$A*00\r\n")]}, tmp_path, speed=-1)
    with pytest.raises(SepmonError, match="real time"):
        Replayer({"x": [(0.0, b"$A*00\r\n")]}, tmp_path, speed=0, boards=True)


# ---- playing ------------------------------------------------------------------------------


def test_ports_carry_the_lines_with_the_recorded_timing(tmp_path: Path) -> None:
    sim = simulate("head-on", rate=5, duration=4)
    path = tmp_path / "rec.nmea"
    write_recording(sim, path)
    rec = load_recording([path])
    speed = 4.0
    with Replayer(rec.lines, tmp_path / "ports", speed) as r:
        assert r.ports == {s: str(tmp_path / "ports" / s) for s in ("alpha", "bravo")}
        fds = {s: _open_port(p) for s, p in r.ports.items()}
        t0 = time.monotonic()
        r.start()
        got = _read_lines(fds, lambda: r.done)
        assert r.error is None
        for fd in fds.values():
            os.close(fd)
    for src in ("alpha", "bravo"):
        want = rec.lines[src]
        assert [d for _, d in got[src]] == [ln.data for ln in want]  # no TAG blocks, nothing lost
        late = [(arrived - t0) - ln.t / speed for (arrived, _), ln in zip(got[src], want, strict=True)]
        typical = statistics.median(late)
        assert 0 <= typical < 0.25  # includes starting the thread
        # End to end (the reader's wakeups included), loose enough for a busy CI machine.
        assert max(abs(x - typical) for x in late) < 0.05, late
    # The writer itself: lines go out within milliseconds of their due time (bounds allow a busy machine).
    p50, p95, worst = r.lateness()
    assert 0 <= p50 < 0.005 and p95 < 0.02, (p50, p95, worst)  # quiet machine: ~0.3 ms / ~1.3 ms
    assert not (tmp_path / "ports" / "alpha").exists()  # links removed on close


def test_port_is_raw_and_the_other_side_is_drained(tmp_path: Path) -> None:
    lines = [(i * 0.05, _nmea(f"GPTXT,{i}")) for i in range(20)]
    with Replayer({"alpha": lines}, tmp_path, speed=1) as r:
        fd = _open_port(r.ports["alpha"])
        attrs = termios.tcgetattr(fd)
        assert not attrs[3] & (termios.ECHO | termios.ICANON)
        r.start()
        # The daemon writes heartbeats; they must not come back (echo) nor block it.
        for seq in range(200):
            os.write(fd, encode(AlertCommand(seq, 0, None, None, 3000)))
        got = _read_lines({"a": fd}, lambda: r.done)["a"]
        os.close(fd)
    assert [d for _, d in got] == [d for _, d in lines]


def test_speed_zero_writes_everything_as_fast_as_it_is_read(tmp_path: Path) -> None:
    lines = [(i * 10.0, _nmea(f"GPTXT,{i:05d},{'x' * 60}")) for i in range(2000)]  # 150 kB, 5.5 h
    with Replayer({"fast": lines}, tmp_path, speed=0) as r:
        fd = _open_port(r.ports["fast"])
        t0 = time.monotonic()
        r.start()
        got = _read_lines({"f": fd}, lambda: r.done)["f"]
        os.close(fd)
        assert time.monotonic() - t0 < 5
    assert [d for _, d in got] == [d for _, d in lines]
    assert r.stats()["fast"].dropped == 0


def test_unplug_and_replug_keep_the_link_name(tmp_path: Path) -> None:
    lines = [(i * 0.02, _nmea(f"GPTXT,{i}")) for i in range(200)]  # 4 s
    with Replayer({"alpha": lines}, tmp_path / "p", speed=1) as r:
        link = Path(r.ports["alpha"])
        first = os.readlink(link)
        fd = _open_port(str(link))
        r.start()
        time.sleep(0.3)
        r.unplug("alpha")
        assert not link.exists()
        # The reader's pty is hung up: after what was buffered, reading ends (EOF or EIO).
        ended = False
        for _ in range(100):
            try:
                if not os.read(fd, 1024):
                    ended = True
                    break
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                ended = True
                break
        assert ended
        os.close(fd)
        time.sleep(0.3)
        r.replug("alpha")
        assert link.is_symlink()
        fd = _open_port(str(link))
        got = _read_lines({"a": fd}, lambda: r.done)["a"]
        os.close(fd)
        dropped = r.stats()["alpha"].dropped
    assert 10 <= dropped <= 20  # about 0.3 s of lines at 50 a second
    numbers = [int(d.split(b",")[1].split(b"*")[0]) for _, d in got]
    assert numbers == list(range(numbers[0], 200)) and numbers[0] <= 40
    assert first  # a /dev/pts path


def test_backlog_nobody_reads_is_discarded(tmp_path: Path) -> None:
    lines = [(i * 0.01, _nmea(f"GPTXT,{i:04d}")) for i in range(150)]  # 1.5 s, nobody reading
    with Replayer({"alpha": lines}, tmp_path, speed=1) as r:
        r.start()
        time.sleep(STALE_S + 0.9)
        fd = _open_port(r.ports["alpha"])
        got = _read_lines({"a": fd}, lambda: r.done)["a"]
        os.close(fd)
        assert r.stats()["alpha"].flushed_bytes > 0
    first = int(got[0][1].split(b",")[1].split(b"*")[0])
    assert first >= 50  # nothing older than about STALE_S when the port was opened


def test_backlog_age_counts_from_when_playing_starts(tmp_path: Path) -> None:
    # A reader that opened the port long before playing began (a daemon waiting for the
    # replay) and is busy for a moment must still get the first bytes: they are fresh.
    # A board writes its identity in its first poll, before the backlog is first measured.
    lines = [(0.0, _nmea("GPTXT,1")), (0.3, _nmea("GPTXT,2"))]
    with Replayer({"alpha": lines}, tmp_path, speed=1, boards=True) as r:
        fd = _open_port(r.ports["alpha"])
        time.sleep(STALE_S + 0.2)
        r.start()
        time.sleep(0.2)  # well under STALE_S
        got = _read_lines({"a": fd}, lambda: r.done)["a"]
        os.close(fd)
        assert r.stats()["alpha"].flushed_bytes == 0
    assert got and got[0][1].startswith(b"$PSEPI,"), got[:2]
    assert [d for _, d in got if d.startswith(b"$GPTXT")] == [d for _, d in lines]


def test_loop_starts_over(tmp_path: Path) -> None:
    lines = [(0.0, _nmea("GPTXT,a")), (0.5, _nmea("GPTXT,b"))]
    with Replayer({"alpha": lines}, tmp_path, speed=10, loop=True) as r:
        fd = _open_port(r.ports["alpha"])
        r.start()
        got = _read_lines({"a": fd}, lambda: False, timeout=0.5)["a"]  # a pass: 0.05 s + 0.1 s gap
        assert not r.done
        r.stop()
        assert r.done and r.passes >= 3
        os.close(fd)
    assert [d for _, d in got[:4]] == [d for _, d in lines] * 2


def test_boards_speak_the_protocol_and_report_pattern_changes(tmp_path: Path) -> None:
    sim = simulate("head-on", rate=1, duration=3)
    path = tmp_path / "rec.nmea"
    write_recording(sim, path)
    rec = load_recording([path])
    recorded_board = _nmea("PSEPS,1000,10,0,0,50000")  # from a real board: not fed to the virtual one
    rec.lines["alpha"].insert(1, rec.lines["alpha"][0]._replace(data=recorded_board))
    changes: list[tuple[float, str, BoardView]] = []
    with Replayer(
        rec.lines, tmp_path / "p", speed=1, boards=True, on_board=lambda t, s, v: changes.append((t, s, v))
    ) as r:
        fd = _open_port(r.ports["alpha"])
        r.start()
        time.sleep(0.3)
        os.write(fd, encode(AlertCommand(1, 3, 90.0, 1200.0, 3000)))
        got = [d for _, d in _read_lines({"a": fd}, lambda: r.done)["a"]]
        os.close(fd)
        assert r.board_view("alpha") is not None
        assert r.stats()["alpha"].skipped == 1
    assert any(d.startswith(b"$PSEPI,") for d in got)
    assert any(d.startswith(b"$PSEPS,") for d in got)
    assert any(d.startswith(b"$PSEPK,1*") for d in got)
    assert recorded_board not in got
    gps = [d for d in got if d.startswith(b"$GP")]
    # GPS lines forwarded unchanged, in order.
    assert gps == [ln.data for ln in rec.lines["alpha"] if ln.data != recorded_board]
    alpha = [(v.pattern, v.level) for _, s, v in changes if s == "alpha"]
    assert alpha[0][0] == "offline" and ("warning", 3) in alpha
    assert [v.pattern for _, s, v in changes if s == "bravo"] == ["offline"]


# ---- the command ----------------------------------------------------------------------


def test_cli_ports_file_and_sigterm(tmp_path: Path) -> None:
    sim = simulate("head-on", rate=1, duration=5)
    path = tmp_path / "rec.nmea"
    write_recording(sim, path)
    ports_file = tmp_path / "ports.txt"
    argv = ["replay", str(path), "--loop", "--speed", "2", "--dir", str(tmp_path / "p")]
    argv += ["--ports-file", str(ports_file)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sepmon", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        end = time.monotonic() + 15
        while not ports_file.exists() and time.monotonic() < end:
            time.sleep(0.02)
        ports = dict(line.split(" ", 1) for line in ports_file.read_text().splitlines())
        assert ports == {s: str(tmp_path / "p" / s) for s in ("alpha", "bravo")}
        fd = _open_port(ports["bravo"])
        got = _read_lines({"b": fd}, lambda: False, timeout=0.8)["b"]
        os.close(fd)
        assert got and got[0][1].startswith(b"$GP")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out == b""  # the ports went to the file
    assert err.decode().count("\n") == 1 and "replayed" in err.decode()
    assert not (tmp_path / "p" / "alpha").exists()


def test_cli_prints_ports_and_reports_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sepmon import cli

    p = tmp_path / "one.nmea"
    p.write_bytes(_nmea("GPTXT,only"))
    assert cli.main(["replay", str(p), "--speed", "100", "--dir", str(tmp_path / "d")]) == 0
    assert capsys.readouterr().out == f"one {tmp_path / 'd' / 'one'}\n"
    assert cli.main(["replay", str(p), "--speed", "fast"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--speed" in err
