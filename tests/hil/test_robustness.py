"""The real ``sepmon run`` against what the second robustness review found (issue 13).

Each test runs the daemon as a child process, so the event loop, the threads, the signal
handling and the exit are the real ones. Oracles: the kernel (EADDRINUSE until a port is
closed; a pipe of F_SETPIPE_SZ bytes blocks its writer; RLIMIT_FSIZE fails writes past
it with EFBIG, and lifting it lets them through; SIGSTOP stops every thread), the
simulator's analytic encounter (when the minima are first violated), the 2 s the issue
allows for SIGTERM, measured with the wall clock, and the event order itself (a track
cannot be regained before it was lost).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sepmon.apps.daemonchild import DaemonChild
from sepmon.apps.replay import Replayer, load_recording
from sepmon.apps.virtualboard import BoardView
from sepmon.core.model import Event, event_from_json
from sepmon.sim import simulate, write_recording

F_SETPIPE_SZ = 1031  # linux/fcntl.h


def _config(path: Path, extra: str = "") -> Path:
    path.write_text(f"[separation]\nhold_s = 2\nstale_s = 1.5\n{extra}")
    return path


def _alpha_lines() -> list[list[bytes]]:
    """The simulator's alpha, one list of sentences per 1 s epoch (RMC, VTG, GGA, GSA)."""
    sim = simulate("head-on", seed=4, rate=1, duration=60.0)
    epochs: list[list[bytes]] = []
    last_t = None
    for r in sim.records:
        if r.source != "alpha":
            continue
        if r.fix_t != last_t:
            epochs.append([])
            last_t = r.fix_t
        epochs[-1].append(r.data)
    return epochs


