"""The daemon's own bookkeeping, driven with a clock we set: falling behind, drops, batches.

Oracles: the arithmetic of the times we inject (the host clock minus a fix's time is its
delay; a batch delayed 8.5 s more than the source's usual delay is 8.5 s behind), and
the counts of what we hand in.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from rich.console import Console

from sepmon.apps.daemon import CAUGHT_UP_S, Daemon, LinkStatus
from sepmon.core.config import parse_config
from sepmon.core.model import Event, Fix, Level, PairStatus
from sepmon.core.monitor import Monitor
from sepmon.core.picture import Picture
from sepmon.links.sources import spec_from_arg
from sepmon.presentation.liveview import LiveView


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _fix(source: str, t: float, north_deg: float = 0.0) -> Fix:
    return Fix(source, t, 47.0 + north_deg, 11.0, 1000.0, 0.0, 0.0, 1, 1.0, 9, None)


def _daemon(clock: Clock, events: list[Event]) -> Daemon:
    config = parse_config({"daemon": {"behind_s": 2.0}})
    return Daemon(config, [spec_from_arg("gps=udp://127.0.0.1:0")], on_event=events.append, clock=clock)


def _render(daemon: Daemon) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(LiveView(daemon).render())
    return console.export_text()


def test_a_batch_that_arrives_late_says_the_monitor_is_behind_and_then_caught_up() -> None:
    clock = Clock(1000.0)
    events: list[Event] = []
    d = _daemon(clock, events)
    d.inject_fixes([_fix("a", 999.5), _fix("b", 999.4)])  # usual delays 0.5 and 0.6 s
    assert not [e for e in events if e.type == "behind"]
    clock.t = 1010.0
    d.inject_fixes([_fix("a", 1001.0), _fix("b", 1000.9)])  # each 9.0 / 9.1 s late: 8.5 s more than usual
    behind = [e for e in events if e.type == "behind"]
    assert len(behind) == 1 and "8.5 s behind" in (behind[0].detail or "")
    assert d.behind and "BEHIND real time" in _render(d)
    # Fixes on time again; after CAUGHT_UP_S without lag the monitor says it caught up.
    clock.t = 1011.0
    d.inject_fixes([_fix("a", 1010.5), _fix("b", 1010.4)])
    clock.t = 1011.0 + CAUGHT_UP_S + 0.1
    d._tick()
    caught = [e for e in events if e.type == "caught_up"]
    assert len(caught) == 1 and not d.behind and "BEHIND" not in _render(d)


def test_one_source_with_a_wrong_clock_is_not_the_monitor_falling_behind() -> None:
    clock = Clock(1000.0)
    events: list[Event] = []
    d = _daemon(clock, events)
    d.inject_fixes([_fix("a", 999.5), _fix("b", 940.0)])  # b's receiver clock is a minute slow
    clock.t = 1001.0
    d.inject_fixes([_fix("a", 1000.5), _fix("b", 941.0)])  # same delays as before: in real time
    assert not [e for e in events if e.type == "behind"]


def test_drops_reach_the_event_log_the_live_view_and_the_exit_statistics() -> None:
    clock = Clock(1000.0)
    events: list[Event] = []
    d = _daemon(clock, events)
    d.dropped("gps", "overlong", 1)
    d.dropped("gps", "overlong", 2)  # same burst: counted, not a new event
    d.dropped("mqtt:site-b", "schema", 4)  # a peer that is not a configured source
    dropped = [e for e in events if e.type == "dropped"]
    assert [(e.a, e.detail) for e in dropped] == [
        ("gps", "overlong: 1 dropped (1 so far)"),
        ("mqtt:site-b", "schema: 4 dropped (4 so far)"),
    ]
    text = _render(d)
    assert "3 overlong" in text and "4 schema" in text
    stats = {e.a: json.loads(e.detail or "{}") for e in d._stats_events()}
    assert stats["gps"]["dropped_overlong"] == 3 and stats["mqtt:site-b"] == {"dropped_schema": 4}


def test_inject_fixes_evaluates_a_batch_once() -> None:
    clock = Clock(1000.0)
    events: list[Event] = []
    d = _daemon(clock, events)
    calls = 0
    evaluate = d.monitor.evaluate

    def counting() -> list[Event]:
        nonlocal calls
        calls += 1
        return evaluate()

    d.monitor.evaluate = counting  # type: ignore[method-assign]
    d.inject_fixes([_fix(f"s{i}", 999.9, 0.01 * i) for i in range(50)])
    assert calls == 1
    assert len(d.monitor.tracker.tracks) == 50


def test_a_source_that_jumps_is_flagged_in_the_live_view() -> None:
    """Oracle: geometry — 1 degree of latitude (about 111 km) in one second is no vehicle's speed."""
    clock = Clock(1000.0)
    events: list[Event] = []
    d = _daemon(clock, events)
    d.status.clear()  # the view's rows: only the injected source
    d.status["a"] = LinkStatus(spec_from_arg("a=udp://127.0.0.1:0"))
    d.ingests["a"] = d.ingests.pop("gps")
    d.inject_fixes([_fix("a", 999.9)])
    clock.t = 1001.0
    d.inject_fixes([_fix("a", 1000.9, north_deg=1.0)])
    assert [e.type for e in events if e.a == "a"] == ["acquired", "implausible"]
    assert "JUMP" in _render(d)


