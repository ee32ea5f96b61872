"""The live web view in a real headless Chromium, fed by the real daemon during a replayed encounter.

Oracles: the daemon's own event log read independently of the page (the time a level
event was logged, the time a track was lost), the simulator's ground truth (which pair
meets, how close), the virtual boards running the firmware's own logic (what each board
shows), and what the browser itself reports: the DOM it built and the pixels it drew.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from browser import chromium_page, screenshot

from sepmon.apps.daemonchild import DaemonChild
from sepmon.apps.replay import Replayer, load_recording
from sepmon.sim import simulate, write_recording

pytestmark = pytest.mark.timeout(400)

SPEED = 2.0
STALE_S = 2.0  # live seconds (4 s of the recording at SPEED)
CAUGHT_UP_S = 1.0  # the page shows a logged level change within this


def _level_events(ev: list[dict[str, Any]], level: int) -> list[dict[str, Any]]:
    return [
        e
        for e in ev
        if e["type"] == "level" and e["level"] == level and {e["a"], e["b"]} == {"alpha", "bravo"}
    ]


def _grey(px: list[int]) -> bool:
    r, g, b, _ = px
    return max(r, g, b) - min(r, g, b) < 40 and max(r, g, b) > 60


def _blue(px: list[int]) -> bool:
    r, _, b, _ = px
    return b > 150 and b - r > 90


def test_live_page_follows_the_daemon_through_an_encounter_a_loss_and_a_restart(tmp_path: Path) -> None:
    sim = simulate("head-on", seed=5, rate=1, bystander=True, cpa_time=30.0, duration=100.0)
    rec_path = tmp_path / "encounter.nmea"
    write_recording(sim, rec_path)
    rec = load_recording([rec_path])
    replayer = Replayer(dict(rec.lines), tmp_path / "ports", speed=SPEED, boards=True, hold=True)
    ports = replayer.open()
    config = tmp_path / "live.toml"
    config.write_text(f"[separation]\nhold_s = {4 / SPEED}\nstale_s = {STALE_S}\n")
    events = tmp_path / "events.jsonl"
    daemon = DaemonChild(ports, events, config, extra_args=("--web", "127.0.0.1:0"))
    restarted: DaemonChild | None = None
    try:
        url = daemon.web_url()
        daemon.wait_raw_events(lambda ev: sum(e["type"] == "port_up" for e in ev) == len(ports), timeout=30)
        with chromium_page() as page:
            page.goto(url)
            page.wait_for_function("() => !window.sepmon.noData && window.sepmon.frames > 0", timeout=30_000)
            # The page notes (on its own clock, the machine's) when it first shows the pair at WARNING.
            page.evaluate(
                """() => { window.__warnAt = null; setInterval(() => {
                     if (window.__warnAt === null && document.querySelector(
                         '#pairs tr[data-a="alpha"][data-b="bravo"][data-level="3"]'))
                       window.__warnAt = Date.now() / 1000; }, 10); }"""
            )
            replayer.start()
            ev = daemon.wait_raw_events(lambda ev: _level_events(ev, 3), timeout=90)
            logged = _level_events(ev, 3)[0]
            page.wait_for_function("() => window.__warnAt !== null", timeout=30_000)
            shown_at = page.evaluate("window.__warnAt")
            # The event's t is the daemon's clock when it logged the change; same machine, same clock.
            assert shown_at - logged["t"] <= CAUGHT_UP_S, (shown_at, logged["t"])

            # Ground truth: alpha and bravo are the pair that meets; the bystander never alerts.
            violation = sim.truth.first_violation("alpha", "bravo", 3000.0, 300.0)
            assert violation is not None
            rows = page.eval_on_selector_all(
                "#pairs tbody tr", "rows => rows.map(r => [r.dataset.a, r.dataset.b, r.dataset.level])"
            )
            assert ["alpha", "bravo", "3"] in rows and not [r for r in rows if "bystander" in r[:2]]

            # Both boards' patterns as the page shows them are what the virtual boards (the
            # firmware's logic) show, and the board acknowledged what it was told.
            page.wait_for_function(
                """() => ['alpha', 'bravo'].every(n => {
                     const r = document.querySelector(`#boards tr[data-name="${n}"]`);
                     return r && r.dataset.told === 'warning' && r.dataset.acked === '1'; })""",
                timeout=30_000,
            )
            for name in ("alpha", "bravo"):
                end = time.monotonic() + 10
                view = replayer.board_view(name)
                while (view is None or view.pattern != "warning") and time.monotonic() < end:
                    time.sleep(0.05)
                    view = replayer.board_view(name)
                assert view is not None and view.pattern == "warning", (name, view)
            screenshot(page, "live-warning.png")

            # The bystander's cable is pulled: once the log says it is lost, the page greys it
            # and says how long ago it was seen.
            t_unplug = time.time()
            replayer.unplug("bystander")
            daemon.wait_raw_events(
                lambda ev: [e for e in ev if e["type"] == "lost" and e["a"] == "bystander"], 30
            )
            page.wait_for_function(
                "() => document.querySelector('#sources tr[data-name=\"bystander\"]')?.dataset.state"
                " === 'lost'",
                timeout=30_000,
            )
            text = page.inner_text('#sources tr[data-name="bystander"] td.state')
            now = time.time()
            m = re.search(r"LOST, seen ([\d.]+) s ago", text)
            assert m, text
            # Seen last just before the cable was pulled (the recording sends a fix every 1 s / SPEED).
            # (the frame shown may be up to an update and a busy moment older than now)
            assert now - t_unplug - 3.0 <= float(m.group(1)) <= now - t_unplug + 1.5, (text, now - t_unplug)
            page.evaluate("window.sepmon.view.user = true")  # hold the view still for the pixels
            draws = page.evaluate("window.sepmon.draws")
            page.wait_for_function("(n) => window.sepmon.draws > n", arg=draws)  # one frame drawn, view held
            x, y = page.evaluate("window.sepmon.screenOf('bystander')")
            pixels = page.evaluate(
                "([x, y]) => { const out = []; for (let dx = -6; dx <= 6; dx++)"
                " for (let dy = -6; dy <= 6; dy++) out.push(window.sepmon.pixel(x + dx, y + dy));"
                " return out; }",
                [x, y],
            )
            assert any(_grey(p) for p in pixels) and not any(_blue(p) for p in pixels)
            ax, ay = page.evaluate("window.sepmon.screenOf('alpha')")
            alpha_px = page.evaluate("([x, y]) => window.sepmon.pixel(x, y)", [ax, ay])
            assert _blue(alpha_px), alpha_px  # a current track is drawn in colour, not grey
            # The event log filters: by kind, and by text; newest first.
            page.select_option("#ev-type", "track")
            page.fill("#ev-filter", "bystander")
            shown = page.eval_on_selector_all("#events li", "l => l.map(e => [e.dataset.type, +e.dataset.t])")
            logged = [e for e in daemon.raw_events() if e["type"] in ("acquired", "lost", "regained")]
            assert [t for t, _ in shown] == [e["type"] for e in reversed(logged) if e["a"] == "bystander"]
            page.fill("#ev-filter", "")
            page.select_option("#ev-type", "level")
            types = page.eval_on_selector_all("#events li", "l => l.map(e => e.dataset.type)")
            assert types and set(types) == {"level"}
            screenshot(page, "live-lost.png")

            # The daemon dies: the page says so, full screen, rather than show a frozen picture.
            daemon.kill()
            page.wait_for_function("() => window.sepmon.noData", timeout=15_000)
            assert page.is_visible("#nodata")
            box = page.eval_on_selector(
                "#nodata", "e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; }"
            )
            assert box == [1400, 850]
            assert "NO LIVE DATA" in page.inner_text("#nodata")
            screenshot(page, "live-no-data.png")
            run_before = page.evaluate("window.sepmon.run")

            # Restarted on the same address: the page reconnects by itself.
            port = url.rsplit(":", 1)[1].rstrip("/")
            restarted = DaemonChild(
                ports, tmp_path / "events2.jsonl", config, extra_args=("--web", f"127.0.0.1:{port}")
            )
            assert restarted.web_url() == url
            page.wait_for_function(
                "(before) => !window.sepmon.noData && window.sepmon.run !== before",
                arg=run_before,
                timeout=60_000,
            )
            assert not page.is_visible("#nodata")
            assert page.sepmon_errors == []
    finally:
        replayer.stop()
        replayer.close()
        for d in (daemon, restarted):
            if d is not None and d.proc.poll() is None:
                d.kill()
