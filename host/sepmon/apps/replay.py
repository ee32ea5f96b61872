"""Recordings played into virtual serial ports: the daemon cannot tell them from boards.

Loading (:func:`load_recording`): every file is read line by line.

* A line with a TAG block (``\\s:<source>,c:<time>*hh\\...``, fields in any order)
  belongs to its ``s:`` source (the file stem when there is none) and is due at its
  ``c:`` receive time.  A TAG block that fails its checksum or cannot be parsed
  makes the line unusable (counted in ``Recording.bad_lines``).
* A line without one belongs to the source named after the file stem.
* Per source, timing comes from the first of: ``c:`` times (a line without one
  goes with the line before it); the fix times in the sentences (UTC time of
  GGA/RMC/GNS/GLL, the date from RMC; a line without a time goes with the line
  before it, midnight wraps are followed); a fixed interval of
  :data:`DEFAULT_LINE_INTERVAL_S` per line.  Times never go backwards within a
  source (a step back is clamped, so the order of the file is kept).
* Sources with absolute times (``c:``, or fix times with a date) share one
  time axis, which starts at the earliest of them; a source with only relative
  times (fix times without a date, or the fixed interval) starts with the replay.
* What goes on the wire is the line without its TAG block, with its original
  terminator (CRLF added to a final unterminated line): a port carries what a
  receiver sends, including any damage the recording holds.

Playing (:class:`Replayer`): one pty pair per source, made raw (no echo, no line
editing), published as a symlink ``DIR/<source>`` that survives ``unplug`` /
``replug``.  Each line is written at ``start + t / speed`` on the monotonic clock
(within a millisecond or two); ``speed=0`` means no pacing: every line is written
as soon as the port has room, waiting for the reader instead of dropping.  Bytes
the other side sends (``$PSEPA`` heartbeats from the daemon) are read and
discarded, so a writer never blocks on us.

Like a USB-serial adapter, a port nobody reads keeps only a short backlog: data
waiting unread for more than :data:`STALE_S` is discarded, so a daemon opening
the port late gets current lines, not a burst of old ones (not with ``speed=0``).

With ``boards=True`` each port is a :class:`~sepmon.apps.virtualboard.VirtualBoard`:
the recording feeds the firmware's GPS UART, and the daemon sees the board's
``$PSEPI``/``$PSEPS`` and drives its alert patterns with ``$PSEPA``.  A
recording made from real boards holds their ``$PSEP`` lines too; those are not
fed to a virtual board (it sends its own), but go out as recorded without boards.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import shutil
import struct
import tempfile
import termios
import threading
import time
import tty
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from sepmon.apps.safeio import read_regular
from sepmon.apps.virtualboard import BoardView, VirtualBoard
from sepmon.core.epoch import day_number, time_of_day
from sepmon.core.errors import SepmonError
from sepmon.core.nmea import FIELD, Reject, parse_line
from sepmon.core.tagblock import parse_tag_block

DEFAULT_LINE_INTERVAL_S = 0.1  # plain files without any fix time: 10 lines a second
LOOP_GAP_S = 1.0  # recording seconds between the last line and the next pass with loop=True
STALE_S = 0.5  # unread backlog older than this is discarded (nobody has the port open)
BOARD_POLL_S = 0.002  # virtual boards run their firmware step this often
IDLE_POLL_S = 0.02  # ptys without firmware only need draining and backlog checks
DRAIN_S = 0.5  # at the end, wait up to this long for readers to take the last lines

_TIME_TYPES = {kind: FIELD[kind]["timestamp"] for kind in ("GGA", "RMC", "GNS", "GLL")}
_RMC_DATE = FIELD["RMC"]["datestamp"]


class ReplayLine(NamedTuple):
    """One line to play: ``t`` seconds after the start (at speed 1), ``data`` as on the wire."""

    t: float
    data: bytes


@dataclass
class Recording:
    """Lines to play per source, and what loading found.

    ``start`` is the unix time of ``t == 0`` when any source had absolute times.
    """

    lines: dict[str, list[ReplayLine]] = field(default_factory=dict)
    start: float | None = None
    bad_lines: int = 0

    @property
    def duration(self) -> float:
        """Seconds (at speed 1) from the start to the last line."""
        return max((ls[-1].t for ls in self.lines.values() if ls), default=0.0)

    @property
    def line_count(self) -> int:
        """Lines over all sources."""
        return sum(len(ls) for ls in self.lines.values())


# ---- loading ------------------------------------------------------------------------------


def _fix_time(data: bytes) -> tuple[float | None, int | None]:
    """(seconds of the day, days since 1970 or None) of a checksum-valid timed sentence."""
    s = parse_line(data.rstrip(b"\r\n"))
    if isinstance(s, Reject):
        return None, None
    kind, _, fields = s  # unpacked: mypy does not narrow Sentence | Reject to Sentence
    if kind not in _TIME_TYPES:
        return None, None
    idx = _TIME_TYPES[kind]
    tod = time_of_day(fields[idx]) if idx < len(fields) else None
    if tod is None:
        return None, None
    day = day_number(fields[_RMC_DATE]) if kind == "RMC" and len(fields) > _RMC_DATE else None
    return tod, day


def _fill(times: list[float | None]) -> list[float]:
    """Known times carried forward (and the first one back to the start), never decreasing."""
    first = next(t for t in times if t is not None)
    out: list[float] = []
    cur = first
    for t in times:
        if t is not None:
            cur = max(t, cur)  # a clock step back keeps the file's order
        out.append(cur)
    return out


def _timing(rx: list[float | None], datas: list[bytes], line_interval: float) -> tuple[list[float], bool]:
    """Times of one source's lines and whether they are unix times (see the module docstring)."""
    if any(t is not None for t in rx):
        return _fill(rx), True
    tods: list[float | None] = []
    day_at: tuple[int, float] | None = None  # (unix day, unwrapped seconds) of the first dated line
    wraps = 0
    prev: float | None = None
    for data in datas:
        tod, day = _fix_time(data)
        if tod is None:
            tods.append(None)
            continue
        if prev is not None and tod < prev - 43200:
            wraps += 1  # past midnight
        prev = tod
        u = tod + 86400 * wraps
        tods.append(u)
        if day is not None and day_at is None:
            day_at = (day, u)
    if any(t is not None for t in tods):
        filled = _fill(tods)
        if day_at is None:
            return filled, False
        day, u = day_at
        offset = (day - u // 86400) * 86400.0  # that line's unwrapped day is its date
        return [t + offset for t in filled], True
    return [i * line_interval for i in range(len(datas))], False


def _read_file(path: Path) -> bytes:
    # Non-blocking and regular files only: a named pipe given as a recording is refused
    # at once instead of hanging replay.
    return read_regular(path, "recording")


def load_recording(
    paths: Sequence[str | Path], *, line_interval: float = DEFAULT_LINE_INTERVAL_S
) -> Recording:
    """Read recordings (TAG-blocked and/or plain NMEA) into lines per source; see the module docstring."""
    if not paths:
        raise SepmonError("no recording given")
    if not (math.isfinite(line_interval) and line_interval > 0):
        raise SepmonError(f"line interval must be a positive number of seconds, got {line_interval!r}")
    rec = Recording()
    per_source: dict[str, bool] = {}  # source -> its times are unix times
    origin: dict[str, Path] = {}
    for p in (Path(x) for x in paths):
        if p.is_dir():
            raise SepmonError(f"{p}: is a directory (give the recording files)")
        rx: dict[str, list[float | None]] = {}
        datas: dict[str, list[bytes]] = {}
        for raw in _read_file(p).splitlines(keepends=True):
            body = raw.rstrip(b"\r\n")
            if not body.strip(b" \t\x00"):
                continue  # blank: nothing a port would carry
            end = raw[len(body) :] or b"\r\n"
            source, t = p.stem, None
            if body[:1] == b"\\":
                parsed = parse_tag_block(body)
                if not isinstance(parsed, tuple):
                    rec.bad_lines += 1
                    continue
                tags, body = parsed
                source, t = tags.source or p.stem, tags.rx_t
            rx.setdefault(source, []).append(t)
            datas.setdefault(source, []).append(body + end)
        for source, ds in datas.items():
            if source in origin:
                raise SepmonError(f"source {source!r} is in both {origin[source]} and {p}: rename one file")
            origin[source] = p
            times, absolute = _timing(rx[source], ds, line_interval)
            per_source[source] = absolute
            rec.lines[source] = [ReplayLine(t, d) for t, d in zip(times, ds, strict=True)]
    if not rec.lines:
        raise SepmonError(f"no lines to replay in {', '.join(str(p) for p in paths)}")
    starts = [rec.lines[s][0].t for s, absolute in per_source.items() if absolute]
    t0 = min(starts) if starts else None
    rec.start = t0
    for source, lines in rec.lines.items():
        base = t0 if per_source[source] and t0 is not None else lines[0].t
        rec.lines[source] = [ReplayLine(ln.t - base, ln.data) for ln in lines]
    return rec


# ---- ports --------------------------------------------------------------------------------


def _inq(fd: int) -> int:
    """Bytes waiting to be read on a tty fd."""
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])
    except OSError:
        return 0