# ---- the picture: made when read, the same whenever it is read -----------------------------------

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
LAT0 = 47.0
START_N_M = 12_000.0  # b starts this far north of a, on a's meridian
CLOSING_MPS = 100.0  # and flies south at this speed, straight at a


def _meridian_m_per_deg(lat_deg: float) -> float:
    """Metres per degree of latitude: the WGS84 meridian radius of curvature (NIMA TR8350.2)."""
    e2 = WGS84_F * (2 - WGS84_F)
    s = math.sin(math.radians(lat_deg))
    return math.radians(1.0) * WGS84_A * (1 - e2) / float((1 - e2 * s * s) ** 1.5)


def _north_m(t: float, t0: float) -> float:
    return START_N_M - CLOSING_MPS * (t - t0)


class _Keeper:
    """An output that keeps every picture it is handed; with ``read_now`` it reads each at once."""

    name = "keeper"

    def __init__(self, read_now: bool) -> None:
        self.read_now = read_now
        self.kept: list[tuple[str, Picture]] = []

    async def start(self, host: object) -> None:
        pass

    def on_fix(self, fix: Fix) -> None:
        pass

    def on_event(self, event: Event, picture: Picture) -> None:
        self._keep(event.type, picture)

    def on_tick(self, now: float, picture: Picture) -> None:
        self._keep("tick", picture)

    def _keep(self, why: str, picture: Picture) -> None:
        if self.read_now:
            assert picture.pairs is not None and picture.tracks is not None
        self.kept.append((why, picture))

    async def stop(self) -> None:
        pass


def _closing_run(outputs: list[Any], t0: float = 1000.0, seconds: int = 110) -> Daemon:
    """a stands still; b flies south along a's meridian at 100 m/s from 12 km, one fix a second
    each (the host clock 0.05 s after the fix), and the daemon ticks half a second after each."""
    clock = Clock(t0)
    d = Daemon(parse_config({}), [spec_from_arg("gps=udp://127.0.0.1:0")], clock=clock, outputs=outputs)
    m_per_deg = _meridian_m_per_deg(LAT0)
    for k in range(seconds + 1):
        t = t0 + k
        clock.t = t + 0.05
        a = Fix("a", t, LAT0, 11.0, 1000.0, 0.0, 0.0, 1, 1.0, 9, t)
        b = Fix("b", t, LAT0 + _north_m(t, t0) / m_per_deg, 11.0, 1000.0, CLOSING_MPS, 180.0, 1, 1.0, 9, t)
        d.inject_fixes([a, b])
        clock.t = t + 0.5
        d._tick()
    return d


