"""The picture: a read-only snapshot of what the monitor sees now, for outputs and views.

The daemon builds one after each update (see ``Daemon.picture``) and hands it to
its outputs (FLARM feed, MQTT, the live console view, the web view). It is made of
frozen dataclasses and tuples only, so an output can keep it, compare it with the
previous one or hand it to another thread, and can never change the monitor
through it: outputs read the picture (and the events and fixes they are given),
never the daemon's or the monitor's internals.

Its costly parts (``tracks``, ``pairs``: a record per pair, 1,225 at 50 sources,
and ``alerting``) may be :class:`Lazy`: made when first read, so an output that
reads only ``sources`` or ``boards`` (MQTT's board health) never pays for them. Whoever makes
a lazy part seals it (:meth:`Lazy.seal`) before what it reads changes, so a reader
sees the same values whenever it reads them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from sepmon.core.model import Fix, Level, PairStatus, TrackState

T = TypeVar("T")


class Lazy(Generic[T]):
    """A tuple made by ``make`` when first read, once; or a tuple given as it is.

    The maker of a lazy part calls :meth:`seal` before anything ``make`` reads
    changes (the daemon: before each call that changes the monitor), so the tuple
    is always the state at the picture's moment, however late it is read. No lock
    (the core starts no threads): a reader on another thread may make it too, and
    what it made is kept only if nothing was stored first; the seal stores before
    the monitor changes, so whatever was stored was made from the picture's moment.
    """

    __slots__ = ("__weakref__", "_make", "_value")

    def __init__(self, make: Callable[[], tuple[T, ...]] | tuple[T, ...]) -> None:
        if isinstance(make, tuple):
            self._value: tuple[T, ...] | None = make
            self._make: Callable[[], tuple[T, ...]] | None = None
        else:
            self._value = None
            self._make = make

    @property
    def made(self) -> bool:
        """True once the tuple exists (given, read or sealed)."""
        return self._value is not None

    def get(self) -> tuple[T, ...]:
        """The tuple, made now if it is not yet."""
        value = self._value
        if value is not None:
            return value
        make = self._make
        if make is not None:
            made = tuple(make())
            if self._value is None:
                self._value = made
            self._make = None  # what it read may now change; let it go (after the value is stored)
        value = self._value
        assert value is not None
        return value

    def seal(self) -> None:
        """Make the tuple now: what it is made from is about to change."""
        self.get()

    def __iter__(self) -> Iterator[T]:
        return iter(self.get())

    def __len__(self) -> int:
        return len(self.get())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Lazy):
            return self.get() == other.get()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.get())

    def __repr__(self) -> str:
        return repr(self.get())


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


@dataclass(frozen=True, slots=True, init=False)
class Picture:
    """Everything an output may know about the monitor at one moment.

    ``t`` is the host clock when the picture was built, ``monitor_t`` the monitor's
    clock (the latest receive time it has seen) at which ``tracks`` are stated.
    ``tracks`` are in the order the monitor first saw them, ``pairs`` sorted by
    name, ``boards`` and ``sources`` in configuration order. ``tracks`` and
    ``pairs`` are given as tuples or as a :class:`Lazy` (made on first read);
    ``alerting`` too, else it is taken from ``pairs``.
    """

    t: float
    monitor_t: float
    _tracks: Lazy[TrackEntry]
    _pairs: Lazy[PairStatus]
    _alerting: Lazy[PairStatus]
    boards: tuple[BoardEntry, ...]
    sources: tuple[SourceEntry, ...]
    aliases: tuple[tuple[str, str], ...]
    behind_s: float | None  # how far behind real time the monitor is; None: it keeps up
    worst_behind_s: float  # the worst lag of the current (or last) time behind
    drops: tuple[tuple[str, str, int], ...]  # (source, reason, count) of input refused so far

    def __init__(
        self,
        t: float,
        monitor_t: float,
        tracks: tuple[TrackEntry, ...] | Lazy[TrackEntry] = (),
        pairs: tuple[PairStatus, ...] | Lazy[PairStatus] = (),
        boards: tuple[BoardEntry, ...] = (),
        sources: tuple[SourceEntry, ...] = (),
        aliases: tuple[tuple[str, str], ...] = (),
        behind_s: float | None = None,
        worst_behind_s: float = 0.0,
        drops: tuple[tuple[str, str, int], ...] = (),
        alerting: tuple[PairStatus, ...] | Lazy[PairStatus] | None = None,
    ) -> None:
        put = object.__setattr__  # frozen: set once, here
        put(self, "t", t)
        put(self, "monitor_t", monitor_t)
        put(self, "_tracks", tracks if isinstance(tracks, Lazy) else Lazy(tracks))
        all_pairs = pairs if isinstance(pairs, Lazy) else Lazy(pairs)
        put(self, "_pairs", all_pairs)
        if alerting is None:  # from the pairs (the Lazy, not self: no cycle keeps a picture alive)
            alerting = Lazy(lambda: tuple(p for p in all_pairs.get() if p.level >= Level.ADVISORY))
        put(self, "_alerting", alerting if isinstance(alerting, Lazy) else Lazy(alerting))
        put(self, "boards", boards)
        put(self, "sources", sources)
        put(self, "aliases", aliases)
        put(self, "behind_s", behind_s)
        put(self, "worst_behind_s", worst_behind_s)
        put(self, "drops", drops)

    @property
    def tracks(self) -> tuple[TrackEntry, ...]:
        """Every track with a fix (lost ones included, flagged), made on first read."""
        return self._tracks.get()

    @property
    def pairs(self) -> tuple[PairStatus, ...]:
        """Every evaluated pair's status, made on first read."""
        return self._pairs.get()

    @property
    def alerting(self) -> tuple[PairStatus, ...]:
        """The pairs at advisory or above (what a view draws), in the order of ``pairs``."""
        return self._alerting.get()

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
