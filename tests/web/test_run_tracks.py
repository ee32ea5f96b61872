"""``sepmon run --tracks FILE``: the live daemon writes every fix it accepted as the tracks CSV.

Oracle: pynmea2 (a parser we did not write) reading the GGA sentences the virtual
receivers sent; each row's position is one of them, in order, for every source.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pynmea2
import pytest

from sepmon.apps.daemonchild import DaemonChild
from sepmon.apps.replay import Replayer, load_recording
from sepmon.sim import simulate, write_recording

pytestmark = pytest.mark.timeout(200)


def _rows(path: Path) -> int:
    return max(0, len(path.read_bytes().splitlines()) - 1) if path.exists() else 0


def test_live_daemon_writes_the_tracks_file(tmp_path: Path) -> None:
    sim = simulate("head-on", seed=3, rate=2, bystander=True, cpa_time=8.0, duration=15.0)
    rec_path = tmp_path / "enc.nmea"
    write_recording(sim, rec_path)
    rec = load_recording([rec_path])
    replayer = Replayer(dict(rec.lines), tmp_path / "ports", speed=2.0, boards=False, hold=True)
    ports = replayer.open()
    tracks = tmp_path / "tracks.csv"
    expected = sum(1 for _, _, data in sim.lines if b"GGA" in data)
    daemon = DaemonChild(ports, tmp_path / "events.jsonl", extra_args=["--tracks", str(tracks)])
    try:
        daemon.wait_raw_events(lambda ev: sum(e["type"] == "port_up" for e in ev) == len(ports), timeout=30)
        replayer.start()
        assert replayer.wait_played(timeout=60)
        # All but each source's last epoch are written (flushed once a second); that one closes at stop.
        end = time.monotonic() + 30
        while (
            time.monotonic() < end
            and _rows(tracks) < len(sim.records)
            and _rows(tracks) < expected - len(ports)
        ):
            time.sleep(0.1)
        status, _, err = daemon.terminate()
    finally:
        replayer.close()
    assert status == 0, err
    truth: dict[str, list[tuple[float, float]]] = {}
    for _, source, data in sim.lines:
        text = data.decode().strip()
        if "GGA" in text:
            msg = pynmea2.parse(text[text.index("$") :])
            truth.setdefault(source, []).append((round(msg.latitude, 7), round(msg.longitude, 7)))
    with tracks.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == [
        "t",
        "source",
        "lat",
        "lon",
        "alt_m",
        "sog_mps",
        "cog_deg",
        "quality",
        "hdop",
    ]
    got: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        got.setdefault(r["source"], []).append((float(r["lat"]), float(r["lon"])))
    assert set(got) == set(truth)
    for source, positions in got.items():
        assert len(positions) == len(truth[source]), (source, len(positions), len(truth[source]), err[-2000:])
        for (la, lo), (tla, tlo) in zip(positions, truth[source], strict=True):
            assert abs(la - tla) < 2e-7 and abs(lo - tlo) < 2e-7
