"""Faults through the live path: the real ``sepmon run`` on virtual boards and ptys, each fault injected.

Most faults share one run (``zoo``): one daemon, one port per fault, each fault on
its own vehicle far from the others, so a single ~15 s run covers them all and a
fault that leaks into another port shows up as a failure there. Cable pulls, a
full disk and the muted board run on their own. Every setting in seconds is short
(``stale_s``, ``hold_s``) so that losses show within a second or two.

What each test proves is listed in docs/reliability.md ("## Faults"). The runs of their
own use the ``sepmon`` pytest plugin's fixtures; the shared module-scoped run uses the
classes those fixtures return.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faultgen as fg
import pytest

from sepmon.apps.daemonchild import DaemonChild
from sepmon.apps.replay import Replayer, ReplayLine
from sepmon.core.model import Event
from sepmon.sim import simulate

STALE_S, HOLD_S = 2.5, 2.0
ZOO_S = 14.0  # recording seconds, played at 1x
FAULT_AT = 5.0  # seconds into the zoo when the time / fix faults start
MIDNIGHT = "2016-12-31T23:59:54Z"  # a real leap second (23:59:60) 6 s in


def _config(path: Path, stale_s: float = STALE_S, hold_s: float = HOLD_S, extra: str = "") -> Path:
    path.write_text(f"[separation]\nhold_s = {hold_s}\nstale_s = {stale_s}\n{extra}")
    return path


def _types(events: list[Event], source: str) -> list[str]:
    """The track events of ``source`` in order (acquired, lost, regained)."""
    return [e.type for e in events if e.a == source and e.type in ("acquired", "lost", "regained")]


def _stats(events: list[Event]) -> dict[str, list[dict[str, int]]]:
    out: dict[str, list[dict[str, int]]] = {}
    for e in events:
        if e.type == "source_stats":
            out.setdefault(e.a, []).append(json.loads(e.detail or ""))
    return out


def _head_on(lat: float, names: tuple[str, str]) -> dict[str, list[fg.SimLine]]:
    """Two vehicles already inside the minima and closing: WARNING from the first fixes on."""
    sim = simulate("head-on", seed=7, rate=2, lat=lat, cpa_time=20.0, duration=ZOO_S)
    return fg.sim_sources(sim, {"alpha": names[0], "bravo": names[1]})


def _parallel(
    lat: float, lon: float, names: tuple[str, str], start: str | None = None
) -> dict[str, list[fg.SimLine]]:
    """Two vehicles 8 km abeam: never a conflict."""
    kw: dict[str, Any] = {"start": start} if start else {}
    sim = simulate("parallel", seed=3, rate=2, lat=lat, lon=lon, separation=8000.0, duration=ZOO_S, **kw)
    return fg.sim_sources(sim, {"alpha": names[0], "bravo": names[1]})


def _build_zoo() -> tuple[dict[str, list[ReplayLine]], dict[str, list[ReplayLine]], dict[str, Any]]:
    """(board ports, raw ports, facts) for the shared run."""
    facts: dict[str, Any] = {}
    boards: dict[str, list[ReplayLine]] = {}
    raw: dict[str, list[ReplayLine]] = {}

    # Duplicate path: the same board through USB and a radio; [aliases] makes them one source.
    enc = _head_on(47.26, ("alpha", "bravo"))
    boards["alpha"] = fg.to_replay(enc["alpha"])
    boards["alpha-radio"] = fg.to_replay(enc["alpha"], delay=0.04)
    boards["bravo"] = fg.to_replay(enc["bravo"])

    # Frozen receiver clock: delta keeps sending, with the same UTC time, from FAULT_AT on.
    enc = _head_on(47.76, ("delta", "echo"))
    frozen_at = next(ln.fix_t for ln in enc["delta"] if ln.fix_t >= FAULT_AT)
    t_frozen = simulate_start() + frozen_at
    boards["delta"] = fg.to_replay(fg.edit(enc["delta"], FAULT_AT, lambda ln: fg.retime(ln.data, t_frozen)))
    boards["echo"] = fg.to_replay(enc["echo"])

    # GPS loses its fix: no-fix sentences keep flowing from FAULT_AT on.
    enc = _head_on(46.76, ("fox", "golf"))
    boards["fox"] = fg.to_replay(fg.edit(enc["fox"], FAULT_AT, lambda ln: fg.no_fix(ln.data)))
    boards["golf"] = fg.to_replay(enc["golf"])

    # A board that stops acknowledging (switched by the test), and one whose GPS never has a fix.
    par = _parallel(47.26, 10.35, ("charlie", "muted"))
    boards["muted"] = fg.to_replay(par["muted"])
    boards["hotel"] = fg.to_replay(fg.edit(par["muted"], 0.0, lambda ln: fg.no_fix(ln.data)))
    # Two ports claiming the same TAG source (two relays of one vehicle), one of them unplugged later.
    tag = fg.tagged("charlie", par["charlie"])
    raw["tag1"] = fg.to_replay(tag)
    raw["tag2"] = fg.to_replay(tag, delay=0.1)

    # Time jumps: one receiver an hour back, one an hour forward, from FAULT_AT on.
    par = _parallel(48.26, 11.35, ("jumpback", "jumpfwd"))
    t0 = simulate_start()
    raw["jumpback"] = fg.to_replay(
        fg.edit(par["jumpback"], FAULT_AT, lambda ln: fg.retime(ln.data, t0 + ln.fix_t - 3600))
    )
    raw["jumpfwd"] = fg.to_replay(
        fg.edit(par["jumpfwd"], FAULT_AT, lambda ln: fg.retime(ln.data, t0 + ln.fix_t + 3600))
    )

    # Midnight (and new year) rollover, and the leap second 2016-12-31 23:59:60 on the other receiver.
    par = _parallel(46.26, 11.35, ("midnight", "leap"), start=MIDNIGHT)
    raw["midnight"] = fg.to_replay(par["midnight"])
    t_mid = 6.0  # seconds into the run: POSIX midnight

    def leap(ln: fg.SimLine) -> bytes:
        if ln.fix_t < t_mid + 1.0:  # 23:59:60.00 and .50, still on the old date
            return fg.set_time(ln.data, f"2359{60 + ln.fix_t - t_mid:05.2f}", "311216")
        return fg.retime(ln.data, _iso(MIDNIGHT) + ln.fix_t - 1.0)  # UTC is one second behind now

    raw["leap"] = fg.to_replay(fg.edit(par["leap"], t_mid, leap))
    facts["leap_epochs"] = len({ln.fix_t for ln in par["leap"]})
    facts["midnight_epochs"] = len({ln.fix_t for ln in par["midnight"]})

    # GPS week rollover: RMC dates 1024 weeks in the past; every 4th epoch without RMC
    # (its date comes from the receive time).
    par = _parallel(47.26, 12.35, ("weekroll", "ooo"))

    def rolled(ln: fg.SimLine) -> bytes | None:
        if fg.kind(ln.data) != "RMC":
            return ln.data
        if round(ln.fix_t * 2) % 4 == 3:
            return None
        return fg.set_date(ln.data, fg.stamp(t0 + ln.fix_t - 1024 * 7 * 86400)[1])

    raw["weekroll"] = fg.to_replay(fg.edit(par["weekroll"], 0.0, rolled))
    facts["weekroll_epochs"] = len({ln.fix_t for ln in par["weekroll"]})
    # Out-of-order lines: every third epoch arrives after the next one.
    raw["ooo"] = fg.to_replay(fg.swap_epochs(par["ooo"]))
    facts["ooo_epochs"] = len({ln.fix_t for ln in par["ooo"]})

    # A port at the wrong baud rate.
    raw["noise"] = fg.noise(ZOO_S)
    return boards, raw, facts


def simulate_start() -> float:
    """Unix time of the simulator's default start (every zoo sim but the midnight one)."""
    return simulate("parallel", duration=1.0).params.start.timestamp()


