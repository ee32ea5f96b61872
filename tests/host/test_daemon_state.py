"""The daemon's own bookkeeping, driven with a clock we set: falling behind, drops, batches.

Oracles: the arithmetic of the times we inject (the host clock minus a fix's time is its
delay; a batch delayed 8.5 s more than the source's usual delay is 8.5 s behind), and
the counts of what we hand in.
"""

from __future__ import annotations

import json

from rich.console import Console

from sepmon.apps.daemon import CAUGHT_UP_S, Daemon, LinkStatus
from sepmon.core.config import parse_config
from sepmon.core.model import Event, Fix
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
