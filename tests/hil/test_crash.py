"""Nothing lost: ``kill -9`` of ``sepmon run`` and ``sepmon record`` at random moments under load.

Ten sources at 5-10 Hz (an encounter of many vehicles, so level events flow) are
replayed twice: once into the daemon's ports, once into the recorder's (a serial
port has one reader). Both processes are killed with SIGKILL at random moments
and restarted on the same files. After every kill, every complete line of both
files must parse (JSON; TAG block + NMEA with valid checksums) and only the last
line may be cut; after every restart the file must go on at a line boundary (a
cut line is removed, never glued to the next one), and it must keep growing.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import faultgen as fg
import pytest

from sepmon.apps.replay import Replayer
from sepmon.core.checksum import checksum_ok
from sepmon.core.tagblock import parse_tag_block
from sepmon.sim import simulate

RUN_S = 14.0  # seconds of killing and restarting


def _check_events(data: bytes) -> tuple[int, bytes]:
    """(complete lines, cut tail): every complete line is one JSON event."""
    *lines, tail = data.split(b"\n")
    for ln in lines:
        ev = json.loads(ln)  # a glued or cut line fails here
        assert isinstance(ev, dict) and "type" in ev and "t" in ev, ln
    return len(lines), tail


def _check_recording(data: bytes) -> tuple[int, bytes]:
    """(complete lines, cut tail): every complete line is TAG block + sentence, both checksums valid."""
    *lines, tail = data.split(b"\n")
    for ln in lines:
        assert ln.endswith(b"\r"), ln
        parsed = parse_tag_block(ln[:-1], require_checksum=True)
        assert isinstance(parsed, tuple), ln
        tags, sentence = parsed
        assert tags.source is not None and tags.rx_t is not None, ln
        assert checksum_ok(sentence.decode("ascii")), ln
    return len(lines), tail


class Proc:
    """One of the two programs, restarted on the same file after each kill."""

    def __init__(self, name: str, args: list[str], path: Path, check: object) -> None:
        self.name, self.args, self.path, self.check = name, args, path, check
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.starts = 0
        self.cut_seen = 0
        self.sizes: list[int] = []
        self.started_at = 0

    def start(self) -> None:
        data = self.path.read_bytes() if self.path.exists() else b""
        self.started_at = data.rfind(b"\n") + 1  # where this run's lines begin (a cut tail goes)
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.starts += 1

    def running(self, marker: bytes) -> bool:
        """This start has written ``marker``: it is past start-up (signal handlers in place)."""
        if not self.path.exists():
            return False
        with self.path.open("rb") as fh:
            fh.seek(self.started_at)
            return marker in fh.read()

    def wait_running(self, marker: bytes, timeout: float = 15.0) -> None:
        end = time.monotonic() + timeout
        while not self.running(marker):
            if time.monotonic() > end:
                pytest.fail(f"{self.name} wrote nothing after its last start")
            time.sleep(0.05)

    def kill_and_check(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            _, err = self.proc.communicate()
            pytest.fail(f"{self.name} exited {self.proc.returncode} by itself: {err.decode()[-2000:]}")
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=10)
        self.kills += 1
        data = self.path.read_bytes() if self.path.exists() else b""
        _, tail = self.check(data)  # type: ignore[operator]
        self.cut_seen += bool(tail)
        self.sizes.append(len(data))

    def stop(self) -> tuple[int, str]:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=15)
        return self.proc.returncode, err.decode()


def test_kill_9_at_random_moments_loses_and_glues_nothing(tmp_path: Path) -> None:
    sim = simulate("many", seed=11, vehicles=10, rates=(5, 10, 5, 10, 5, 10, 5, 10, 5, 10), duration=30.0)
    lines = {s: fg.to_replay(ls) for s, ls in fg.sim_sources(sim).items()}
    to_daemon = Replayer(lines, tmp_path / "run", speed=1.0, loop=True)
    to_recorder = Replayer(lines, tmp_path / "rec", speed=1.0, loop=True)
    run_ports = to_daemon.open()
    rec_ports = to_recorder.open()
    config = tmp_path / "c.toml"
    config.write_text("[separation]\nhold_s = 0.5\nstale_s = 1.0\nhorizontal_m = 5000\n")
    events, recording = tmp_path / "events.jsonl", tmp_path / "session.nmea"
    py = [sys.executable, "-m", "sepmon"]
    daemon = Proc(
        "sepmon run",
        [*py, "run", "--quiet", "--config", str(config), "--events", str(events)]
        + [f"{s}={p}" for s, p in run_ports.items()],
        events,
        _check_events,
    )
    recorder = Proc(
        "sepmon record",
        [*py, "record", "-o", str(recording)] + [f"{s}={p}" for s, p in rec_ports.items()],
        recording,
        _check_recording,
    )
    rnd = random.Random(8)
    try:
        to_daemon.start()
        to_recorder.start()
        daemon.start()
        recorder.start()
        end = time.monotonic() + RUN_S
        # A loaded machine starts the programs slowly: past RUN_S, go on (the one killed less
        # often) until each was killed three times, up to a hard limit.
        hard_end = end + 3 * RUN_S
        markers = {daemon.name: b'"type":"port_up"', recorder.name: b"$G"}
        while (now := time.monotonic()) < end or (min(daemon.kills, recorder.kills) < 3 and now < hard_end):
            if now < end:
                victim = rnd.choice([daemon, recorder])
            else:
                victim = min((daemon, recorder), key=lambda p: p.kills)
            if rnd.random() < 0.75:  # mostly under load, sometimes while it is still starting
                victim.wait_running(markers[victim.name])
            time.sleep(rnd.uniform(0.05, 1.0))
            victim.kill_and_check()
            victim.start()
        # The last starts get going (signal handlers in place) before the clean stop.
        daemon.wait_running(b'"type":"acquired"')
        recorder.wait_running(markers[recorder.name])
        results = {p.name: p.stop() for p in (daemon, recorder)}
    finally:
        for p in (daemon, recorder):
            if p.proc is not None and p.proc.poll() is None:
                p.proc.kill()
                p.proc.communicate(timeout=10)
        for r in (to_daemon, to_recorder):
            r.close()
    for name, (status, err) in results.items():
        assert status == 0, (name, err[-2000:])
    assert daemon.kills >= 3 and recorder.kills >= 3, (daemon.kills, recorder.kills)

    # After the clean stop: every line complete and valid, none glued to a half line.
    n_events, tail = _check_events(events.read_bytes())
    assert tail == b""
    n_rec, tail = _check_recording(recording.read_bytes())
    assert tail == b""
    # The files kept growing across restarts (each run appended; a cut line costs at most one line).
    for p in (daemon, recorder):
        assert all(b >= a - 600 for a, b in zip(p.sizes, p.sizes[1:], strict=False)), (p.name, p.sizes)
    evs = [json.loads(ln) for ln in events.read_text().splitlines()]
    # Every daemon start that got its ports open logged them: restarts continued the same file.
    assert sum(e["type"] == "port_up" for e in evs) >= 10 * 2
    assert [e for e in evs if e["type"] == "level"], "no level events flowed: not a test under load"
    assert sum(e["type"] == "source_stats" for e in evs) >= 10  # the clean stop's summary
    assert n_rec > 1000 and n_events > 50
