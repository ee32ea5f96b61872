"""The live daemon: links → ingest → monitor → event log, board alerts, outputs, live view.

Everything runs on one asyncio loop; serial ports are read by one thread each
(see ``sepmon.links.sources``) which hand bytes to the loop. A fix is evaluated the
moment its epoch is complete, and a level change goes to the boards at once;
every board also gets its state at least once a second, which doubles as the
host heartbeat its failsafe watches. Outputs and the live view read the
:class:`~sepmon.core.picture.Picture` the daemon builds after each update
(:meth:`Daemon.picture`), never the daemon's or the monitor's internals. Its tracks
and pairs are made when first read; the daemon seals a picture still held before it
changes the monitor (:meth:`Daemon._seal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sepmon.apps.eventlog import BackgroundEventLog
from sepmon.apps.safeio import ThreadExecutor
from sepmon.boardlink.link import BoardLink
from sepmon.core.config import Config
from sepmon.core.errors import SepmonError
from sepmon.core.ingest import NmeaIngest
from sepmon.core.model import Event, Fix, Level, PairStatus
from sepmon.core.monitor import Monitor
from sepmon.core.picture import Lazy, Picture, SourceEntry, TrackEntry
from sepmon.links.base import Feed
from sepmon.links.open import Link, open_link
from sepmon.links.sources import SourceSpec
from sepmon.outputs.base import Output

TICK_S = 0.2
HEARTBEAT_S = 1.0
FULL_TICK_S = 1.0
SHUTDOWN_S = 1.2
HARD_STOP_S = 1.8
"""After a signal, the process leaves by this time even if the loop is still busy with one
long evaluation of a backlog (see ``Daemon._hard_deadline``)."""
"""From SIGTERM to the end of ``serve()``, whatever is queued: links, outputs and the event
log get what is left of this, never more (the issue asks for 2 s)."""
CAUGHT_UP_S = 3.0
"""The monitor is back in real time after this long without a lag over ``behind_s / 2``."""
DROP_QUIET_S = 10.0
"""A burst of drops (per source and reason) ends after this long without one."""


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


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
        report_s: float | None = None,
    ) -> None:
        """``report_s``: the monitor's confirmation period in this clock's seconds (1 s live;
        a replay at N times real speed passes 1/N); None: ``[daemon] report_s``."""
        if not specs:
            raise SepmonError("no sources: give ports on the command line or [[sources]] in the config")
        self.config = config
        self.specs = list(specs)
        self.clock = clock
        self.monitor = Monitor(config, report_s=config.daemon.report_s if report_s is None else report_s)
        self.on_event = on_event
        self.outputs = list(outputs)
        self.feeds = list(feeds)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.log = (
            BackgroundEventLog(events_path, max_events=config.daemon.event_buffer, notify=self._log_notify)
            if events_path is not None
            else None
        )
        self.links: dict[str, Link] = {}
        # Falling behind real time (see _lag) and dropped input (see dropped).
        self.behind = False
        self.lag_s = 0.0  # the latest lag measured
        self.worst_lag_s = 0.0  # the worst lag of the current (or last) time behind
        self._behind_since = 0.0
        self._last_lagging = -math.inf  # clock time of the last lag over behind_s / 2
        self._next_tick = -math.inf  # monotonic time the next tick is due
        self._fix_delay: dict[str, tuple[float, float]] = {}  # source → (least delay, last fix time)
        self.drops: Counter[tuple[str, str]] = Counter()
        self._drop_seen: dict[tuple[str, str], float] = {}
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
        self._sleeping: asyncio.Future[None] | None = None
        self._finished = threading.Event()  # serve() has returned
        self._deadline_armed = False
        self._last_heartbeat = -math.inf
        self._last_full_tick = -math.inf
        self._eval_pending = False
        self._unsealed: list[weakref.ref[Lazy[Any]]] = []  # lazy picture parts not yet made

    # ---- inputs (called on the loop) ------------------------------------------------------

    def _on_data(self, key: str, data: bytes, rx_t: float) -> None:
        self.status[key].bytes_in += len(data)
        lag = self.clock() - rx_t  # rx_t: the host's receive time of the first byte
        if lag >= self._half_behind:
            self._lag(lag, f"input from {key}")
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
        self._seal()
        self._emit(self.monitor.evaluate())

    def inject_fixes(self, fixes: Sequence[Fix]) -> None:
        """Fixes from a link that delivers fixes rather than bytes (gpsd, MQTT peers), as one batch.

        Like one read of a serial port: every fix goes to the tracks, then the pairs are
        evaluated once for all of them. A fix without ``rx_t`` is stamped with the host
        clock. Each fix's delay (host clock minus fix time) is compared with the least
        delay seen from its source: a batch whose every fix is late by more than
        ``[daemon] behind_s`` means the monitor has fallen behind (clock offsets and a
        receiver's own latency cancel out; a source whose time steps back starts afresh).
        """
        if not fixes:
            return
        now = self.clock()
        lag = math.inf
        worst = ""
        delays = self._fix_delay
        for fix in fixes:
            if fix.rx_t is None:
                fix = replace(fix, rx_t=now)
            delay = now - fix.t
            seen = delays.get(fix.source)
            if seen is None or fix.t < seen[1] or delay < seen[0]:
                delays[fix.source] = (delay, fix.t)
                extra = 0.0
            else:
                delays[fix.source] = (seen[0], fix.t)
                extra = delay - seen[0]
            if extra < lag:
                lag, worst = extra, fix.source
            self._fix(fix)
        if lag >= self._half_behind:
            self._lag(lag, f"fixes from {worst}")
        self._seal()
        self._emit(self.monitor.evaluate())

    def inject_fix(self, fix: Fix) -> None:
        """One fix from a link that delivers fixes: ``inject_fixes([fix])`` (prefer batches)."""
        self.inject_fixes((fix,))

    def _on_link_fix(self, key: str, fix: Fix) -> None:
        self.inject_fixes((fix,))

    def _on_link_fixes(self, key: str, fixes: list[Fix]) -> None:
        self.inject_fixes(fixes)  # a gpsd read's fixes: one batch

    def _link_stats(self, name: str) -> dict[str, dict[str, int]]:
        """Per source a link that delivers fixes has given (gpsd: one per device), else empty."""
        stats = getattr(self.links.get(name), "stats", None)
        if not callable(stats):
            return {}
        got: dict[str, dict[str, int]] = stats()
        return got

    # ---- falling behind, dropped input ------------------------------------------------------

    @property
    def _half_behind(self) -> float:
        return self.config.daemon.behind_s * 0.5

    def _lag(self, lag: float, where: str) -> None:
        """A measured lag between real time and what the monitor is working on."""
        self.lag_s = lag
        self._last_lagging = self.clock()
        if self.behind:
            self.worst_lag_s = max(self.worst_lag_s, lag)
        elif lag >= self.config.daemon.behind_s:
            self.behind = True
            self.worst_lag_s = lag
            self._behind_since = self.clock()
            self._emit(
                [
                    Event(
                        t=self.clock(),
                        type="behind",
                        a="daemon",
                        detail=f"the monitor is {lag:.1f} s behind real time ({where}): "
                        "alerts are late; the host is overloaded",
                    )
                ]
            )

    def _check_caught_up(self) -> None:
        if self.behind and self.clock() - self._last_lagging >= CAUGHT_UP_S:
            self.behind = False
            self.lag_s = 0.0
            took = self.clock() - self._behind_since
            self._emit(
                [
                    Event(
                        t=self.clock(),
                        type="caught_up",
                        a="daemon",
                        detail=f"back in real time after {took:.1f} s "
                        f"(at most {self.worst_lag_s:.1f} s behind)",
                    )
                ]
            )

    def dropped(self, source: str, reason: str, count: int = 1) -> None:
        """Input a link or output had to refuse: the one path by which drops become visible.

        ``source`` is the configured source (or peer) the input came from, ``reason`` a
        short word (``overlong``, ``rate_limit``, ``backlog_bytes``, ``size``, ``schema``,
        ...) and ``count`` how many lines, messages or bytes (the reason says which).
        Counted per (source, reason); the first drop of a burst (none for
        ``DROP_QUIET_S`` before) is a ``dropped`` event (event log, console, live view);
        the totals are in the live view and in ``source_stats`` at exit
        (``dropped_<reason>``). Call it on the loop.
        """
        if count <= 0:
            return
        key = (source, reason)
        self.drops[key] += count
        now = time.monotonic()
        last = self._drop_seen.get(key, -math.inf)
        self._drop_seen[key] = now
        if now - last > DROP_QUIET_S:
            self._emit(
                [
                    Event(
                        t=self.clock(),
                        type="dropped",
                        a=source,
                        detail=f"{reason}: {count} dropped ({self.drops[key]} so far)",
                    )
                ]
            )

    def drops_of(self, source: str) -> dict[str, int]:
        """Drops of ``source`` so far, by reason."""
        return {r: n for (s, r), n in self.drops.items() if s == source}

    def _log_notify(self, kind: str, detail: str) -> None:
        """From the event log's writer thread: onto the loop."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._log_notice, kind, detail)

    def _log_notice(self, kind: str, detail: str) -> None:
        type_ = "log_error" if kind == "error" else "log_recovered"
        ev = Event(t=self.clock(), type=type_, a="daemon", detail=detail)
        if kind == "error":
            # Not into the log that failed: to the console and the outputs.
            if self.on_event is not None:
                self.on_event(ev)
            if self.outputs:
                picture = self.picture()
                for out in self.outputs:
                    out.on_event(ev, picture)
        else:
            self._emit([ev])

    @property
    def local_sources(self) -> list[str]:
        """Names of the configured sources (for feeds: names a remote site must not take)."""
        return [s.name for s in self.specs]

    def picture(self) -> Picture:
        """A read-only snapshot of what the monitor sees now: tracks, pairs, boards, sources.

        Tracks, pairs (a ``PairStatus`` per pair: most of the cost, 1,225 at 50 sources) and
        the alerting pairs (the monitor lists them without a record for the others) are made
        when a reader first asks for them, from the monitor as it is now: the daemon seals
        them (:meth:`_seal`) before it next changes the monitor.
        """
        m = self.monitor
        now = m.now

        def tracks() -> tuple[TrackEntry, ...]:
            return tuple(
                TrackEntry(
                    tr.state(now), tr.last, tr.last_clock, tr.implausible_detail if tr.implausible else ""
                )
                for tr in m.tracker.tracks.values()
                if tr.last is not None
            )

        def pairs() -> tuple[PairStatus, ...]:
            return tuple(m.pairs.values())

        def alerting() -> tuple[PairStatus, ...]:
            return tuple(m.pairs_at_least(Level.ADVISORY))

        lazy_tracks, lazy_pairs, lazy_alerting = Lazy(tracks), Lazy(pairs), Lazy(alerting)
        unsealed = self._unsealed
        unsealed += (weakref.ref(lazy_tracks), weakref.ref(lazy_pairs), weakref.ref(lazy_alerting))
        if len(unsealed) > 64:  # many pictures between two changes (a quiet monitor): forget the dropped
            unsealed[:] = [r for r in unsealed if (p := r()) is not None and not p.made]
        sources = []
        for name, st in self.status.items():
            ing = self.ingests[name].stats.get(name)
            dev = self._link_stats(name)
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
                    why_no_fixes=ing.why_no_fixes() if ing and not ing.fixes and ing.heard() else "",
                )
            )
            if dev:  # a gpsd source: what its receivers gave, and their source names
                sources[-1] = replace(
                    sources[-1],
                    lines=sum(c.get("lines", 0) for c in dev.values()),
                    fixes=sum(c.get("fixes", 0) for c in dev.values()),
                    devices=tuple(sorted(d for d in dev if d != name)),
                )
        return Picture(
            t=self.clock(),
            monitor_t=now,
            tracks=lazy_tracks,
            pairs=lazy_pairs,
            alerting=lazy_alerting,
            boards=tuple(b.entry() for b in self.boards.values()),
            sources=tuple(sources),
            aliases=tuple(self.config.aliases.items()),
            behind_s=self.lag_s if self.behind else None,
            worst_behind_s=self.worst_lag_s,
            drops=tuple((s, r, n) for (s, r), n in self.drops.items()),
        )

    def _seal(self) -> None:
        """The monitor is about to change: make the tracks and pairs of every picture still held.

        A picture is usually dropped by the time its outputs return, so there is nothing
        to make; one an output kept keeps the state of its moment, whenever it is read.
        """
        unsealed = self._unsealed
        if unsealed:
            for ref in unsealed:
                part = ref()
                if part is not None:
                    part.seal()
            unsealed.clear()

    def _fix(self, fix: Fix) -> None:
        self._seal()
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
                self.log.write(ev)  # queued for the log's thread: never blocks, never raises
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
        mono = time.monotonic()
        late = mono - self._next_tick if self._next_tick > -math.inf else 0.0  # how late this tick is
        self._next_tick = mono + TICK_S
        if late >= self._half_behind:
            self._lag(late, "event loop")
        now = self.clock()
        self._check_caught_up()
        self._seal()
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
        drops: dict[str, dict[str, int]] = {}
        for (source, reason), n in self.drops.items():
            drops.setdefault(source, {})[f"dropped_{reason}"] = n
        for ing in self.ingests.values():
            for name, st in ing.stats.items():
                counts = {"lines": st.lines, "fixes": st.fixes, "ignored": st.ignored, **st.rejected}
                counts.update(drops.pop(name, {}))
                events.append(Event(t=now, type="source_stats", a=name, detail=json.dumps(counts)))
                if st.fixes == 0 and st.heard():  # one line saying why, each reason counted
                    events.append(Event(t=now, type="no_fixes", a=name, detail=st.why_no_fixes()))
        for key in self.status:  # links that deliver fixes (gpsd): per device source
            for name, c in self._link_stats(key).items():
                counts = {"lines": c.get("lines", 0), "fixes": c.get("fixes", 0), **drops.pop(name, {})}
                events.append(Event(t=now, type="source_stats", a=name, detail=json.dumps(counts)))
        for name, counts in drops.items():  # sources without an ingest (MQTT peers, ...)
            events.append(Event(t=now, type="source_stats", a=name, detail=json.dumps(counts)))
        return events

    # ---- lifecycle ------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask ``serve()`` to return (safe from signal handlers and from other threads).

        On the loop's thread the links stop at once and the tick's sleep is cut short:
        a backlog of reads waiting on the loop (a flooding gpsd) is not worked off first,
        so SIGTERM ends the daemon within ``SHUTDOWN_S`` of the loop getting to it.
        """
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                on_loop = asyncio.get_running_loop() is loop
            except RuntimeError:
                on_loop = False
            if not on_loop:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(self.stop)
                return
        self._stop.set()
        for link in self.links.values():
            link.stop()  # never waits; no more reads are handed to the loop
        sleeping = self._sleeping
        if sleeping is not None and not sleeping.done():
            sleeping.set_result(None)

    async def serve(self, *, install_signals: bool = True) -> None:
        """Open every link, run until stopped, close everything (within ``SHUTDOWN_S``)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        # Blocking calls asyncio makes for us (DNS lookups) and pyserial-URL writes run in
        # daemon threads: one that never returns cannot hold the exit up.
        loop.set_default_executor(ThreadExecutor())
        previous: dict[int, Any] = {}
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError):  # not the main thread: the caller stops us
                    previous[sig] = signal.signal(sig, self._on_signal)
        try:
            await self._serve(loop)
        finally:
            self._finished.set()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: object) -> None:
        """SIGINT/SIGTERM (a Python handler: it runs between bytecodes even while the loop is
        busy): ask the loop to stop and, once, arm the hard deadline."""
        if not self._deadline_armed:
            self._deadline_armed = True
            threading.Thread(target=self._hard_deadline, name="stop-deadline", daemon=True).start()
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self.stop)

    def _hard_deadline(self) -> None:
        """The loop may be inside one long evaluation of a flood's backlog when SIGTERM comes:
        if the orderly stop has not finished by ``HARD_STOP_S``, say so and leave at once."""
        if self._finished.wait(HARD_STOP_S):
            return
        log = self.log
        unwritten = log.close(0.1) if log is not None else 0
        with contextlib.suppress(OSError):
            os.write(
                2,
                f"sepmon run: the monitor was still busy {HARD_STOP_S} s after the signal (a backlog): "
                f"exiting now; {unwritten} event(s) not written\n".encode(),
            )
        os._exit(0)

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        for out in self.outputs:
            await out.start(self)
        for feed in self.feeds:
            await feed.start(self)
        for spec in self.specs:
            link = open_link(
                spec,
                loop,
                self._on_data,
                self._on_state,
                self._on_link_fix,
                on_event=self.report,
                on_drop=self.dropped,
                on_fixes=self._on_link_fixes,
            )
            self.links[spec.name] = link
            link.start()
        try:
            while not self._stop.is_set():
                self._tick()
                # A plain future, not wait_for(event.wait()): stop() wakes it in one step.
                sleeping = self._sleeping = loop.create_future()
                timer = loop.call_later(TICK_S, _wake, sleeping)
                try:
                    await sleeping
                finally:
                    timer.cancel()
                    self._sleeping = None
        finally:
            await self._shutdown(time.monotonic() + SHUTDOWN_S)

    async def _shutdown(self, deadline: float) -> None:
        """Close everything by ``deadline`` (monotonic), whatever is stuck or queued."""
        for link in self.links.values():
            link.stop()  # never waits
        for link in self.links.values():
            join = getattr(link, "join", None)
            if join is not None:  # a serial reader wakes within its 0.2 s read timeout
                join(max(0.0, min(0.3, deadline - time.monotonic())))
        for ing in self.ingests.values():
            for fix in ing.flush():
                self._fix(fix)
        self._seal()
        self._emit(self.monitor.evaluate())
        self._emit(self._stats_events())
        closers = [(out.name, out.stop) for out in self.outputs]
        closers += [(getattr(feed, "name", type(feed).__name__), feed.stop) for feed in self.feeds]
        for name, stop in closers:
            left = deadline - time.monotonic() - 0.3  # keep some for the event log
            try:
                await asyncio.wait_for(stop(), max(0.05, left))
            except TimeoutError:
                self._emit([Event(t=self.clock(), type="stop_timeout", a=name, detail="left running")])
            except Exception as exc:  # an output must not keep the daemon from ending
                self._emit([Event(t=self.clock(), type="stop_timeout", a=name, detail=f"stop failed: {exc}")])
        if self.log is not None:
            log, self.log = self.log, None  # a transport's connection_lost may still call in
            unwritten = log.close(max(0.1, deadline - time.monotonic()))
            if unwritten and self.on_event is not None:
                self.on_event(
                    Event(
                        t=self.clock(),
                        type="log_error",
                        a="daemon",
                        detail=f"event log {log.path}: {unwritten} event(s) could not be written",
                    )
                )
