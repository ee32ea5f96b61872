"""The showcase: a simulated encounter played into virtual boards, the real daemon on their ports.

Everything a real installation has is here except the radios: the firmware's
logic on each board (``Replayer`` with ``boards=True``), pseudo-terminals for USB
cables, the daemon reading them, alerts going back, buzzer and LED reacting.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sepmon.apps.daemon import Daemon
from sepmon.apps.replay import Replayer, ReplayLine
from sepmon.apps.virtualboard import BoardView
from sepmon.core.config import Config
from sepmon.core.model import Event
from sepmon.links.sources import SourceSpec
from sepmon.outputs.base import Output
from sepmon.sim import Simulation, simulate


@dataclass
class DemoResult:
    """What the demo saw: events, and each board's pattern changes with their (demo) time."""

    events: list[Event] = field(default_factory=list)
    board_changes: list[tuple[float, str, BoardView]] = field(default_factory=list)
    daemon: Daemon | None = None


def default_encounter(seed: int = 7) -> Simulation:
    """Head-on at 60 m/s each, passing 150 m apart after 60 s, plus a parked bystander."""
    return simulate("head-on", seed=seed, rate=1, bystander=True, duration=110.0)


def _lines(sim: Simulation) -> dict[str, list[ReplayLine]]:
    t0 = sim.records[0].rx_t
    out: dict[str, list[ReplayLine]] = {}
    for rec in sim.records:
        out.setdefault(rec.source, []).append(ReplayLine(rec.rx_t - t0, rec.data))
    return out


async def play(
    sim: Simulation,
    config: Config,
    workdir: Path,
    *,
    speed: float = 4.0,
    events_path: Path | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_board: Callable[[float, str, BoardView], None] | None = None,
    gps_off_s: float = 4.0,
    host_off_s: float = 4.0,
    on_refresh: Callable[[Daemon], None] | None = None,
    outputs: Sequence[Output] = (),
) -> DemoResult:
    """Play ``sim`` into one virtual board per source with the real daemon attached.

    ``on_refresh(daemon)`` is called four times a second while the daemon runs (the
    live view).

    After the recording ends the boards keep running ``gps_off_s`` with a silent
    GPS (they show "no GPS"), then the daemon stops and they run ``host_off_s``
    more (they show "monitor offline" once the last alert's ttl runs out).
    """
    result = DemoResult()
    loop = asyncio.get_running_loop()

    def record_event(ev: Event) -> None:
        result.events.append(ev)
        if on_event is not None:
            on_event(ev)

    def board_changed(t: float, name: str, view: BoardView) -> None:
        # Called from the replay thread: hand over to the loop so output stays in order.
        def note() -> None:
            result.board_changes.append((t, name, view))
            if on_board is not None:
                on_board(t, name, view)

        loop.call_soon_threadsafe(note)

    replayer = Replayer(_lines(sim), workdir, speed=speed, boards=True, hold=True, on_board=board_changed)
    ports = replayer.open()
    specs = [SourceSpec(name=name, url=port, kind="serial") for name, port in ports.items()]
    # Replayed at `speed`, the confirmation counts recorded seconds, as it does live.
    daemon = Daemon(
        config, specs, events_path=events_path, on_event=record_event, outputs=outputs, report_s=1.0 / speed
    )
    result.daemon = daemon
    serve = asyncio.create_task(daemon.serve(install_signals=False))

    async def refresh() -> None:
        while on_refresh is not None and not serve.done():
            on_refresh(daemon)
            await asyncio.sleep(0.25)

    refresher = asyncio.create_task(refresh())
    try:
        replayer.start()
        await asyncio.to_thread(replayer.wait_played)
        await asyncio.sleep(gps_off_s)
        daemon.stop()
        await serve
        await asyncio.sleep(host_off_s)
    finally:
        daemon.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await serve
        await refresher
        await asyncio.to_thread(replayer.close)
    await asyncio.sleep(0)  # let the last board notes run
    return result


def run_demo(
    config: Config,
    *,
    speed: float,
    events_path: Path | None,
    on_event: Callable[[Event], None] | None = None,
    on_board: Callable[[float, str, BoardView], None] | None = None,
    on_refresh: Callable[[Daemon], None] | None = None,
    sim: Simulation | None = None,
    outputs: Sequence[Output] = (),
) -> DemoResult:
    """The whole demo in a temporary directory of ptys; returns what happened (``outputs``: the web view)."""
    sim = sim or default_encounter()
    with tempfile.TemporaryDirectory(prefix="sepmon-demo-") as tmp:
        return asyncio.run(
            play(sim, config, Path(tmp), speed=speed, events_path=events_path, on_event=on_event,
                 on_board=on_board, on_refresh=on_refresh, outputs=outputs)
        )  # fmt: skip
