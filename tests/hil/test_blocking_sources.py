"""Stuck sources beside a live encounter: none of them may freeze the daemon's event loop.

A named pipe with no writer (``open()`` blocks), a pipe whose writer never writes
(``read()`` blocks), a TCP peer that never sends, a pyserial ``socket://`` port whose
peer neither reads nor sends, and a pty that never sends sit beside a head-on
encounter played through virtual boards into the real ``sepmon run`` (the ``sepmon``
pytest plugin's fixtures ``sepmon_replayer`` and ``sepmon_daemon``).

Oracles: the encounter's analytic ground truth (``sim.truth``: the geometry, not
sepmon's alerting) says when the 3 km / 300 m minima are first violated; both boards
must show WARNING before that. The 2 s for SIGTERM is the issue's requirement, measured
on the real child process with the wall clock.
"""

from __future__ import annotations

import contextlib
import os
import pty
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sepmon.apps.daemonchild import DaemonChild
from sepmon.apps.replay import Replayer, load_recording
from sepmon.apps.virtualboard import BoardView
from sepmon.sim import simulate, write_recording

SPEED = 2.0


class _SilentServer:
    """A TCP server that accepts and then neither reads nor sends (a peer that never answers)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills early if written
                self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def stuck(tmp_path: Path) -> Iterator[dict[str, str]]:
    """One source of every kind that blocks, as ``name -> url``."""
    no_writer = tmp_path / "no-writer.fifo"
    os.mkfifo(no_writer)
    silent_writer = tmp_path / "silent-writer.fifo"
    os.mkfifo(silent_writer)
    # Opened read-write so this open does not block; the daemon's reader then blocks in read().
    held = os.open(silent_writer, os.O_RDWR | os.O_NONBLOCK)
    master, slave = pty.openpty()
    tcp, sock = _SilentServer(), _SilentServer()
    yield {
        "fifo": f"file://{no_writer}",
        "quiet": f"file://{silent_writer}",
        "tower": f"tcp://127.0.0.1:{tcp.port}",
        "sock": f"socket://127.0.0.1:{sock.port}",
        "mute": os.ttyname(slave),
    }
    for fd in (held, master, slave):
        os.close(fd)
    tcp.close()
    sock.close()


def test_stuck_sources_of_every_kind_neither_delay_the_warning_nor_block_sigterm(
    tmp_path: Path,
    stuck: dict[str, str],
    sepmon_replayer: Callable[..., Replayer],
    sepmon_daemon: Callable[..., DaemonChild],
) -> None:
    sim = simulate("head-on", seed=7, rate=1, cpa_time=30.0, duration=45.0)
    rec_path = tmp_path / "encounter.nmea"
    write_recording(sim, rec_path)
    rec = load_recording([rec_path])
    board_log: list[tuple[float, str, BoardView]] = []
    replayer = sepmon_replayer(
        rec_path, speed=SPEED, boards=True, hold=True, on_board=lambda t, s, v: board_log.append((t, s, v))
    )
    ports = replayer.ports
    config = {"separation": {"hold_s": 4 / SPEED, "stale_s": 4 / SPEED}}
    daemon = sepmon_daemon(ports | stuck, config=config)
    try:
        # The boards' ports open although the stuck sources never deliver a byte.
        daemon.wait_events(lambda ev: {"alpha", "bravo"} <= {e.a for e in ev if e.type == "port_up"}, 20)
        replayer.start()
        assert replayer.wait_played(timeout=rec.duration / SPEED + 30)
        t0 = time.monotonic()
        code, _, err = daemon.terminate(timeout=10)
        took = time.monotonic() - t0
    finally:
        replayer.stop()  # the fixtures close it and kill the daemon at teardown
    assert took <= 2.0, f"SIGTERM took {took:.1f} s"
    assert code == 0, err
    assert "Traceback" not in err and "Exception" not in err, err
    violation = sim.truth.first_violation("alpha", "bravo", 3000.0, 300.0)
    assert violation is not None and rec.start is not None
    violation_play_s = (violation - rec.start) / SPEED
    for board in ("alpha", "bravo"):
        warned = [t for t, s, v in board_log if s == board and v.pattern == "warning"]
        assert warned, f"{board} never showed WARNING"
        assert warned[0] < violation_play_s, (board, warned[0], violation_play_s)


def test_record_with_a_pipe_that_never_gets_a_writer_records_the_rest_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    import signal
    import subprocess
    import sys

    fifo = tmp_path / "no-writer.fifo"
    os.mkfifo(fifo)
    master, slave = pty.openpty()
    out = tmp_path / "rec.nmea"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sepmon",
            "record",
            f"fifo=file://{fifo}",
            f"gps={os.ttyname(slave)}",
            "-o",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # u-blox's own GGA example (u-blox 8 receiver description, NMEA GGA), through the pty.
        line = b"$GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,*5B\r\n"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (not out.exists() or b"GPGGA" not in out.read_bytes()):
            os.write(master, line)
            time.sleep(0.2)
        assert out.exists() and b"GPGGA" in out.read_bytes(), "the pty's lines were never recorded"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        assert time.monotonic() - t0 <= 2.0
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        os.close(master)
        os.close(slave)
