"""The playback page of ``sepmon report`` in a real headless Chromium.

The recording is the simulator's encounter, analysed and reported by the real
commands (``sepmon analyze``, ``sepmon report``). Oracles: the event log read here
independently of the page (the alert timeline must show exactly its level changes),
the simulator's ground truth (where each vehicle was at the time the slider is at,
and how far it moved between two slider positions), and the browser's own DOM and
layout.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from typing import Any

import pytest
from browser import chromium_page, screenshot

from sepmon.sim import simulate, write_recording

pytestmark = pytest.mark.timeout(300)


def _sepmon(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sepmon", *args], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on a 6371 km sphere (plenty for tens of metres over a few km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371000.0 * math.asin(math.sqrt(h))


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("playback")
    sim = simulate("head-on", seed=5, rate=1, bystander=True, cpa_time=60.0, duration=90.0)
    rec = tmp / "encounter.nmea"
    write_recording(sim, rec)
    events, tracks = tmp / "events.jsonl", tmp / "tracks.csv"
    _sepmon("analyze", str(rec), "--events", str(events), "--tracks", str(tracks))
    _sepmon("report", str(events), str(tracks), "--output", str(tmp / "report"))
    _sepmon("report", str(events), "--output", str(tmp / "events-only"))
    log = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    return {"sim": sim, "dir": tmp, "events": log}


def test_alert_timeline_is_the_event_log(reported: dict[str, Any]) -> None:
    log = reported["events"]
    levels = [e for e in log if e["type"] == "level"]
    assert [e["level"] for e in levels if e["level"]], "the encounter raised no alert"
    with chromium_page() as page:
        page.goto((reported["dir"] / "report" / "playback.html").as_uri())
        page.wait_for_function("() => window.sepmon.frames > 0")
        segs = page.eval_on_selector_all(
            "#timeline .seg",
            "s => s.map(e => [e.dataset.a, e.dataset.b, +e.dataset.level, +e.dataset.t0, +e.dataset.t1])",
        )
        # Each segment starts at a level event of the log with level > 0 and ends at that
        # pair's next level event (or the end of the recording).
        expected = []
        for i, e in enumerate(levels):
            if e["level"]:
                later = [f["t"] for f in levels[i + 1 :] if {f["a"], f["b"]} == {e["a"], e["b"]}]
                expected.append((*sorted((e["a"], e["b"])), e["level"], e["t"], later[0] if later else None))
        got = sorted((a, b, lv, t0, t1) for a, b, lv, t0, t1 in segs)
        assert [g[:4] for g in got] == sorted(x[:4] for x in expected)
        for g, x in zip(got, sorted(expected, key=lambda x: x[:4]), strict=True):
            if x[4] is not None:
                assert g[4] == x[4]
        # Laid out along the slider: a later segment starts further right.
        lefts = page.eval_on_selector_all(
            "#timeline .seg", "s => s.map(e => [+e.dataset.t0, e.getBoundingClientRect().left])"
        )
        lefts.sort()
        assert all(a[1] <= b[1] for a, b in itertools.pairwise(lefts))
        assert page.sepmon_errors == []


def _seek(page: Any, t: float) -> dict[str, Any]:
    page.evaluate(
        """(t) => { const r = window.sepmon.recording, s = document.getElementById('slider');
                  s.value = String((t - r.t0) / (r.t1 - r.t0) * 1000);
                  s.dispatchEvent(new Event('input', {bubbles: true})); }""",
        t,
    )
    frame: dict[str, Any] = page.evaluate("window.sepmon.frame")
    return frame


def test_slider_moves_the_picture_as_the_vehicles_moved(reported: dict[str, Any]) -> None:
    sim, log = reported["sim"], reported["events"]
    warn = next(e for e in log if e["type"] == "level" and e["level"] == 3)
    with chromium_page() as page:
        page.goto((reported["dir"] / "report" / "playback.html").as_uri())
        page.wait_for_function("() => window.sepmon.frames > 0")
        t0 = page.evaluate("window.sepmon.recording.t0")
        first_alert = min(e["t"] for e in log if e["type"] == "level" and e["level"])
        assert first_alert - t0 > 6.0  # seeking to +5 s shows the picture before any alert
        early = _seek(page, t0 + 5.0)
        xy_early = page.evaluate("window.sepmon.screenOf('alpha')")
        assert not page.query_selector("#pairs tbody tr")
        at_warn = _seek(page, warn["t"] + 0.01)
        xy_warn = page.evaluate("window.sepmon.screenOf('alpha')")
        rows = page.eval_on_selector_all(
            "#pairs tbody tr", "r => r.map(e => [e.dataset.a, e.dataset.b, e.dataset.level])"
        )
        assert [min(warn["a"], warn["b"]), max(warn["a"], warn["b"]), "3"] in rows
        screenshot(page, "playback-warning.png")
        scale = page.evaluate("window.sepmon.view.scale")
        positions = []
        for frame in (early, at_warn):
            alpha = next(t for t in frame["tracks"] if t["n"] == "alpha")
            truth = sim.truth.sample("alpha", alpha["ft"])
            # Where the page puts alpha is where alpha truly was when that fix was taken (GPS noise aside).
            assert _metres(alpha["lat"], alpha["lon"], float(truth.lat[0]), float(truth.lon[0])) < 30.0
            positions.append((float(truth.lat[0]), float(truth.lon[0])))
        moved_m = _metres(*positions[0], *positions[1])
        moved_px = math.dist(xy_early, xy_warn)
        assert moved_m > 500
        assert abs(moved_px / scale - moved_m) < 0.05 * moved_m + 60, (moved_px / scale, moved_m)
        # Play moves the slider on by itself; pause stops it.
        start = float(page.eval_on_selector("#slider", "s => s.value"))
        page.select_option("#speed", "30")
        page.click("#play")
        page.wait_for_function(f"() => +document.getElementById('slider').value > {start} + 5")
        assert page.inner_text("#play") == "pause"
        page.click("#play")
        assert page.inner_text("#play") == "play"
        _seek(page, warn["t"] + 0.01)
        # The events list stops at the slider's time, newest first.
        shown = page.eval_on_selector_all("#events li", "l => l.map(e => +e.dataset.t)")
        assert shown and max(shown) <= warn["t"] + 0.01 and shown == sorted(shown, reverse=True)
        assert page.sepmon_errors == []


def test_a_report_from_the_event_log_alone_says_what_it_lacks(reported: dict[str, Any]) -> None:
    sim = reported["sim"]
    html = (reported["dir"] / "events-only" / "report.html").read_text()
    # The old report stated the smallest range seen at a level change (kilometres for a
    # miss of the simulator's true {sim.cpa.horizontal_m:.0f} m) as the closest approach.
    assert "closest approach <b>" not in html
    assert "closest approach unknown" in html
    with chromium_page() as page:
        page.goto((reported["dir"] / "events-only" / "playback.html").as_uri())
        page.wait_for_function("() => window.sepmon.frames > 0")
        lacks = page.inner_text("#lacks")
        assert "no tracks file" in lacks and "closest approach" in lacks
        assert page.eval_on_selector_all("#timeline .seg", "s => s.length") > 0
        assert page.sepmon_errors == []
    assert sim.cpa.horizontal_m < 300