@pytest.mark.parametrize("read_now", [False, True], ids=["read-later", "read-at-once"])
def test_a_picture_read_late_shows_its_own_moment(read_now: bool) -> None:
    """Tracks and pairs are made when first read: an output that keeps its pictures and reads
    them a hundred evaluations later sees each one's own moment, as one that reads at once does.

    Oracle: geometry worked out independently — a still vehicle and one on its meridian
    closing head-on at 100 m/s from 12 km, so at time t the range is 12 km − 100 m/s·(t − t0),
    the bearing from a to b north, the closest approach 0 m in range / 100 m/s; degrees of
    latitude to metres by the WGS84 meridian radius of curvature (NIMA TR8350.2). Levels from
    the minima's definitions (Minima: 3 km and 300 m): inside them WARNING; beyond twice them
    plus the advisory look-ahead's closing (18 s · 100 m/s) nothing.
    """
    t0 = 1000.0
    keeper = _Keeper(read_now)
    _closing_run([keeper], t0)
    ticks = [p for why, p in keeper.kept if why == "tick"]
    levels = [p for why, p in keeper.kept if why == "level"]
    assert len(ticks) == 111 and len(levels) >= 3  # nothing, advisory, caution, warning
    m_per_deg = _meridian_m_per_deg(LAT0)
    seen_levels = set()
    for pic in ticks + levels:
        moment = pic.monitor_t
        want_m = _north_m(moment, t0)
        b = pic.track("b")
        assert b is not None
        # The track dead-reckoned to the picture's moment (ticks: half a second past the fix).
        assert abs((b.state.lat - LAT0) * m_per_deg - want_m) < 1.0, (moment, b.state.lat)
        (pair,) = pic.pairs
        assert (pair.a, pair.b) == ("a", "b") and pair.t == moment
        assert pair.range_m == pytest.approx(want_m, rel=3e-3, abs=2.0), moment
        assert min(pair.bearing_deg, 360.0 - pair.bearing_deg) < 0.5
        assert pair.tcpa_s == pytest.approx(want_m / CLOSING_MPS, rel=3e-3, abs=0.05)
        assert pair.cpa_m < 5.0
        if want_m > 2 * 3000.0 + 18 * CLOSING_MPS + 1000.0:
            assert pair.level == Level.NONE and pic.alerting == (), moment
        elif want_m < 2500.0:
            assert pair.level == Level.WARNING and pic.alerting == (pair,), moment
        assert pic.alerting == ((pair,) if pair.level >= Level.ADVISORY else ())
        seen_levels.add(pair.level)
    assert seen_levels == set(Level)


def test_pairs_are_made_only_when_an_output_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """An output that reads only sources and boards (as MQTT's board health does) costs no
    PairStatus per pair; one that reads the pairs makes them once per picture it reads.

    Oracle: the count of what the outputs ask for (the pictures whose pairs they read).
    """
    made = 0
    pairs = Monitor.pairs

    def counting(self: Monitor) -> dict[tuple[str, str], PairStatus]:
        nonlocal made
        made += 1
        return pairs.fget(self)  # type: ignore[attr-defined,no-any-return]

    monkeypatch.setattr(Monitor, "pairs", property(counting))

    class Health:
        name = "health"
        calls = 0

        async def start(self, host: object) -> None:
            pass

        def on_fix(self, fix: Fix) -> None:
            pass

        def on_event(self, event: Event, picture: Picture) -> None:
            self.calls += 1
            assert picture.source("gps") is not None and picture.board("gps") is None

        def on_tick(self, now: float, picture: Picture) -> None:
            self.calls += 1
            assert [s.name for s in picture.sources] == ["gps"]

        async def stop(self) -> None:
            pass

    health = Health()
    _closing_run([health], seconds=30)
    assert health.calls > 31 and made == 0  # every tick and event batch, no pair made
    keeper = _Keeper(read_now=True)
    _closing_run([keeper], seconds=30)
    assert made == len(keeper.kept) > 31  # each picture's pairs made once, where it was read