def _publish(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` atomically (a reader never sees it missing or half-made)."""
    tmp = link.with_name(link.name + ".new")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(target)
    tmp.replace(link)


@dataclass
class PortStats:
    """What happened on one port."""

    lines: int = 0  # written (or handed to the board's GPS input)
    dropped: int = 0  # lines lost: port unplugged, or its buffer full
    skipped: int = 0  # a recorded board's own $PSEP lines, not fed to a virtual board
    flushed_bytes: int = 0  # backlog nobody read, discarded after STALE_S


class _Port:
    """One virtual serial port; either a bare pty or a VirtualBoard on one."""

    def __init__(self, source: str, link: Path, board: bool) -> None:
        self.source = source
        self.link = link
        self.stats = PortStats()
        self.board: VirtualBoard | None = None
        self.master = -1
        self.slave = -1  # our own handle on the slave side: keeps termios, lets us measure the backlog
        self.plugged = False
        self._drained_at = time.monotonic()
        self.last_view: BoardView | None = None
        if board:
            self.board = VirtualBoard(source, link)
            self._attach()
        else:
            self.open()

    def _attach(self) -> None:
        """Take a handle on the board's slave side (it publishes the link itself)."""
        assert self.board is not None
        self.master = self.board.master
        self.slave = os.open(self.link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.plugged = True
        self._drained_at = time.monotonic()

    def open(self) -> None:
        """Plug the cable in: a fresh pty behind the same link."""
        if self.board is not None:
            self.board.open()
            self._attach()
            return
        master, slave = os.openpty()
        tty.setraw(slave)  # a USB CDC port is a byte pipe: no echo, no line editing
        os.set_blocking(master, False)
        self.master, self.slave = master, slave
        _publish(self.link, os.ttyname(slave))
        self.plugged = True
        self._drained_at = time.monotonic()

    def close(self) -> None:
        """Pull the cable out: the pty goes away (a reader gets an error) and so does the link."""
        self.plugged = False
        if self.board is not None:
            with contextlib.suppress(OSError):
                os.close(self.slave)
            self.board.close()
        else:
            for fd in (self.master, self.slave):
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        self.master = self.slave = -1

    def write(self, data: bytes, wait: Callable[[], bool] | None) -> None:
        """One line; ``wait`` (speed 0) is called while the port is full, and gives up when it says so."""
        if not self.plugged:
            self.stats.dropped += 1
            return
        if self.board is not None:
            if data.startswith(b"$PSEP"):
                # Recorded from a real board: the virtual one speaks for itself.
                self.stats.skipped += 1
                return
            self.board.write_gps(data)
            self.stats.lines += 1
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                n = 0
            except OSError:
                self.stats.dropped += 1
                return
            view = view[n:]
            if view and (wait is None or not wait()):
                self.stats.dropped += 1  # the rest of the line is lost, as on a full adapter
                return
        self.stats.lines += 1

    def service(self, now: float, flush_stale: bool) -> None:
        """Run the board / discard what the other side sent; drop a backlog nobody reads."""
        if not self.plugged:
            if self.board is not None:
                self.board.poll()  # a board on its own battery runs on with no cable: it shows offline
            return
        if self.board is not None:
            self.board.poll()
        else:
            try:
                while os.read(self.master, 4096):  # the daemon's $PSEPA: no firmware here to take it
                    pass
            except OSError:
                pass  # BlockingIOError: nothing more; EIO: nobody has the port open
        if not flush_stale:
            return
        n = _inq(self.slave)
        if n == 0:
            self._drained_at = now
        elif now - self._drained_at > STALE_S:
            with contextlib.suppress(termios.error):
                termios.tcflush(self.slave, termios.TCIFLUSH)
            self.stats.flushed_bytes += n
            self._drained_at = now

    def backlog(self) -> int:
        """Bytes written but not yet read by anyone."""
        return _inq(self.slave) if self.plugged else 0


def _check_name(source: str) -> None:
    if not source or source in (".", "..") or "/" in source or "\0" in source:
        raise SepmonError(f"source name {source!r} cannot be a port name")


# ---- playing ------------------------------------------------------------------------------

OnBoard = Callable[[float, str, BoardView], None]


class Replayer:
    """Plays lines per source into one virtual serial port each.

    ``ports`` maps each source to its port path (``DIR/<source>``) once ``open()``
    (or ``start()`` / ``run()``) has made them.  ``run()`` plays in the calling
    thread; ``start()`` plays in a background thread (``wait()`` for the end,
    ``stop()`` to end early); from asyncio use ``await asyncio.to_thread(r.run)``.
    ``unplug(source)`` / ``replug(source)`` may be called from any thread.
    ``on_board(t, source, view)`` is called (from the playing thread) whenever a
    virtual board's pattern or level changes; ``t`` is seconds since play began.
    With ``hold`` the ports (and boards, whose GPS then falls silent) keep running
    after the last line until ``stop()``; ``wait_played()`` waits for the last line.
    ``lateness()`` says how far behind schedule lines went out.
    """

    def __init__(
        self,
        sources: Mapping[str, Sequence[tuple[float, bytes]]],
        directory: str | Path | None = None,
        speed: float = 1.0,
        *,
        boards: bool = False,
        loop: bool = False,
        on_board: OnBoard | None = None,
        hold: bool = False,
    ) -> None:
        if not (math.isfinite(speed) and speed >= 0):
            raise SepmonError(f"speed must be 0 (no pacing) or a positive factor, got {speed!r}", status=2)
        if boards and speed == 0:
            raise SepmonError(
                "speed 0 cannot drive virtual boards: their firmware runs on real time", status=2
            )
        if not sources:
            raise SepmonError("nothing to replay: no sources")
        for name in sources:
            _check_name(name)
        self.speed = speed
        self.boards = boards
        self.loop = loop
        self.on_board = on_board
        self.hold = hold  # keep the ports (and boards) running after the last line, until stop()
        self._played = threading.Event()
        self._own_dir = directory is None
        self.directory = Path(directory) if directory is not None else None
        self.ports: dict[str, str] = {}
        self._ports: dict[str, _Port] = {}
        self._names = list(sources)
        # One merged schedule; a stable sort keeps each source's own order.
        sched: list[tuple[float, str, bytes]] = []
        for name, lines in sources.items():
            prev = -math.inf
            for t, data in lines:
                prev = max(prev, float(t))
                sched.append((prev, name, bytes(data)))
        sched.sort(key=lambda e: e[0])
        self._schedule = sched
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._t_play = 0.0
        self._serviced_at = -math.inf
        self.passes = 0
        self._late: deque[float] = deque(maxlen=100_000)  # seconds each line went out after its due time
        self.error: BaseException | None = None

    # ---- ports ----

    def open(self) -> dict[str, str]:
        """Create every port (idempotent); returns ``ports``."""
        if self._ports:
            return self.ports
        try:
            if self.directory is None:
                self.directory = Path(tempfile.mkdtemp(prefix="sepmon-replay-"))
            else:
                self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SepmonError(f"cannot create {self.directory}: {exc.strerror or exc}") from None
        try:
            for name in self._names:
                link = self.directory / name
                if link.exists() and not link.is_symlink():
                    raise SepmonError(f"{link} exists and is not a port link: refusing to replace it")
                self._ports[name] = _Port(name, link, self.boards)
                self.ports[name] = str(link)
        except OSError as exc:
            self.close()
            raise SepmonError(
                f"cannot create a virtual port in {self.directory}: {exc.strerror or exc}"
            ) from None
        except BaseException:
            self.close()
            raise
        return self.ports

    def unplug(self, source: str) -> None:
        """Pull the cable: the port and its link vanish; lines due meanwhile are dropped."""
        with self._lock:
            port = self._port(source)
            if port.plugged:
                port.close()

    def replug(self, source: str) -> None:
        """Plug it back in: a new pty behind the same link, playing goes on from the current line."""
        with self._lock:
            port = self._port(source)
            if not port.plugged:
                try:
                    port.open()
                except OSError as exc:
                    raise SepmonError(f"cannot reopen the port of {source}: {exc.strerror or exc}") from None

    def _port(self, source: str) -> _Port:
        try:
            return self._ports[source]
        except KeyError:
            raise SepmonError(f"no port for source {source!r}") from None

    def stats(self) -> dict[str, PortStats]:
        """Per-source counters."""
        return {name: port.stats for name, port in self._ports.items()}

    def lateness(self) -> tuple[float, float, float]:
        """Median, 95th percentile and maximum seconds a line was written after its due time.

        Over the last 100 000 paced lines; zeros before any (and with ``speed=0``).
        """
        late = sorted(self._late)
        if not late:
            return 0.0, 0.0, 0.0
        return late[len(late) // 2], late[min(len(late) - 1, int(len(late) * 0.95))], late[-1]

    def board_view(self, source: str) -> BoardView | None:
        """The virtual board's current state (None without boards)."""
        with self._lock:
            board = self._port(source).board
            return board.view() if board is not None else None

    # ---- lifecycle ----

    def run(self) -> None:
        """Open the ports if needed and play to the end (forever with ``loop``) or until ``stop()``."""
        self.open()
        self._done.clear()
        try:
            self._play()
        finally:
            self._played.set()
            self._done.set()

    def start(self) -> None:
        """Open the ports and play in a background thread."""
        if self._thread is not None:
            return
        self.open()
        self._done.clear()
        self._thread = threading.Thread(target=self._run_thread, name="sepmon-replay", daemon=True)
        self._thread.start()

    def _run_thread(self) -> None:
        try:
            self._play()
        except BaseException as exc:  # kept for the caller: a thread has nobody else to tell
            self.error = exc
        finally:
            self._played.set()
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the end of playing; True when it has ended."""
        return self._done.wait(timeout)

    def wait_played(self, timeout: float | None = None) -> bool:
        """Wait until the last line has been written (with ``hold`` the ports run on)."""
        return self._played.wait(timeout)

    @property
    def done(self) -> bool:
        """Playing has ended (or never started)."""
        return self._done.is_set()

    def stop(self) -> None:
        """End playing early (safe from signal handlers and other threads); ports stay open."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def close(self) -> None:
        """Stop, close every port, remove the links (and the directory if we made it)."""
        self.stop()
        with self._lock:
            for port in self._ports.values():
                port.close()
        if self._own_dir and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Replayer:
        self.open()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- the playing loop ----

    def _service(self) -> None:
        now = time.monotonic()
        with self._lock:
            for port in self._ports.values():
                port.service(now, flush_stale=self.speed > 0)
                if port.board is not None:
                    view = port.board.view()
                    last = port.last_view
                    if last is None or (last.pattern, last.level) != (view.pattern, view.level):
                        port.last_view = view
                        if self.on_board is not None:
                            self.on_board(now - self._t_play, port.source, view)

    def _sleep_until(self, due: float) -> bool:
        """Keep the ports serviced until ``due``; False when stopped."""
        step = BOARD_POLL_S if self.boards else IDLE_POLL_S
        while True:
            now = time.monotonic()
            # Within a burst of lines due together, service at most once a millisecond.
            if now < due or now - self._serviced_at >= 0.001:
                self._service()
                self._serviced_at = now = time.monotonic()
            if self._stop.is_set():
                return False
            if now >= due:
                return True
            self._stop.wait(min(step, due - now))

    def _wait_for_room(self) -> bool:
        """speed 0: the reader is behind; give it a moment (False when stopped)."""
        self._service()
        return not self._stop.wait(0.001)

    def _write(self, source: str, data: bytes, due: float | None = None) -> None:
        if due is not None:
            self._late.append(time.monotonic() - due)
        with self._lock:
            port = self._ports[source]
            port.write(data, self._wait_for_room if self.speed == 0 else None)

    def _play(self) -> None:
        self._t_play = time.monotonic()
        with self._lock:
            for port in self._ports.values():
                port._drained_at = self._t_play  # a backlog is aged from when playing began, not open()
        base = self._t_play
        last_t = self._schedule[-1][0] if self._schedule else 0.0
        while not self._stop.is_set():
            self.passes += 1
            for t, source, data in self._schedule:
                if self.speed > 0:
                    due = base + t / self.speed
                    if not self._sleep_until(due):
                        return
                    self._write(source, data, due)
                    continue
                if self._stop.is_set():
                    return
                self._write(source, data)
            if not self.loop:
                break
            base = base + (last_t + LOOP_GAP_S) / self.speed if self.speed > 0 else time.monotonic()
        self._played.set()
        # A board outlives its recording: its GPS just goes silent (and it must say so).
        while self.hold and self._sleep_until(time.monotonic() + BOARD_POLL_S):
            pass
        # Let readers take the last lines (and boards forward them) before anyone closes the ports.
        end = time.monotonic() + DRAIN_S
        while not self._stop.is_set() and time.monotonic() < end:
            if not self._sleep_until(time.monotonic() + BOARD_POLL_S):
                break
            with self._lock:
                if all(p.backlog() == 0 for p in self._ports.values()) and not self.boards:
                    break
