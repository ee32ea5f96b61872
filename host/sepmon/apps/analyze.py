"""Offline run of the whole pipeline over recorded NMEA: files → ingest → monitor → outputs.

Deterministic and as fast as the machine allows: no sleeping, time comes from
the recording (TAG block receive times, else fix times).
"""

from __future__ import annotations

import csv
import datetime
import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO

from sepmon.apps.eventlog import EventLog
from sepmon.core.config import Config
from sepmon.core.errors import SepmonError
from sepmon.core.ingest import NmeaIngest
from sepmon.core.model import Event, Fix, PairStatus, SourceStats
from sepmon.core.monitor import Monitor
from sepmon.core.track import clock_time

CHUNK = 1 << 20
TRACK_COLUMNS = ("t", "source", "lat", "lon", "alt_m", "sog_mps", "cog_deg", "quality", "hdop")


@dataclass
class AnalysisResult:
    """What an analysis found: the events, per-source ingest stats, per-pair status."""

    events: list[Event] = field(default_factory=list)
    stats: dict[str, SourceStats] = field(default_factory=dict)
    pairs: dict[tuple[str, str], PairStatus] = field(default_factory=dict)
    fixes: int = 0


def _file_fixes(
    path: Path, config: Config, stats: dict[str, SourceStats], default_date: datetime.date | None
) -> Iterator[Fix]:
    ingest = NmeaIngest(
        path.stem,
        require_checksum=config.ingest.require_checksum,
        max_line=config.ingest.max_line,
        default_date=default_date,
    )
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally, generator body
    except OSError as exc:
        raise SepmonError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        while True:
            try:
                chunk = fh.read(CHUNK)
            except OSError as exc:
                raise SepmonError(f"{path}: read failed: {exc.strerror or exc}") from None
            if not chunk:
                break
            yield from ingest.feed(chunk)
        yield from ingest.flush()
    finally:
        fh.close()
        for name, st in ingest.stats.items():
            if name in stats:
                _merge_stats(stats[name], st)
            else:
                stats[name] = st


def _merge_stats(into: SourceStats, other: SourceStats) -> None:
    """One source recorded in several files: add its counters up."""
    for f in fields(SourceStats):
        a, b = getattr(into, f.name), getattr(other, f.name)
        if isinstance(a, Counter):
            a.update(b)
        else:
            setattr(into, f.name, a + b)


def _fmt(v: float | None) -> str:
    return "" if v is None or not math.isfinite(v) else f"{v:.7g}"


def track_row(t: float, source: str, fix: Fix) -> tuple[object, ...]:
    """One row of the tracks CSV (``TRACK_COLUMNS``): ``t`` the fix's clock time, ``source`` canonical."""
    return (
        f"{t:.3f}",
        source,
        f"{fix.lat:.7f}",
        f"{fix.lon:.7f}",
        _fmt(fix.alt_m),
        _fmt(fix.sog_mps),
        _fmt(fix.cog_deg),
        fix.quality,
        _fmt(fix.hdop),
    )


def run_analysis(
    paths: Sequence[str | Path],
    config: Config,
    *,
    events_out: str | Path | None = None,
    tracks_out: str | Path | None = None,
    on_event: Callable[[Event], None] | None = None,
    tick_s: float = 1.0,
    batch_s: float = 0.1,
    default_date: datetime.date | None = None,
) -> AnalysisResult:
    """Run recordings through the monitor; write events JSONL / tracks CSV when asked.

    ``default_date`` dates the epochs of a recording that has no date of its own (no
    RMC or ZDA date, no TAG ``c:``); without it they get a relative time base (see
    :meth:`~sepmon.core.epoch.EpochAssembler.flush`).  A source that ends without any
    fix gets a ``no_fixes`` event saying why.
    """
    files = [Path(p) for p in paths]
    for p in files:
        if not p.is_file():
            raise SepmonError(f"{p}: no such file" if not p.exists() else f"{p}: not a regular file")
    result = AnalysisResult()
    # Deferred: the monitor queues each batch's evaluation and runs a second's worth in
    # one numpy pass at every tick (same events, in the same order, as evaluating each).
    monitor = Monitor(config, defer=True)
    log = EventLog(events_out, append=False) if events_out is not None else None
    tracks_fh: IO[str] | None = None
    writer = None
    if tracks_out is not None:
        try:
            tracks_fh = open(tracks_out, "w", newline="", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise SepmonError(f"cannot write {tracks_out}: {exc.strerror or exc}") from None
        writer = csv.writer(tracks_fh)
        writer.writerow(TRACK_COLUMNS)

    def write_track(row: tuple[object, ...]) -> None:
        assert writer is not None
        try:
            writer.writerow(row)
        except OSError as exc:  # a full disk, /dev/full: one line, not an internal error
            raise SepmonError(f"cannot write {tracks_out}: {exc.strerror or exc}") from None

    def emit(events: list[Event]) -> None:
        for ev in events:
            result.events.append(ev)
            if log is not None:
                log.write(ev)
            if on_event is not None:
                on_event(ev)

    try:
        streams = [_file_fixes(p, config, result.stats, default_date) for p in files]
        next_tick = next_eval = -math.inf
        now = 0.0
        for fix in heapq.merge(*streams, key=clock_time):
            now = clock_time(fix)
            if now >= next_eval:
                # Fixes within one batch window are evaluated together, as the live
                # daemon evaluates the fixes of one read together.
                monitor.evaluate()
                next_eval = now + batch_s
            if now >= next_tick:
                if math.isfinite(next_tick):
                    monitor.tick(now)
                    emit(monitor.flush())
                next_tick = math.floor(now / tick_s) * tick_s + tick_s
            result.fixes += 1
            monitor.on_fix(fix, evaluate=False)
            if writer is not None:
                src = config.canonical(fix.source)
                write_track(track_row(now, src, fix))
        monitor.evaluate()
        emit(monitor.flush())
        emit(
            [
                Event(now, "no_fixes", config.canonical(name), detail=st.why_no_fixes())
                for name, st in sorted(result.stats.items())
                if st.fixes == 0 and st.heard()
            ]
        )
    finally:
        if log is not None:
            log.close()
        if tracks_fh is not None:
            try:
                tracks_fh.close()
            except OSError as exc:  # the last buffered rows did not fit
                raise SepmonError(f"cannot write {tracks_out}: {exc.strerror or exc}") from None
    result.pairs = monitor.pairs
    return result


def read_recording(
    path: str | Path,
    ingest: NmeaIngest | None = None,
    chunk_size: int = 1 << 16,
) -> Iterator[Fix]:
    """Fixes of a recorded NMEA file, in order; the default source is the file's stem.

    Pass an ``ingest`` to choose its options and read its ``stats`` afterwards.
    """
    path = Path(path)
    ing = ingest if ingest is not None else NmeaIngest(path.stem)
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            yield from ing.feed(chunk)
    yield from ing.flush()
