"""The end of a replay, as the daemon reading its ports sees it: one outage, said once per port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sepmon.sim import simulate
from sepmon.sim.writer import write_recording


def _sepmon(*args: str, **kw: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen(
        [sys.executable, "-m", "sepmon", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.timeout(60)
def test_a_replays_end_is_one_port_down_per_source(tmp_path: Path) -> None:
    # Oracle: the replayer closes each pty once at its end (one outage per port). The daemon
    # used to log two port_down events per source: the failed reopen ("No such file or
    # directory") first, then the reason the port went ("device disconnected").
    sim = simulate("head-on", duration=4)
    [rec] = write_recording(sim, tmp_path / "rec.nmea")
    ports_file, events = tmp_path / "ports.txt", tmp_path / "events.jsonl"
    replay = _sepmon("replay", str(rec), "--dir", str(tmp_path / "ports"), "--ports-file", str(ports_file))
    run: subprocess.Popen[str] | None = None
    err = ""
    try:
        deadline = time.monotonic() + 20
        while not ports_file.exists():
            assert time.monotonic() < deadline and replay.poll() is None, "replay did not open its ports"
            time.sleep(0.05)
        ports = dict(line.split() for line in ports_file.read_text().splitlines())
        assert sorted(ports) == ["alpha", "bravo"]
        run = _sepmon("run", "--quiet", "--events", str(events), *(f"{n}={p}" for n, p in ports.items()))
        replay.wait(timeout=30)
        time.sleep(2.5)  # the daemon notices, retries the vanished ports a few times
    finally:
        if replay.poll() is None:
            replay.kill()
        if run is not None:
            run.send_signal(signal.SIGTERM)
            _out, err = run.communicate(timeout=15)
    assert run is not None and run.returncode == 0, err
    evs = [json.loads(line) for line in events.read_text().splitlines()]
    for name in ("alpha", "bravo"):
        ups = [e for e in evs if e["type"] == "port_up" and e["a"] == name]
        downs = [e for e in evs if e["type"] == "port_down" and e["a"] == name]
        assert len(ups) == 1, ups
        assert len(downs) == 1, downs  # one outage, said once, with the reason it went down
        assert "No such file" not in (downs[0].get("detail") or ""), downs
