"""GPS injection in the loop: virtual boards (the firmware's own logic) fed recordings over USB,
a real ``sepmon run`` child reading them, as ``sepmon check --live --boards NAME=PORT`` runs
real boards.

Oracles: the recordings' geometry, as in tests/check/test_check.py (tests/data/check was
written by the simulator, whose analytic trajectories give the first violation, and its
expectation files hold levels and patterns the geometry implies: WARNING ahead of the
violation, the bystander far from both); the protocol as docs/firmware.md specifies the
mode (what each command must do, the 3 s "no GPS" and the ttl of an alert); the
events of the real daemon (a source without fixes is never acquired).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sepmon.apps.check import evaluate, load_expectations, read_recorded
from sepmon.apps.checklive import Injector, VirtualBench, observe_live
from sepmon.apps.daemonchild import DaemonChild
from sepmon.apps.replay import load_recording
from sepmon.core.config import parse_config
from sepmon.core.model import Event, Minima
from sepmon.sim import simulate

DATA = Path(__file__).resolve().parents[1] / "data" / "check"
SPEED = 2.0  # recording times are SPEED x wall-clock latency: 2, as test_check's offline/live agreement
H, V = Minima().horizontal_m, Minima().vertical_m


def _wait(pred: Callable[[], object], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("name", ["head-on", "dropout"])
def test_recording_injected_into_virtual_boards_passes_its_expectations(name: str, tmp_path: Path) -> None:
    """(a) The recorded encounter, injected, makes the daemon raise the expected levels and the
    boards report the expected patterns in their acks."""
    path = DATA / f"{name}.nmea"
    config = parse_config({})
    exp = load_expectations(DATA / f"{name}.check.toml")
    rd = read_recorded(path, config)
    obs = observe_live(
        path, config, speed=SPEED, boards="virtual", inject=True, workdir=tmp_path, recorded=rd
    )
    verdicts = {o.name: o for o in evaluate(exp, obs)}
    assert all(o.status == "pass" for o in verdicts.values()), [o.explain() for o in verdicts.values()]
    assert obs.mode == "live, virtual boards (GPS injection)"
    assert not obs.problems and not obs.losses
    # Judged on what the boards' acks said they showed, not on what the host told them.
    for board in ("alpha", "bravo"):
        assert verdicts[f"board {board} shows warning"].seen == "the board showed warning"
        assert [p for _, p in obs.boards_seen[board]][-1] == "warning"
    if name == "head-on":
        # the recording was the simulator's: its true trajectories give the first violation
        sim = simulate("head-on", seed=5, rate=1, bystander=True, separation=7200.0, duration=45.0)
        truth = sim.truth.first_violation("alpha", "bravo", H, V)
        assert truth is not None
        warn = next(c.t for c in obs.levels if c.level == 3)
        assert warn <= truth - rd.start - exp.items[0].args["lead_s"]
        # the bystander, far from both, never shows a traffic level; it ends "clear" (acked as
        # "inject"), after "degraded" while the host had no position for it yet
        seen = [p for _, p in obs.boards_seen["bystander"]]
        assert not {"advisory", "caution", "warning"} & set(seen) and seen[-1] == "clear"


class Rig:
    """One virtual board behind an :class:`Injector`, a real daemon on the injector's pty."""

    def __init__(self, tmp: Path, *, enter: bool = True, timeout_ms: int = 2000) -> None:
        rec = load_recording([DATA / "head-on.nmea"])
        self.bench = VirtualBench(["alpha"], tmp / "boards")
        (tmp / "inject").mkdir(parents=True)
        self.inj = Injector(
            "alpha",
            str(self.bench.boards["alpha"].link),
            tmp / "inject" / "alpha",
            rec.lines["alpha"],
            1.0,
            enter=enter,
            timeout_ms=timeout_ms,
        )
        self.daemon = DaemonChild({"alpha": str(self.inj.link)}, tmp / "events.jsonl")
        self.daemon.wait_ports_up(["alpha"], 30.0)
        self.inj.start()

    def board(self) -> object:
        return self.bench.boards["alpha"].board

    def close(self) -> list[Event]:
        with contextlib.suppress(Exception):
            self.daemon.terminate()
        if self.daemon.running:
            self.daemon.kill()
        events = self.daemon.events()
        self.inj.close()
        self.bench.close()
        return events


@contextlib.contextmanager
def rig(tmp: Path, **kw: object) -> Iterator[Rig]:
    r = Rig(tmp, **kw)  # type: ignore[arg-type]
    try:
        yield r
    finally:
        r.close()


