"""The picture: a read-only snapshot of what the monitor sees now, for outputs and views.

The daemon builds one after each update (see ``Daemon.picture``) and hands it to
its outputs (FLARM feed, MQTT, the live console view, the web view to come). It
is made of frozen dataclasses and tuples only, so an output can keep it, compare
it with the previous one or hand it to another thread, and can never change the
monitor through it: outputs read the picture (and the events and fixes they are
given), never the daemon's or the monitor's internals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sepmon.core.model import Fix, Level, PairStatus, TrackState


@dataclass(frozen=True, slots=True)
class TrackEntry:
    """One track: its state at the picture's monitor time and its latest accepted fix.

    ``state`` is dead-reckoned from ``fix`` by at most ``stale_s`` and carries the
    age and whether the track is lost; ``last_clock`` is the receive (clock) time of
    ``fix``, so a view can age the track by its own clock.
    """

    state: TrackState
    fix: Fix
    last_clock: float
    implausible: str = ""  # why its positions are being refused now (an impossible speed), else ""

    @property
    def source(self) -> str:
        """The track's (canonical) source name."""
        return self.state.source


@dataclass(frozen=True, slots=True)
class BoardEntry:
    """What the host knows of the board on one port, and what it last told it.

    ``told_level``/``told_flags`` are the level and flags of the last ``$PSEPA``
    (``told_t`` when it was sent, -inf: never); ``acking`` is False once the board
    stopped acknowledging. Identity and status fields are None until the board
    has sent them.
    """

    source: str
    board_id: str | None = None
    fw_version: str | None = None
    profile: str | None = None
    proto: int | None = None
    status_t: float = -math.inf
    uptime_ms: int | None = None
    lines_dropped: int | None = None
    gps_silent_ms: int | None = None
    acks: int = 0
    acking: bool = True
    bad_lines: int = 0
    told_level: Level = Level.NONE
    told_flags: str = ""
    told_t: float = -math.inf


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One configured input: its link's state and what its ingest counted."""

    name: str
    kind: str
    up: bool
    detail: str
    since: float
    bytes_in: int
    lines: int = 0
    fixes: int = 0
    ignored: int = 0
    rejected: tuple[tuple[str, int], ...] = ()
    devices: tuple[str, ...] = ()  # the sources a link serving several delivers (gpsd: one per receiver)
    why_no_fixes: str = ""  # one line with each drop reason, for a source heard but without a fix

    @property
    def rejected_total(self) -> int:
        """Lines rejected for any reason."""
        return sum(n for _, n in self.rejected)


@dataclass(frozen=True, slots=True)
class Picture:
    """Everything an output may know about the monitor at one moment.

    ``t`` is the host clock when the picture was built, ``monitor_t`` the monitor's
    clock (the latest receive time it has seen) at which ``tracks`` are stated.
    ``tracks`` are in the order the monitor first saw them, ``pairs`` sorted by
    name, ``boards`` and ``sources`` in configuration order.
    """

    t: float
    monitor_t: float
    tracks: tuple[TrackEntry, ...] = ()
    pairs: tuple[PairStatus, ...] = ()
    boards: tuple[BoardEntry, ...] = ()
    sources: tuple[SourceEntry, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    behind_s: float | None = None  # how far behind real time the monitor is; None: it keeps up
    worst_behind_s: float = 0.0  # the worst lag of the current (or last) time behind
    drops: tuple[tuple[str, str, int], ...] = ()  # (source, reason, count) of input refused so far

    def drops_of(self, source: str) -> dict[str, int]:
        """Input refused from ``source`` so far, by reason."""
        return {reason: n for s, reason, n in self.drops if s == source}

    def canonical(self, source: str) -> str:
        """The source name after the configuration's aliases are applied."""
        for alias, name in self.aliases:
            if alias == source:
                return name
        return source

    def track(self, source: str) -> TrackEntry | None:
        """The track of ``source`` (exact name), None when there is none."""
        for entry in self.tracks:
            if entry.state.source == source:
                return entry
        return None

    def states(self) -> tuple[TrackState, ...]:
        """Every track's state (lost ones included, flagged)."""
        return tuple(entry.state for entry in self.tracks)

    def board(self, source: str) -> BoardEntry | None:
        """The board on the port of ``source``, None when it has none."""
        for entry in self.boards:
            if entry.source == source:
                return entry
        return None

    def source(self, name: str) -> SourceEntry | None:
        """The configured input ``name``, None when there is none."""
        for entry in self.sources:
            if entry.name == name:
                return entry
        return None

    def levels_for(self, own: str) -> dict[str, Level]:
        """Each other source's level in its pair with ``own``."""
        return {(p.b if p.a == own else p.a): p.level for p in self.pairs if own in (p.a, p.b)}