class Feeder:
    """A pty whose master side plays alpha's epochs once a second until told to stop."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.port = os.ttyname(self.slave)
        self.epochs = _alpha_lines()
        self.running = threading.Event()
        self.running.set()
        self._stop = threading.Event()
        self.sent = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for epoch in self.epochs:
            if self._stop.is_set():
                return
            self.running.wait()
            if self._stop.is_set():
                return
            with contextlib.suppress(OSError):
                os.write(self.master, b"".join(epoch))
            self.sent += 1
            self._stop.wait(1.0)

    def pause(self) -> None:
        self.running.clear()

    def close(self) -> None:
        self._stop.set()
        self.running.set()
        self._thread.join(5)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


@pytest.fixture
def feeder() -> Iterator[Feeder]:
    f = Feeder()
    yield f
    f.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _of(events: list[Event], type_: str, source: str | None = None) -> list[Event]:
    return [e for e in events if e.type == type_ and (source is None or e.a == source)]


def _stats(events: list[Event], source: str) -> dict[str, int]:
    found = _of(events, "source_stats", source)
    assert found, f"no source_stats for {source}"
    return dict(json.loads(found[-1].detail or ""))


# ---- item 4: a listen port busy at start ------------------------------------------------------


def test_a_listen_port_busy_at_start_is_retried_until_it_is_free(
    tmp_path: Path, sepmon_daemon: Callable[..., DaemonChild]
) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    d = sepmon_daemon({"net": f"tcp-listen://127.0.0.1:{port}"})
    try:
        d.wait_events(lambda ev: bool(_of(ev, "port_down", "net")), 20)
    finally:
        blocker.close()
    d.wait_events(lambda ev: bool(_of(ev, "port_up", "net")), 10)  # retried within the 1 s backoff
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"$GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,*5B\r\n")
        time.sleep(0.5)
    code, _, err = d.terminate()
    assert code == 0, err
    assert _stats(d.events(), "net")["lines"] == 1


# ---- item 6: overlong TCP input is visible ----------------------------------------------------


def test_an_overlong_tcp_line_is_a_dropped_event_and_in_the_exit_statistics(
    tmp_path: Path, sepmon_daemon: Callable[..., DaemonChild]
) -> None:
    port = _free_port()
    d = sepmon_daemon({"net": f"tcp-listen://127.0.0.1:{port}"})
    d.wait_events(lambda ev: bool(_of(ev, "port_up", "net")), 20)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        # 5000 bytes and no terminator yet: past the 4096-byte line bound of docs/security.md.
        c.sendall(b"$GPGGA," + b"9" * 5000)
        time.sleep(0.3)
        c.sendall(b"\r\n")
        c.sendall(b"$GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,*5B\r\n")
        # A second epoch closes the first: its fix (an acquired track) shows the lines after
        # the dropped one were read, however busy the machine (a fixed sleep was not enough).
        c.sendall(b"$GPGGA,092726.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,*58\r\n")
        ev = d.wait_events(lambda ev: bool(_of(ev, "dropped", "net") and _of(ev, "acquired", "net")), 20)
    assert "overlong" in (_of(ev, "dropped", "net")[0].detail or "")
    code, _, err = d.terminate()
    assert code == 0, err
    stats = _stats(d.events(), "net")
    assert stats["dropped_overlong"] == 1 and stats["lines"] == 2


# ---- item 7: silent mid-epoch -----------------------------------------------------------------


def test_a_source_silent_mid_epoch_is_not_regained_at_shutdown(
    tmp_path: Path, feeder: Feeder, sepmon_daemon: Callable[..., DaemonChild]
) -> None:
    d = sepmon_daemon({"alpha": feeder.port}, config=_config(tmp_path / "c.toml"))
    d.wait_events(lambda ev: bool(_of(ev, "acquired", "alpha")), 20)
    time.sleep(2.0)  # a few whole epochs: the assembler learns alpha's sentence set
    feeder.pause()
    time.sleep(0.5)
    os.write(feeder.master, feeder.epochs[feeder.sent][0])  # the next epoch's first sentence only
    d.wait_events(lambda ev: bool(_of(ev, "lost", "alpha")), 10)
    code, _, err = d.terminate()
    assert code == 0, err
    ev = d.events()
    track = [e for e in ev if e.a == "alpha" and e.type in ("acquired", "lost", "regained")]
    assert [e.type for e in track] == ["acquired", "lost"], track


# ---- item 12: the monitor says when it falls behind --------------------------------------------


def test_a_stopped_daemon_says_it_fell_behind_and_caught_up(
    tmp_path: Path, feeder: Feeder, sepmon_daemon: Callable[..., DaemonChild]
) -> None:
    d = sepmon_daemon({"alpha": feeder.port}, config=_config(tmp_path / "c.toml"))
    d.wait_events(lambda ev: bool(_of(ev, "acquired", "alpha")), 20)
    os.kill(d.proc.pid, signal.SIGSTOP)  # every thread stops, as on a host starved of CPU
    time.sleep(4.0)
    os.kill(d.proc.pid, signal.SIGCONT)
    ev = d.wait_events(lambda ev: bool(_of(ev, "caught_up", "daemon")), 15)
    behind = _of(ev, "behind", "daemon")
    assert len(behind) == 1 and "behind real time" in (behind[0].detail or "")
    lag = float((behind[0].detail or "").split(" s behind")[0].rsplit(" ", 1)[1])
    assert 3.0 <= lag <= 6.0, behind  # the 4 s stop, give or take a tick and the scheduler
    code, _, err = d.terminate()
    assert code == 0, err


# ---- item 16: events while the disk is full ---------------------------------------------------


def test_events_written_while_the_disk_refuses_are_written_when_it_takes_them_again(
    tmp_path: Path, feeder: Feeder, sepmon_daemon: Callable[..., DaemonChild]
) -> None:
    events = tmp_path / "e.jsonl"
    d = sepmon_daemon({"alpha": feeder.port}, config=_config(tmp_path / "c.toml"), events=events)
    d.wait_events(lambda ev: bool(_of(ev, "acquired", "alpha")), 20)
    time.sleep(0.5)
    size = events.stat().st_size
    hard = resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE)[1]
    resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (size, hard))  # the file may not grow
    feeder.pause()  # alpha goes silent: `lost` happens while the log cannot be written
    d.wait_output(lambda out: "lost" in out and "log error" in out, 15)
    assert not _of(d.events(), "lost", "alpha")
    resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))  # room again
    ev = d.wait_events(lambda ev: bool(_of(ev, "log_recovered", "daemon")), 10)
    code, _, err = d.terminate()
    assert code == 0, err
    lines = events.read_text().splitlines()
    parsed = [event_from_json(x) for x in lines]  # every line whole, and an event
    assert len(_of(parsed, "lost", "alpha")) == 1  # written once, late, not lost
    types = [e.type for e in parsed]
    assert types.index("lost") < types.index("log_recovered")
    assert len(set(lines)) == len(lines)  # nothing written twice
    assert ev


# ---- item 1: nothing on the loop may block ----------------------------------------------------


def _head_on(tmp_path: Path) -> tuple[Any, Any, Replayer, dict[str, str], list[tuple[float, str, BoardView]]]:
    sim = simulate("head-on", seed=7, rate=1, cpa_time=30.0, duration=45.0)
    rec_path = tmp_path / "encounter.nmea"
    write_recording(sim, rec_path)
    rec = load_recording([rec_path])
    log: list[tuple[float, str, BoardView]] = []
    replayer = Replayer(
        dict(rec.lines), tmp_path / "ports", speed=2.0, boards=True, hold=True,
        on_board=lambda t, s, v: log.append((t, s, v)),
    )  # fmt: skip
    return sim, rec, replayer, replayer.open(), log


def _sepmon_run(
    args: list[str], *, prelude: str = "", stdout: Any = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    code = (
        f"{prelude}\nimport sys\nfrom sepmon.cli import main\nsys.exit(main({['run', '--quiet', *args]!r}))"
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=stdout, stderr=subprocess.PIPE)


def _terminate_within(proc: subprocess.Popen[bytes], limit: float) -> float:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    took = time.monotonic() - t0
    assert took <= limit, f"SIGTERM took {took:.1f} s"
    return took


def _wait_file(path: Path, pred: Callable[[list[Event]], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists():
            ev = []
            for line in path.read_text().splitlines():
                with contextlib.suppress(ValueError):  # the line being written
                    ev.append(event_from_json(line))
            if pred(ev):
                return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting on {path}")


def test_a_console_nobody_reads_neither_delays_the_warning_nor_blocks_sigterm(tmp_path: Path) -> None:
    sim, rec, replayer, ports, board_log = _head_on(tmp_path)
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, 4096)  # a stalled journal: one page, full, never read
    os.set_blocking(w, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(w, b"." * 512)
    os.set_blocking(w, True)  # the daemon's writes block, as on a real stalled pipe
    events = tmp_path / "e.jsonl"
    config = _config(tmp_path / "c.toml")
    proc = _sepmon_run(
        ["--events", str(events), "-c", str(config), *(f"{n}={p}" for n, p in ports.items())], stdout=w
    )
    os.close(w)
    try:
        _wait_file(events, lambda ev: {"alpha", "bravo"} <= {e.a for e in ev if e.type == "port_up"}, 20)
        replayer.start()
        assert replayer.wait_played(timeout=rec.duration / 2.0 + 30)
        _terminate_within(proc, 2.0)
    finally:
        replayer.stop()
        replayer.close()
        if proc.poll() is None:
            proc.kill()
        os.close(r)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    violation = sim.truth.first_violation("alpha", "bravo", 3000.0, 300.0)
    assert violation is not None and rec.start is not None
    for board in ("alpha", "bravo"):
        warned = [t for t, s, v in board_log if s == board and v.pattern == "warning"]
        assert warned and warned[0] < (violation - rec.start) / 2.0, board


def test_a_dns_lookup_that_never_returns_does_not_hold_sigterm(tmp_path: Path, feeder: Feeder) -> None:
    # A resolver that hangs (a dead DNS server): getaddrinfo for *.slow.test sleeps a minute.
    prelude = (
        "import socket, time\n"
        "_real = socket.getaddrinfo\n"
        "def _slow(host, *a, **k):\n"
        "    if str(host).endswith('.slow.test'):\n"
        "        time.sleep(60)\n"
        "    return _real(host, *a, **k)\n"
        "socket.getaddrinfo = _slow\n"
    )
    events = tmp_path / "e.jsonl"
    proc = _sepmon_run(
        ["--events", str(events), f"alpha={feeder.port}", "tower=tcp://gps.slow.test:5000"], prelude=prelude
    )
    try:
        _wait_file(events, lambda ev: any(e.type == "acquired" for e in ev), 20)
        _terminate_within(proc, 2.0)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0


class _FloodingGpsd:
    """A gpsd (its JSON watch protocol, gpsd's ``gpsd_json(5)``) with 1,000 receivers reporting
    as fast as the socket takes it: more than a monitor can evaluate, so a backlog grows."""

    def __init__(self, receivers: int = 1000) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.receivers = receivers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.sock.accept()
            with conn:
                conn.sendall(
                    b'{"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}\n'
                )
                conn.recv(4096)  # ?WATCH
                k = 0
                while not self._stop.is_set():
                    now = time.time()
                    stamp = (
                        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
                    )
                    batch = []
                    for i in range(self.receivers):
                        lat = 47.0 + (i % 40) * 0.01 + k * 1e-6
                        lon = 11.0 + (i // 40) * 0.01
                        batch.append(
                            f'{{"class":"TPV","device":"/dev/gps{i}","mode":3,"status":1,"time":"{stamp}",'
                            f'"lat":{lat:.7f},"lon":{lon:.7f},"altHAE":500.0,"speed":5.0,"track":0.0}}\n'
                        )
                    conn.sendall("".join(batch).encode())
                    k += 1

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def test_a_flood_of_fixes_is_said_to_put_the_monitor_behind_and_sigterm_still_ends_it_within_2_s(
    tmp_path: Path,
) -> None:
    gpsd = _FloodingGpsd()
    events = tmp_path / "e.jsonl"
    config = tmp_path / "c.toml"
    config.write_text("[daemon]\nbehind_s = 1\n")
    proc = _sepmon_run(["--events", str(events), "-c", str(config), f"gps=gpsd://127.0.0.1:{gpsd.port}"])
    try:
        _wait_file(events, lambda ev: any(e.type == "behind" for e in ev), 60)
        _terminate_within(proc, 2.0)
    finally:
        gpsd.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