def test_timeout_ends_the_mode_host_quiet_then_gone(tmp_path: Path) -> None:
    """(b) The host stops injecting: the board leaves the mode after its timeout (2 s here) and
    shows "no GPS" (the daemon still sends levels, nothing feeds the GPS); the host vanishes
    altogether: after the alert's ttl (3 s) the board shows "offline"."""
    with rig(tmp_path, timeout_ms=2000) as r:
        b = r.bench
        _wait(lambda: r.inj.pattern_acks >= 2, 15, "acks in injection mode")
        assert b.view("alpha").injecting and b.view("alpha").pattern in ("inject", "degraded")
        r.inj.pause()
        t_pause = time.monotonic()
        _wait(lambda: not b.view("alpha").injecting, 5, "the board to leave the mode")
        took = time.monotonic() - t_pause
        assert took >= 2.0 - 1.05  # not before its timeout (the last line was up to 1 s before the pause)
        _wait(lambda: b.view("alpha").pattern == "nogps", 5, "no GPS")
        # the daemon's commands still arrive and are acked, without a pattern now
        acks = r.inj.plain_acks
        _wait(lambda: r.inj.plain_acks > acks, 5, "plain acks after the mode")
        assert r.inj.left_at is not None
        assert any("left GPS injection mode" in p for p in r.inj.problems())
    # a second board whose host vanishes (no OFF, no relay): timeout ends the mode, ttl shows offline
    with rig(tmp_path / "gone", timeout_ms=4000) as r:
        b = r.bench
        _wait(lambda: r.inj.pattern_acks >= 2, 15, "acks in injection mode")
        r.inj.stop(leave=False)
        t_gone = time.monotonic()
        _wait(lambda: b.view("alpha").pattern == "offline", 6, "offline after the ttl")
        assert b.view("alpha").injecting  # 3 s ttl ran out before the 4 s timeout
        _wait(lambda: not b.view("alpha").injecting, 6, "the board to leave the mode")
        assert time.monotonic() - t_gone >= 4.0 - 1.05
        assert b.view("alpha").pattern == "offline"


def test_reset_ends_the_mode_and_keepalives_do_not_restore_it(tmp_path: Path) -> None:
    """(c) A reset mid-run: the board is out of the mode at once, the host's keep-alives
    ($PSEPG,KEEP, sent every second) do not put it back, the injected lines that follow are
    not its GPS, and the check names the restart."""
    with rig(tmp_path, timeout_ms=5000) as r:
        b = r.bench
        _wait(lambda: r.inj.pattern_acks >= 2, 15, "acks in injection mode")
        fwd_before = b.boards["alpha"].board.lines_injected
        assert fwd_before > 0
        b.reset("alpha")
        assert not b.view("alpha").injecting
        t_reset = time.monotonic()
        _wait(lambda: r.inj.restarted_at is not None, 8, "the injector to see the restart")
        # lines and keep-alives go on for 3 more seconds; the board stays out of the mode
        end = t_reset + 3.0
        while time.monotonic() < end:
            assert not b.view("alpha").injecting
            time.sleep(0.05)
        board = b.boards["alpha"].board
        assert board.lines_injected == 0 and board.lines_fwd == 0
        assert board.cmds_ignored >= 2  # the injected lines: host noise outside the mode
        assert any("restarted" in p for p in r.inj.problems())
        assert b.view("alpha").pattern in ("nogps", "degraded", "offline")


def test_without_the_enter_command_lines_are_not_gps(tmp_path: Path) -> None:
    """(d) The same lines and keep-alives over USB, but never $PSEPG,ON: the board forwards
    none of them, the daemon makes no fix from them (its source is never acquired), the
    acks carry no pattern and the check says the board never entered the mode."""
    with rig(tmp_path, enter=False) as r:
        b = r.bench
        _wait(lambda: r.inj.injected >= 5 and r.inj.plain_acks >= 3, 20, "lines sent and acks")
        board = b.boards["alpha"].board
        assert not board.injecting and board.lines_fwd == 0 and board.lines_injected == 0
        assert board.cmds_ignored >= r.inj.injected - 1  # the last may still be in flight
        assert r.inj.pattern_acks == 0
        assert any("never acknowledged in GPS injection mode" in p for p in r.inj.problems())
        # no GPS on the board, level 0 from the host with "own position unknown": degraded, not clear
        assert b.view("alpha").pattern in ("nogps", "degraded")
    events = r.daemon.events()
    assert not [e for e in events if e.type in ("acquired", "regained") and e.a == "alpha"]
    stats = [json.loads(e.detail or "{}") for e in events if e.type == "source_stats" and e.a == "alpha"]
    assert stats and stats[0]["fixes"] == 0 and stats[0]["lines"] > 0  # it heard the board's own lines


def test_a_board_unplugged_mid_run_is_one_line(tmp_path: Path) -> None:
    """The board's port vanishes while it is being fed (a pulled cable): the injector stops,
    says so in one line, and the check does not wait for the rest of the recording."""
    rec = load_recording([DATA / "head-on.nmea"])
    bench = VirtualBench(["alpha"], tmp_path / "boards")
    (tmp_path / "inject").mkdir()
    inj = Injector(
        "alpha", str(bench.boards["alpha"].link), tmp_path / "inject" / "alpha", rec.lines["alpha"], 1.0
    )
    try:
        inj.start()
        _wait(lambda: inj.injected >= 2, 10, "lines injected")
        with bench.lock:
            bench.boards["alpha"].close()  # the cable: the board's side of its port is gone
        _wait(lambda: inj.error is not None, 10, "the injector to notice")
        assert inj.played.wait(1.0)
        problems = inj.problems()
        assert any(p.startswith("board alpha: its port failed:") and "\n" not in p for p in problems), (
            problems
        )
    finally:
        inj.close()
        bench.close()
