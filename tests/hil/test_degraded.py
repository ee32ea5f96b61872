"""The "degraded" state end to end (real ``sepmon run``, virtual boards): a blind board never looks clear.

(a) A receiver that talks but has no fix (GGA quality 0, RMC status V): the board's
    own "no GPS" failsafe does not trip (lines keep coming), the host has no position
    for the vehicle and says so (``$PSEPA`` flag ``N``): the board shows "degraded",
    never "clear", while the others show "clear".
(b) Two vehicles 4 km apart (inside the 6 km advisory ring, 1000 m apart vertically,
    so level 0): one goes silent (its cable is pulled). After ``stale_s`` its track is
    lost and the other board shows "degraded" (flag ``L``), and "clear" again once the
    cable is back and the track regained.

Written with the ``sepmon`` pytest plugin's fixtures (``sepmon_replayer``, ``sepmon_daemon``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sepmon.apps.daemonchild import DaemonChild
from sepmon.apps.replay import Replayer, ReplayLine
from sepmon.apps.virtualboard import BoardView
from sepmon.sim import FaultModel, Simulation, simulate

STALE_S, HOLD_S = 2.0, 2.0  # the run is at 1x: recording seconds are live seconds
POLL_S = 0.02

# Every epoch of every vehicle falls in one endless no-fix dropout: valid sentences, no position.
NO_FIX = FaultModel(
    corrupt=0.0,
    truncate=0.0,
    garbage=0.0,
    dropouts_per_min=60.0,
    dropout_s=(3600.0, 3600.0),
    nofix_fraction=1.0,
)

Log = list[tuple[float, str, BoardView]]


def _sources(sim: Simulation, names: dict[str, str]) -> dict[str, list[ReplayLine]]:
    """The simulated lines of the vehicles in ``names`` (renamed), timed from the simulation's start."""
    t0 = sim.truth.t0
    out: dict[str, list[ReplayLine]] = {new: [] for new in names.values()}
    for r in sim.records:
        if r.source in names:
            out[names[r.source]].append(ReplayLine(r.rx_t - t0, r.data))
    return out


def _patterns(log: Log, source: str) -> list[str]:
    """The patterns ``source``'s board went through, in order."""
    return [v.pattern for _, s, v in list(log) if s == source]


def _wait_board(
    replayer: Replayer,
    pred: Callable[[dict[str, str | None]], bool],
    sources: tuple[str, ...],
    timeout: float,
) -> dict[str, str | None]:
    """Poll the boards' patterns until ``pred`` holds; returns them (the last ones on timeout)."""
    end = time.monotonic() + timeout
    while True:
        now = {}
        for s in sources:
            view = replayer.board_view(s)
            now[s] = None if view is None else view.pattern
        if pred(now) or time.monotonic() > end:
            return now
        time.sleep(POLL_S)


def _start(
    sources: dict[str, list[ReplayLine]],
    sepmon_replayer: Callable[..., Replayer],
    sepmon_daemon: Callable[..., DaemonChild],
    log: Log,
) -> tuple[Replayer, DaemonChild]:
    """Boards on every source, the daemon on their ports; both closed by the fixtures at teardown."""
    replayer = sepmon_replayer(
        sources, speed=1.0, boards=True, hold=True, on_board=lambda t, s, v: log.append((t, s, v))
    )
    daemon = sepmon_daemon(replayer.ports, config={"separation": {"hold_s": HOLD_S, "stale_s": STALE_S}})
    daemon.wait_ports_up(replayer.ports, timeout=10)
    replayer.start()
    return replayer, daemon


