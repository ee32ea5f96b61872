"""The showcase: a simulated encounter played into virtual boards, the real daemon on their ports.

Everything a real installation has is here except the radios: the firmware's
logic on each board, pseudo-terminals for USB cables, the daemon reading them,
alerts going back, buzzer and LED reacting.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sepmon.config import Config
from sepmon.daemon import Daemon
from sepmon.events import Event
from sepmon.sim import Simulation, simulate
from sepmon.sources import SourceSpec
from sepmon.virtualboard import BoardView, VirtualBoard

POLL_S = 0.002


@dataclass
class DemoResult:
    """What the demo saw: events, and each board's pattern changes with their (demo) time."""

    events: list[Event] = field(default_factory=list)
    board_changes: list[tuple[float, str, BoardView]] = field(default_factory=list)
    daemon: Daemon | None = None


def default_encounter(seed: int = 7) -> Simulation:
    """Head-on at 60 m/s each, passing 150 m apart after 60 s, plus a parked bystander."""
    return simulate("head-on", seed=seed, rate=1, bystander=True, duration=110.0)


async def play(
    sim: Simulation,
    config: Config,
    workdir: Path,
    *,
    speed: float = 3.0,
    events_path: Path | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_board: Callable[[float, str, BoardView], None] | None = None,
    gps_off_s: float = 4.0,
    host_off_s: float = 4.0,
) -> DemoResult:
    """Play ``sim`` into one virtual board per source with the real daemon attached.

    After the recording ends the boards keep running ``gps_off_s`` with a silent
    GPS (they show "no GPS"), then the daemon stops and they run ``host_off_s``
    more (they show "monitor offline" once the last alert's ttl runs out).
    """
    result = DemoResult()
    sources = sorted({r.source for r in sim.records})
    boards = {s: VirtualBoard(s, workdir / s) for s in sources}

    def record_event(ev: Event) -> None:
        result.events.append(ev)
        if on_event is not None:
            on_event(ev)

    specs = [SourceSpec(name=s, url=b.port, kind="serial") for s, b in boards.items()]
    daemon = Daemon(config, specs, events_path=events_path, on_event=record_event)
    result.daemon = daemon
    serve = asyncio.create_task(daemon.serve(install_signals=False))
    last_view: dict[str, BoardView] = {}
    t_start = time.monotonic()
    t0 = sim.records[0].rx_t

    def poll_boards() -> None:
        for name, board in boards.items():
            board.poll()
            view = board.view()
            prev = last_view.get(name)
            if prev is None or (prev.pattern, prev.level) != (view.pattern, view.level):
                last_view[name] = view
                t = time.monotonic() - t_start
                result.board_changes.append((t, name, view))
                if on_board is not None:
                    on_board(t, name, view)

    try:
        for rec in sim.records:
            due = t_start + (rec.rx_t - t0) / speed
            while (now := time.monotonic()) < due:
                poll_boards()
                await asyncio.sleep(min(POLL_S, due - now))
            boards[rec.source].write_gps(rec.data)
        await _spin(poll_boards, gps_off_s)
        daemon.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await serve
        await _spin(poll_boards, host_off_s)
    finally:
        daemon.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await serve
        for board in boards.values():
            board.close()
    return result


async def _spin(poll: Callable[[], None], seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        poll()
        await asyncio.sleep(POLL_S)


def run_demo(
    config: Config,
    *,
    speed: float,
    events_path: Path | None,
    on_event: Callable[[Event], None] | None = None,
    on_board: Callable[[float, str, BoardView], None] | None = None,
    sim: Simulation | None = None,
) -> DemoResult:
    """The whole demo in a temporary directory of ptys; returns what happened."""
    sim = sim or default_encounter()
    with tempfile.TemporaryDirectory(prefix="sepmon-demo-") as tmp:
        return asyncio.run(
            play(sim, config, Path(tmp), speed=speed, events_path=events_path, on_event=on_event,
                 on_board=on_board)
        )  # fmt: skip