def _iso(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("zoo")
    board_lines, raw_lines, facts = _build_zoo()
    boards = Replayer(board_lines, tmp / "ports", speed=1.0, boards=True, hold=True)
    raw = Replayer(raw_lines, tmp / "ports", speed=1.0, hold=True)
    ports = boards.open() | raw.open()
    # The relays' ports are trusted to name their vehicle in TAG blocks (live links ignore tags otherwise).
    relays = "".join(
        f'[[sources]]\nname = "{s}"\nurl = "{ports[s]}"\ntrust_tags = true\n' for s in ("tag1", "tag2")
    )
    config = _config(tmp / "zoo.toml", extra='[aliases]\n"alpha-radio" = "alpha"\n' + relays)
    cli_ports = {s: p for s, p in ports.items() if s not in ("tag1", "tag2")}
    daemon = DaemonChild(cli_ports, tmp / "events.jsonl", config)
    views: dict[str, Any] = {}
    marks: dict[str, float] = {}
    try:
        daemon.wait_ports_up(ports, timeout=20)
        t0 = time.time()
        boards.start()
        raw.start()
        muted = boards._port("muted").board
        assert muted is not None

        def at(t: float) -> None:
            time.sleep(max(0.0, t0 + t - time.time()))

        at(3.0)
        muted.mute_acks = True
        marks["muted"] = time.time()
        at(8.0)
        raw.unplug("tag1")
        marks["tag1_unplugged"] = time.time()
        at(10.0)
        muted.mute_acks = False
        marks["unmuted"] = time.time()
        assert boards.wait_played(ZOO_S + 10) and raw.wait_played(ZOO_S + 10)
        views = {s: boards.board_view(s) for s in board_lines}
        status, _, err = daemon.terminate()
        assert status == 0, err
    finally:
        for r in (boards, raw):
            r.close()
        if daemon.running:
            daemon.kill()
    return {"events": daemon.events(), "views": views, "t0": t0, "marks": marks, **facts}


def test_same_board_through_two_ports_is_one_source_and_both_ports_alert(zoo: dict[str, Any]) -> None:
    ev = zoo["events"]
    # One track, no pair between a vehicle and itself.
    assert "alpha-radio" not in {e.a for e in ev if e.type in ("acquired", "level")}
    assert not [e for e in ev if e.type == "level" and "alpha-radio" in (e.a, e.b)]
    assert [e for e in ev if e.type == "level" and {e.a, e.b} == {"alpha", "bravo"} and e.level == 3]
    # Whichever path carries the alert, the board shows it.
    assert zoo["views"]["alpha"].pattern == "warning"
    assert zoo["views"]["alpha-radio"].pattern == "warning"
    assert "lost" not in _types(ev, "alpha")


def test_two_ports_claiming_one_tag_source_are_one_track_that_survives_losing_a_path(
    zoo: dict[str, Any],
) -> None:
    ev = zoo["events"]
    assert [e.type for e in ev if e.a == "charlie" and e.type in ("acquired", "lost", "regained")] == [
        "acquired"
    ]
    assert [e for e in ev if e.type == "port_down" and e.a == "tag1"]
    # The ports' own names never became sources.
    assert not {"tag1", "tag2"} & {e.a for e in ev if e.type in ("acquired", "level")}
    per_port = _stats(ev)["charlie"]
    assert len(per_port) == 2 and all(s["fixes"] > 5 for s in per_port)


def test_frozen_receiver_time_is_dropped_and_the_track_goes_lost_not_clear(zoo: dict[str, Any]) -> None:
    ev = zoo["events"]
    assert _types(ev, "delta").count("lost") == 1 and "regained" not in _types(ev, "delta")
    (st,) = _stats(ev)["delta"]
    # The repeated epochs were read (lines) but gave no fix after the freeze.
    assert st["fixes"] <= 2 * FAULT_AT + 2 and st["lines"] > 4 * 2 * (ZOO_S - 1)
    # The pair stays at WARNING while delta is lost (held, never decayed), and echo still shows it.
    pair = [e for e in ev if e.type == "level" and {e.a, e.b} == {"delta", "echo"}]
    assert pair and pair[-1].level == 3
    assert zoo["views"]["echo"].pattern == "warning"
    assert zoo["views"]["delta"].pattern == "warning"


def test_gps_without_fix_goes_lost_not_clear(zoo: dict[str, Any]) -> None:
    ev = zoo["events"]
    assert _types(ev, "fox").count("lost") == 1 and "regained" not in _types(ev, "fox")
    (st,) = _stats(ev)["fox"]
    assert st["no_fix"] > 3 * (ZOO_S - FAULT_AT)
    pair = [e for e in ev if e.type == "level" and {e.a, e.b} == {"fox", "golf"}]
    assert pair and pair[-1].level == 3
    assert zoo["views"]["golf"].pattern == "warning"
    assert zoo["views"]["fox"].pattern == "warning"
    # A receiver that never had a fix: no track, no pairs, and its board never shows clear.
    assert "acquired" not in _types(ev, "hotel")
    assert zoo["views"]["hotel"].pattern not in ("clear", "offline"), zoo["views"]["hotel"]


def test_time_jumps_back_and_forward_keep_the_track(zoo: dict[str, Any]) -> None:
    ev = zoo["events"]
    for s in ("jumpback", "jumpfwd"):
        assert _types(ev, s) == ["acquired"], (s, _types(ev, s))
        (st,) = _stats(ev)[s]
        assert st["fixes"] >= 2 * ZOO_S - 2


def test_midnight_rollover_and_leap_second_lose_nothing_but_the_repeated_second(zoo: dict[str, Any]) -> None:
    ev = zoo["events"]
    assert _types(ev, "midnight") == ["acquired"]
    assert _types(ev, "leap") == ["acquired"]
    stats = _stats(ev)
    assert stats["midnight"][0]["fixes"] == zoo["midnight_epochs"]
    # 23:59:60 is read as 00:00:00 of the next day (POSIX); the real 00:00:00.00 that follows is
    # older than 23:59:60.50 and dropped by the track as out of order, without a gap worth a loss.
    assert stats["leap"][0]["fixes"] == zoo["leap_epochs"]
    assert stats["leap"][0].get("unparsable", 0) == 0


def test_gps_week_rollover_keeps_the_track(zoo: dict[str, Any]) -> None:
    ev = zoo["events"]
    assert _types(ev, "weekroll") == ["acquired"]
    (st,) = _stats(ev)["weekroll"]
    assert st["fixes"] == zoo["weekroll_epochs"]


def test_out_of_order_epochs_keep_the_track(zoo: dict[str, Any]) -> None:
    ev = zoo["events"]
    assert _types(ev, "ooo") == ["acquired"]
    (st,) = _stats(ev)["ooo"]
    assert st["fixes"] >= zoo["ooo_epochs"] * 0.9


def test_board_that_stops_acknowledging_is_reported_and_recovers(zoo: dict[str, Any]) -> None:
    ev = zoo["events"]
    silent = [e for e in ev if e.type == "board_silent" and e.a == "muted"]
    acking = [e for e in ev if e.type == "board_acking" and e.a == "muted"]
    assert len(silent) == 1 and len(acking) == 1
    assert 3.0 <= silent[0].t - zoo["marks"]["muted"] <= 3.0 + 1.5  # ACK_TIMEOUT_S, plus a heartbeat
    assert 0.0 <= acking[0].t - zoo["marks"]["unmuted"] <= 1.5
    # Only that board.
    assert {e.a for e in ev if e.type == "board_silent"} == {"muted"}


def test_noise_port_is_counted_and_disturbs_nothing(zoo: dict[str, Any]) -> None:
    ev = zoo["events"]
    stats = _stats(ev)
    (st,) = stats["noise"]
    assert st["fixes"] == 0 and st.get("checksum", 0) + st.get("framing", 0) > 20
    assert "acquired" not in _types(ev, "noise")
    for s in ("alpha", "bravo", "echo", "golf", "midnight", "jumpback", "muted"):
        for one in stats[s]:
            assert one.get("checksum", 0) == 0 and one.get("framing", 0) == 0, (s, one)


# ---- faults with a run of their own ---------------------------------------------------


def _count(kind: str, n: int) -> Callable[[list[Event]], bool]:
    """At least ``n`` events of ``kind`` for alpha."""
    return lambda ev: sum(e.type == kind and e.a == "alpha" for e in ev) >= n


def test_repeated_cable_pulls_come_back_within_2_s(
    tmp_path: Path, sepmon_replayer: Callable[..., Replayer], sepmon_daemon: Callable[..., DaemonChild]
) -> None:
    sim = simulate("parallel", seed=4, rate=5, separation=8000.0, duration=25.0)
    lines = {s: fg.to_replay(ls) for s, ls in fg.sim_sources(sim).items()}
    replayer = sepmon_replayer(lines, speed=1.0, boards=True, hold=True)
    ports = replayer.ports
    daemon = sepmon_daemon(ports, config=_config(tmp_path / "c.toml", stale_s=1.0, hold_s=1.0))
    try:
        daemon.wait_ports_up(ports, timeout=20)
        replayer.start()
        daemon.wait_events(lambda ev: any(e.type == "acquired" and e.a == "alpha" for e in ev), 10)
        for n in range(1, 4):
            replayer.unplug("alpha")
            daemon.wait_events(_count("port_down", n), 5)
            daemon.wait_events(_count("lost", n), 5)
            t_replug = time.time()
            replayer.replug("alpha")
            ev = daemon.wait_events(_count("regained", n), 5)
            up = [e for e in ev if e.type == "port_up" and e.a == "alpha"][n]  # [0]: the first open
            regained = [e for e in ev if e.type == "regained" and e.a == "alpha"][n - 1]
            assert up.t - t_replug <= 2.0
            assert regained.t - t_replug <= 2.0
        status, _, err = daemon.terminate()
    finally:
        replayer.stop()  # the fixtures close it and kill the daemon at teardown
    assert status == 0, err
    ev = daemon.events()
    assert _types(ev, "bravo") == ["acquired"]  # the other port never noticed
    # Never a level change caused by the losses.
    assert not [e for e in ev if e.type == "level"]


def test_full_disk_is_reported_once_and_boards_still_alert(
    tmp_path: Path, sepmon_replayer: Callable[..., Replayer], sepmon_daemon: Callable[..., DaemonChild]
) -> None:
    sim = simulate("head-on", seed=2, rate=2, cpa_time=20.0, duration=12.0)
    lines = {s: fg.to_replay(ls) for s, ls in fg.sim_sources(sim).items()}
    replayer = sepmon_replayer(lines, speed=1.0, boards=True, hold=True)
    ports = replayer.ports
    daemon = sepmon_daemon(ports, config=_config(tmp_path / "c.toml"), events=Path("/dev/full"))
    try:
        daemon.wait_output(lambda out: out.count("port up") == 2, 20)
        replayer.start()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            views = {s: replayer.board_view(s) for s in ("alpha", "bravo")}
            if all(v is not None and v.pattern == "warning" for v in views.values()):
                break
            time.sleep(0.05)
        assert {v.pattern for v in views.values() if v is not None} == {"warning"}, views
        out = daemon.wait_output(lambda out: "log error" in out, 5)
        status, out, err = daemon.terminate()
    finally:
        replayer.stop()  # the fixtures close it and kill the daemon at teardown
    assert status == 0, err
    errors = [ln for ln in out.splitlines() if "log error" in ln]
    # One loud line per burst (the 1st, 10th, 100th ... failure), naming the file and the reason.
    assert 1 <= len(errors) <= 3 and "No space left on device" in errors[0] and "/dev/full" in errors[0]
    # Everything else was still reported on the console.
    assert "track acquired" in out and "source stats" in out