def test_receiver_without_fix_makes_its_board_degraded_never_clear(
    sepmon_replayer: Callable[..., Replayer], sepmon_daemon: Callable[..., DaemonChild]
) -> None:
    duration = 12.0
    seeing = simulate("parallel", seed=11, rate=2, separation=8000.0, duration=duration)
    blind = simulate(
        "parallel", seed=12, rate=2, separation=8000.0, duration=duration, lat=47.5, faults=NO_FIX
    )
    assert {r.fault for r in blind.records if r.source == "alpha"} == {"nofix"}
    sources = _sources(seeing, {"alpha": "alpha", "bravo": "bravo"}) | _sources(blind, {"alpha": "charlie"})
    assert any(b"GGA," in ln.data and b",0,00," in ln.data for ln in sources["charlie"])  # quality 0
    log: Log = []
    replayer, daemon = _start(sources, sepmon_replayer, sepmon_daemon, log)
    names = ("alpha", "bravo", "charlie")
    want = {"alpha": "clear", "bravo": "clear", "charlie": "degraded"}
    got = _wait_board(replayer, lambda p: p == want, names, timeout=8.0)
    assert got == want
    # Steady: watch for 3 s more (the GPS keeps talking, so charlie's board never says "no GPS").
    t_watch = time.monotonic()
    while time.monotonic() - t_watch < 3.0:
        now = {s: v.pattern for s in names if (v := replayer.board_view(s)) is not None}
        assert now == want, now
        time.sleep(0.05)
    status, _, err = daemon.terminate()
    replayer.stop()  # the boards' log ends here, as the host did
    assert status == 0, err
    # From the first command on, charlie's board went offline → degraded and never showed clear.
    charlie = _patterns(log, "charlie")
    assert "degraded" in charlie and "clear" not in charlie, charlie
    assert set(charlie) <= {"offline", "degraded"}, charlie
    events = daemon.events()
    assert not [e for e in events if e.a == "charlie" and e.type in ("acquired", "level")]
    assert [e for e in events if e.type == "board" and e.a == "charlie"]  # it is a live, identified board


def test_lost_counterpart_makes_the_other_board_degraded_until_it_is_back(
    sepmon_replayer: Callable[..., Replayer], sepmon_daemon: Callable[..., DaemonChild]
) -> None:
    # 4 km apart: inside the advisory ring (2 x 3000 m), so a loss matters; 1000 m apart
    # vertically, so the pair is at level 0 and the boards show "clear" to begin with.
    sim = simulate("parallel", seed=13, rate=2, separation=4000.0, vertical=1000.0, duration=30.0)
    log: Log = []
    replayer, daemon = _start(
        _sources(sim, {"alpha": "alpha", "bravo": "bravo"}), sepmon_replayer, sepmon_daemon, log
    )
    both = ("alpha", "bravo")
    got = _wait_board(replayer, lambda p: p == {"alpha": "clear", "bravo": "clear"}, both, timeout=6.0)
    assert got == {"alpha": "clear", "bravo": "clear"}
    t0 = time.monotonic()
    n_before = len(log)
    replayer.unplug("alpha")
    got = _wait_board(replayer, lambda p: p["bravo"] == "degraded", ("bravo",), timeout=STALE_S + 3.0)
    t_degraded = time.monotonic() - t0
    assert got["bravo"] == "degraded", got
    # Not before the host can know (the last fix was at most 0.5 s before the pull),
    # and within stale_s plus one heartbeat (1 s) and scheduling slack.
    assert STALE_S - 0.6 <= t_degraded <= STALE_S + 1.0 + 0.7, t_degraded
    ev = daemon.wait_events(lambda ev: any(e.type == "lost" and e.a == "alpha" for e in ev), 2)
    assert not [e for e in ev if e.type == "level"]  # the loss is not a level change
    # It stays degraded while alpha is gone.
    t_hold = time.monotonic()
    while time.monotonic() - t_hold < 1.5:
        view = replayer.board_view("bravo")
        assert view is not None and view.pattern == "degraded", view
        time.sleep(0.05)
    t_replug = time.monotonic()
    replayer.replug("alpha")
    got = _wait_board(replayer, lambda p: p == {"alpha": "clear", "bravo": "clear"}, both, timeout=5.0)
    t_clear = time.monotonic() - t_replug
    assert got == {"alpha": "clear", "bravo": "clear"}, got
    assert t_clear <= 2.0 + 1.0 + 1.0  # port back (<= 2 s), the next fix, one heartbeat
    status, _, err = daemon.terminate()
    replayer.stop()  # the boards' log ends here, as the host did
    assert status == 0, err
    # Between the pull and the replug bravo's board went clear → degraded, never back to clear.
    bravo = [v.pattern for _, s, v in log[n_before:] if s == "bravo"]
    assert bravo == ["degraded", "clear"], bravo
    events = daemon.events()
    assert [e.type for e in events if e.a == "alpha" and e.type in ("lost", "regained")] == [
        "lost",
        "regained",
    ]
