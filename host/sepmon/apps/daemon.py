"""The live daemon: links → ingest → monitor → event log, board alerts, outputs, live view.

Everything runs on one asyncio loop; serial ports are read by one thread each
(see ``sepmon.links.sources``) which hand bytes to the loop. A fix is evaluated the
moment its epoch is complete, and a level change goes to the boards at once;
every board also gets its state at least once a second, which doubles as the
host heartbeat its failsafe watches. Outputs and the live view read the
:class:`~sepmon.core.picture.Picture` the daemon builds after each update
(:meth:`Daemon.picture`), never the daemon's or the monitor's internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sepmon.apps.eventlog import EventLog
from sepmon.boardlink.link import BoardLink
from sepmon.core.config import Config
from sepmon.core.errors import SepmonError
from sepmon.core.ingest import NmeaIngest
from sepmon.core.model import Event, Fix
from sepmon.core.monitor import Monitor
from sepmon.core.picture import Picture, SourceEntry, TrackEntry
from sepmon.links.base import Feed
from sepmon.links.open import Link, open_link
from sepmon.links.sources import SourceSpec
from sepmon.outputs.base import Output

TICK_S = 0.2
HEARTBEAT_S = 1.0
FULL_TICK_S = 1.0


@dataclass
class LinkStatus:
    """What the live view shows about one configured input."""

    spec: SourceSpec
    up: bool = False
    detail: str = "not opened yet"
    since: float = field(default_factory=time.time)
    bytes_in: int = 0


class Daemon:
    """One run of ``sepmon run``. ``serve()`` returns when ``stop()`` is called."""

    def __init__(
        self,
        config: Config,
        specs: Sequence[SourceSpec],
        *,
        events_path: str | Path | None = None,
        on_event: Callable[[Event], None] | None = None,
        clock: Callable[[], float] = time.time,
        outputs: Sequence[Output] = (),
        feeds: Sequence[Feed] = (),
    ) -> None:
        if not specs:
            raise SepmonError("no sources: give ports on the command line or [[sources]] in the config")
        self.config = config
        self.specs = list(specs)
        self.clock = clock
        self.monitor = Monitor(config)
        self.on_event = on_event
        self.outputs = list(outputs)
        self.feeds = list(feeds)
        self.log = EventLog(events_path) if events_path is not None else None
        self.log_errors = 0
        self.links: dict[str, Link] = {}
        self.status = {s.name: LinkStatus(s) for s in self.specs}
        self.boards = {s.name: BoardLink(s.name) for s in self.specs if s.board}
        self.ingests = {
            s.name: NmeaIngest(
                s.name,
                require_checksum=config.ingest.require_checksum,
                max_line=config.ingest.max_line,
                on_proprietary=self._on_proprietary,
                trust_tags=s.trust_tags,
            )
            for s in self.specs
        }
        self._stop = asyncio.Event()
        self._last_heartbeat = -math.inf
        self._last_full_tick = -math.inf
        self._eval_pending = False

    # ---- inputs (called on the loop) ------------------------------------------------------

    def _on_data(self, key: str, data: bytes, rx_t: float) -> None:
        self.status[key].bytes_in += len(data)
        fixes = self.ingests[key].feed(data, rx_t)
        if fixes:
            for fix in fixes:
                self._fix(fix)
            self._evaluate_soon()

    def _evaluate_soon(self) -> None:
        """Evaluate once the reads already waiting on the loop are in: one evaluation for all of them.

        Ports hand their bytes over one callback each; evaluating in each would cost
        O(sources) per port and, under load, make every read wait for the evaluations
        of every port queued before it. ``call_soon`` runs after the callbacks already
        queued, so a quiet loop evaluates at once and a busy one once per round.
        """
        if not self._eval_pending:
            self._eval_pending = True
            asyncio.get_running_loop().call_soon(self._evaluate_now)

    def _evaluate_now(self) -> None:
        self._eval_pending = False
        self._emit(self.monitor.evaluate())

    def inject_fix(self, fix: Fix) -> None:
        """A fix from a source that delivers fixes rather than bytes (gpsd, MQTT peers)."""
        if fix.rx_t is None:
            fix = replace(fix, rx_t=self.clock())
        self._fix(fix)
        self._emit(self.monitor.evaluate())

    def _on_link_fix(self, key: str, fix: Fix) -> None:
        self.inject_fix(fix)

    @property
    def local_sources(self) -> list[str]:
        """Names of the configured sources (for feeds: names a remote site must not take)."""
        return [s.name for s in self.specs]

    def picture(self) -> Picture:
        """A read-only snapshot of what the monitor sees now: tracks, pairs, boards, sources."""
        m = self.monitor
        now = m.now
        tracks = tuple(
            TrackEntry(tr.state(now), tr.last, tr.last_clock)
            for tr in m.tracker.tracks.values()
            if tr.last is not None
        )
        sources = []
        for name, st in self.status.items():
            ing = self.ingests[name].stats.get(name)
            sources.append(
                SourceEntry(
                    name=name,
                    kind=st.spec.kind,
                    up=st.up,
                    detail=st.detail,
                    since=st.since,
                    bytes_in=st.bytes_in,
                    lines=ing.lines if ing else 0,
                    fixes=ing.fixes if ing else 0,
                    ignored=ing.ignored if ing else 0,
                    rejected=tuple(sorted((str(k), v) for k, v in ing.rejected.items())) if ing else (),
                )
            )
        return Picture(
            t=self.clock(),
            monitor_t=now,
            tracks=tracks,
            pairs=tuple(m.pairs.values()),
            boards=tuple(b.entry() for b in self.boards.values()),
            sources=tuple(sources),
            aliases=tuple(self.config.aliases.items()),
        )

    def _fix(self, fix: Fix) -> None:
        self._emit(self.monitor.on_fix(fix, evaluate=False))
        for out in self.outputs:
            out.on_fix(fix)

    def _on_proprietary(self, source: str, line: str) -> None:
        board = self.boards.get(source)
        if board is not None:
            self._emit(board.on_line(line, self.clock()))

    def _on_state(self, key: str, up: bool, detail: str) -> None:
        st = self.status[key]
        changed = st.up != up or (not up and detail != st.detail)
        st.up, st.detail, st.since = up, detail, self.clock()
        if changed:
            self._emit([Event(t=self.clock(), type="port_up" if up else "port_down", a=key, detail=detail)])
        board = self.boards.get(key)
        if up and board is not None:
            self._send_alert(key)  # a freshly opened board hears from us at once

    # ---- outputs --------------------------------------------------------------------------

    def report(self, event: Event) -> None:
        """Log an event from an output or extension (link errors, peers, ...)."""
        self._emit([event])

    def _emit(self, events: list[Event]) -> None:
        notify: set[str] = set()
        picture = self.picture() if events and self.outputs else None
        for ev in events:
            if self.log is not None:
                try:
                    self.log.write(ev)
                except SepmonError as exc:
                    # Keep alerting whatever the disk does; say so loudly, once per burst.
                    self.log_errors += 1
                    if self.on_event is not None and self.log_errors in (1, 10, 100, 1000):
                        self.on_event(Event(t=ev.t, type="log_error", a="daemon", detail=str(exc)))
            if self.on_event is not None:
                self.on_event(ev)
            if picture is not None:
                for out in self.outputs:
                    out.on_event(ev, picture)
            if ev.type == "level":
                notify.add(ev.a)
                if ev.b is not None:
                    notify.add(ev.b)
            elif ev.type in ("acquired", "lost", "regained"):
                notify.update(self.boards)  # the degraded flags of any board may change
        for name in self.boards:
            if self.config.canonical(name) in notify:  # a board on an alias port is that source's board
                self._send_alert(name)

    def _send_alert(self, name: str) -> None:
        link = self.links.get(name)
        if link is None:
            return
        threat = self.monitor.threat_for(self.config.canonical(name))
        data = self.boards[name].alert(threat, self.clock())
        link.write(data)

    def _tick(self) -> None:
        now = self.clock()
        if now - self._last_full_tick >= FULL_TICK_S:
            # All pairs, so held levels decay: once a second, as analyze does.
            self._last_full_tick = now
            self._emit(self.monitor.tick(now))
        else:
            self._emit(self.monitor.check(now))
        if self.outputs:
            picture = self.picture()
            for out in self.outputs:
                out.on_tick(now, picture)
        if now - self._last_heartbeat >= HEARTBEAT_S:
            self._last_heartbeat = now
            for name, board in self.boards.items():
                self._send_alert(name)
                self._emit(board.check(now))

    def _stats_events(self) -> list[Event]:
        """One ``source_stats`` event per source: what was read and rejected, for the record."""
        now = self.clock()
        events = []
        for ing in self.ingests.values():
            for name, st in ing.stats.items():
                counts = {"lines": st.lines, "fixes": st.fixes, "ignored": st.ignored, **st.rejected}
                events.append(Event(t=now, type="source_stats", a=name, detail=json.dumps(counts)))
        return events

    # ---- lifecycle ------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask ``serve()`` to return (safe from signal handlers)."""
        self._stop.set()

    async def serve(self, *, install_signals: bool = True) -> None:
        """Open every link, run until stopped, close everything."""
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self.stop)
        for out in self.outputs:
            await out.start(self)
        for feed in self.feeds:
            await feed.start(self)
        for spec in self.specs:
            link = open_link(
                spec, loop, self._on_data, self._on_state, self._on_link_fix, on_event=self.report
            )
            self.links[spec.name] = link
            link.start()
        try:
            while not self._stop.is_set():
                self._tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), TICK_S)
        finally:
            for link in self.links.values():
                link.stop()  # a serial reader wakes within its 0.2 s read timeout
            for ing in self.ingests.values():
                for fix in ing.flush():
                    self._fix(fix)
            self._emit(self.monitor.evaluate())
            self._emit(self._stats_events())
            for out in self.outputs:
                await out.stop()
            for feed in self.feeds:
                await feed.stop()
            if self.log is not None:
                log, self.log = self.log, None  # a transport's connection_lost may still call in
                with contextlib.suppress(SepmonError):
                    log.close()
