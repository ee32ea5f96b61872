"""Where bytes come from: source specs from the config, and the readers at the I/O edge.

Each reader calls ``on_data(key, data, rx_t)`` on the event loop with the bytes it
read and the host time they arrived, and ``on_state(key, up, detail)`` when the
link goes up or down. Readers never raise: a link that fails is reported and
retried with backoff until the daemon stops.

Network input is bounded (see docs/security.md): listeners bind 127.0.0.1 unless
the URL names another address (which is reported once as an ``exposed`` event);
a TCP connection delivers only complete lines, a line longer than
``MAX_PEER_LINE`` is dropped without being buffered; every TCP connection and
every UDP sender address has its own token buckets for bytes/s and lines/s
(``max_rate_bps``, ``max_rate_lps``), whatever exceeds them is dropped, counted
and reported once per burst (``rate_limited``); a listener holds at most
``max_peers`` connections or sender addresses, the others are refused and
counted (``peer_refused``, once per burst).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import stat
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import serial

from sepmon.core.errors import ConfigError
from sepmon.core.model import Event, Fix
from sepmon.core.net import exposed

log = logging.getLogger(__name__)

OnData = Callable[[str, bytes, float], None]
OnState = Callable[[str, bool, str], None]
OnFix = Callable[[str, "Fix"], None]
OnEvent = Callable[[Event], None]

KINDS = ("serial", "tcp", "tcp-listen", "udp", "file", "gpsd")
BACKOFF_S = (0.1, 0.2, 0.5, 1.0)  # then 1 s forever: a replugged cable is back within ~1 s
MAX_PEERS = 16
MAX_PENDING = 1 << 20  # bytes a serial reader may hold for a busy loop before dropping the oldest
"""Default ``max_peers``: connections a ``tcp-listen`` source holds, senders a ``udp`` one tracks."""
MAX_PEER_LINE = 4096
"""Longest line (bytes, terminator included) a TCP connection may send; longer ones are dropped unbuffered."""
MAX_RATE_BPS = 65536
"""Default ``max_rate_bps`` per TCP connection / UDP sender: ~6x a 115200-baud receiver running flat out."""
MAX_RATE_LPS = 1000
"""Default ``max_rate_lps``: a 10 Hz receiver sends ~100 lines/s; a multiplexer of several, a few hundred."""
BUCKET_S = 2.0
"""Depth of the token buckets in seconds of rate: a connection may catch up a 2 s stall at once."""
QUIET_S = 10.0
"""A burst of drops (or refusals) ends after this long without one; the next one is a new event."""
SENDER_IDLE_S = 60.0
"""A UDP sender not heard for this long gives its slot up to a new one."""
NETWORK_KEYS = ("max_peers", "max_rate_bps", "max_rate_lps")
MAX_NAME = 64
"""Longest source name: it goes into every recorded line's TAG block (lines over ``max_line``
are unreadable), into event logs and, under ``replay``, into a port's file name."""
_NOT_IN_NAME = frozenset("\\$!*,/")
OnDrop = Callable[[str, str, int], None]
"""``on_drop(source, reason, count)``: input a link refused (see ``Daemon.dropped``)."""


def check_source_name(name: object) -> str | None:
    """Why ``name`` cannot be a source name, or None when it can.

    1 to ``MAX_NAME`` printable ASCII characters, none of ``\\ $ ! * , /``, not ``.`` or
    ``..``: what a TAG block can carry, a recording can be read back with, and ``replay``
    can name a port after.
    """
    if not isinstance(name, str) or not name:
        return "expected a non-empty source name"
    if len(name) > MAX_NAME:
        return f"a source name is at most {MAX_NAME} characters, got {len(name)}"
    if not (name.isascii() and name.isprintable()) or _NOT_IN_NAME.intersection(name) or name in (".", ".."):
        return f"source name {name!r} must be printable ASCII and must not contain any of \\ $ ! * , /"
    return None


@dataclass(frozen=True)
class SourceSpec:
    """One configured input. ``kind`` is derived from the URL.

    URL forms: a device path or any pyserial URL (``socket://``, ``rfc2217://``,
    ``loop://``) → serial; ``tcp://host:port`` (client); ``tcp-listen://host:port``;
    ``udp://host:port`` (listen); ``file://path`` (follow a growing file);
    ``gpsd://host:port`` (a running gpsd: one source per device it reports).
    """

    name: str
    url: str
    kind: str
    baud: int = 115200
    board: bool = True  # send alert commands to it (serial only)
    max_peers: int = MAX_PEERS  # tcp-listen: connections; udp: sender addresses
    max_rate_bps: int = MAX_RATE_BPS  # per TCP connection / UDP sender
    max_rate_lps: int = MAX_RATE_LPS  # per TCP connection / UDP sender
    # Honour NMEA TAG blocks (source name, receive time) in the stream. Off by default:
    # on a live link a tag is a claim any peer could make about any vehicle.
    trust_tags: bool = False

    @property
    def host_port(self) -> tuple[str, int]:
        """``(host, port)`` of a network URL; an empty host is 127.0.0.1 (``[::1]`` → ``::1``)."""
        rest = self.url.split("://", 1)[1]
        host, _, port = rest.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        return host or "127.0.0.1", int(port)


def _kind(url: str) -> str:
    for prefix, kind in (
        ("tcp-listen://", "tcp-listen"),
        ("tcp://", "tcp"),
        ("udp://", "udp"),
        ("file://", "file"),
        ("gpsd://", "gpsd"),
    ):
        if url.startswith(prefix):
            return kind
    return "serial"


def parse_source(where: str, entry: Mapping[str, Any]) -> SourceSpec:
    """Validate one ``[[sources]]`` table."""
    for key in entry:
        if key not in ("name", "url", "baud", "board", "trust_tags", *NETWORK_KEYS):
            raise ConfigError(f"{where}.{key}: unknown key")
    name, url = entry.get("name"), entry.get("url")
    why = check_source_name(name)
    if why is not None:
        raise ConfigError(f"{where}.name: {why}")
    assert isinstance(name, str)
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{where}.url: expected a device path or URL")
    kind = _kind(url)
    baud = entry.get("baud", 115200)
    if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
        raise ConfigError(f"{where}.baud: expected a positive whole number, got {baud!r}")
    board = entry.get("board", kind == "serial")
    if not isinstance(board, bool):
        raise ConfigError(f"{where}.board: expected true or false")
    trust_tags = entry.get("trust_tags", False)
    if not isinstance(trust_tags, bool):
        raise ConfigError(f"{where}.trust_tags: expected true or false")
    limits: dict[str, int] = {}
    for key, lo, hi, kinds in (
        ("max_peers", 1, 1024, ("tcp-listen", "udp")),
        ("max_rate_bps", 100, 1_000_000_000, ("tcp", "tcp-listen", "udp")),
        ("max_rate_lps", 1, 10_000_000, ("tcp", "tcp-listen", "udp")),
    ):
        if key not in entry:
            continue
        if kind not in kinds:
            raise ConfigError(f"{where}.{key}: only for {', '.join(k + '://' for k in kinds)} sources")
        v = entry[key]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ConfigError(f"{where}.{key}: expected a whole number from {lo} to {hi}, got {v!r}")
        limits[key] = v
    spec = SourceSpec(
        name=name,
        url=url,
        kind=kind,
        baud=baud,
        board=board and kind == "serial",
        trust_tags=trust_tags,
        **limits,
    )
    if kind in ("tcp", "tcp-listen", "udp", "gpsd"):
        try:
            _, port = spec.host_port
        except ValueError:
            raise ConfigError(f"{where}.url: expected {kind}://HOST:PORT, got {url!r}") from None
        lowest = 0 if kind in ("tcp-listen", "udp") else 1  # 0: any free port, to listen on
        if not lowest <= port <= 65535:
            raise ConfigError(f"{where}.url: port {port} is not a port number ({lowest} to 65535)")
    if kind == "file" and not url.split("://", 1)[1]:
        raise ConfigError(f"{where}.url: expected file://PATH, got {url!r}")
    return spec


def parse_sources(raw: Any) -> list[SourceSpec]:
    """Validate the ``[[sources]]`` array; names must be unique."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError("sources: expected an array of tables ([[sources]])")
    specs = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ConfigError(f"sources[{i}]: expected a table")
        specs.append(parse_source(f"sources[{i}]", entry))
    names = [s.name for s in specs]
    for n in names:
        if names.count(n) > 1:
            raise ConfigError(f"sources: name {n!r} is used twice")
    return specs


def spec_from_arg(arg: str) -> SourceSpec:
    """``PORT`` or ``NAME=PORT`` from the command line."""
    name, sep, url = arg.partition("=")
    if not sep:
        url = arg
        name = Path(arg).name if _kind(arg) in ("serial", "file") else arg.split("://", 1)[-1]
    shown = arg if len(arg) <= 80 else arg[:77] + "..."
    return parse_source(f"source {shown!r}", {"name": name, "url": url})


class SerialLink:
    """A serial port (or pyserial URL), reopened with backoff when it fails.

    pyserial has no asyncio API of its own. A thread per port opens it (opening may
    block) and retries. A local device (a file descriptor) is then read by the event
    loop itself (``add_reader``): no thread wakes per read, so fifty boards do not
    make the loop wait for the GIL on the alert path. Other URL types (socket://,
    rfc2217://, loop://) are read by the thread, blocking, as pyserial expects.
    """

    def __init__(
        self,
        spec: SourceSpec,
        loop: asyncio.AbstractEventLoop,
        on_data: OnData,
        on_state: OnState,
        on_drop: OnDrop | None = None,
    ):
        self.spec = spec
        self.loop = loop
        self.on_data = on_data
        self.on_state = on_state
        self.on_drop = on_drop
        self._dropped_told = 0
        self._port: serial.SerialBase | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending = bytearray()
        self._pending_t = 0.0
        self._scheduled = False
        self.dropped_bytes = 0
        self.short_writes = 0
        self._watched: int | None = None  # fd the loop reads, when it does
        self._writing = False  # a pyserial-URL write is running in the executor
        self._gone = threading.Event()  # the loop saw the device fail: reopen
        self._thread = threading.Thread(target=self._run, name=f"serial:{spec.name}", daemon=True)
        self.up = False

    def start(self) -> None:
        """Start the reader thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and close the port; never waits (see :meth:`join`)."""
        self._stop.set()
        self._close()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the reader thread (it wakes within its 0.2 s read timeout;
        one stuck opening a port is a daemon thread and ends with the process)."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    def write(self, data: bytes) -> bool:
        """Write to the port if it is open; False when it is not (never raises)."""
        port = self._port
        if port is None:
            return False
        fd = getattr(port, "fd", None)
        try:
            if isinstance(fd, int) and fd >= 0:
                # A local device: one non-blocking write. pyserial's write would wait for
                # the GIL behind every reader thread (about 1 ms each) on the alert path.
                n = os.write(fd, data)
                if n < len(data):
                    self.short_writes += 1  # the board is not reading: it will time out to offline
            else:
                # A pyserial URL (socket://, rfc2217://): its write blocks while the peer does not
                # read, so it runs off the loop, one at a time; a write while one is in flight is
                # dropped like a short write (the next heartbeat carries the state again).
                if self._writing:
                    self.short_writes += 1
                    return False
                self._writing = True
                self.loop.run_in_executor(None, self._blocking_write, port, data)
            return True
        except BlockingIOError:
            self.short_writes += 1
            return False
        except (serial.SerialException, OSError, ValueError, TypeError) as exc:
            self._fail(f"write failed: {exc}")
            return False

    def _blocking_write(self, port: serial.SerialBase, data: bytes) -> None:
        try:
            with self._lock:
                port.write(data)
        except (serial.SerialException, OSError, ValueError, TypeError, AttributeError) as exc:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self.loop.call_soon_threadsafe(self._fail, f"write failed: {exc}")
        finally:
            self._writing = False

    def _hand_over(self, data: bytes, rx_t: float) -> None:
        """Queue bytes for the loop; one callback drains whatever piled up meanwhile.

        When the loop is busy, reads coalesce into one chunk (evaluated once) instead
        of one callback per read queueing up without bound. A loop that is more than
        ``MAX_PENDING`` bytes behind loses the oldest bytes, counted in ``dropped_bytes``.
        """
        with self._pending_lock:
            if not self._pending:
                self._pending_t = rx_t
            self._pending += data
            if len(self._pending) > MAX_PENDING:
                cut = len(self._pending) - MAX_PENDING
                del self._pending[:cut]
                self.dropped_bytes += cut
            if self._scheduled:
                return
            self._scheduled = True
        self.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._pending_lock:
            data, self._pending = bytes(self._pending), bytearray()
            rx_t = self._pending_t
            self._scheduled = False
        if data:
            self.on_data(self.spec.name, data, rx_t)
        lost = self.dropped_bytes - self._dropped_told
        if lost and self.on_drop is not None:
            self._dropped_told += lost
            self.on_drop(self.spec.name, "backlog_bytes", lost)

    def _watch(self, port: serial.SerialBase, fd: int) -> None:
        """On the loop: read ``fd`` whenever it is readable."""
        if self._port is not port or self._stop.is_set():
            return
        self._watched = fd
        self.loop.add_reader(fd, self._readable, fd)

    def _readable(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO: the cable (or the pty's other side) is gone
            self._fail(exc.strerror or str(exc))
            return
        if not data:
            self._fail("device disconnected")
            return
        self.on_data(self.spec.name, data, time.time())

    def _close(self) -> None:
        fd, self._watched = self._watched, None
        if fd is not None:
            with contextlib.suppress(Exception):
                self.loop.remove_reader(fd)
            self._gone.set()
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    _quiet_reopen = False  # the port just went down and that was said: its reopen failing is not news

    def _fail(self, detail: str) -> None:
        was_up = self.up
        self.up = False
        if was_up:
            # Said before the port is closed: closing wakes the thread, whose first failed
            # reopen ("no such file" once the device is gone) is the same outage.
            self._quiet_reopen = True
            self.loop.call_soon_threadsafe(self.on_state, self.spec.name, False, detail)
        self._close()

    def _run(self) -> None:
        attempt = 0
        last_error = ""
        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(self.spec.url, baudrate=self.spec.baud, timeout=0.2)
            except (serial.SerialException, OSError, ValueError) as exc:
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if msg != last_error:  # report each new reason once, not every retry
                    last_error = msg
                    if self._quiet_reopen:
                        self._quiet_reopen = False
                    else:
                        self.loop.call_soon_threadsafe(self.on_state, self.spec.name, False, msg)
                self._stop.wait(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                attempt += 1
                continue
            attempt, last_error = 0, ""
            self._quiet_reopen = False
            self._port = port
            self.up = True
            self.loop.call_soon_threadsafe(self.on_state, self.spec.name, True, self.spec.url)
            fd = getattr(port, "fd", None)
            if isinstance(fd, int) and fd >= 0:
                self._gone.clear()
                self.loop.call_soon_threadsafe(self._watch, port, fd)
                while not self._stop.is_set() and not self._gone.wait(0.2):
                    pass
                continue
            while not self._stop.is_set():
                try:
                    data = port.read(max(1, port.in_waiting))
                except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                    # TypeError/AttributeError: pyserial after close() from another thread.
                    if not self._stop.is_set():
                        self._fail(str(exc) or type(exc).__name__)
                    break
                if data:
                    self._hand_over(data, time.time())


class TokenBucket:
    """``rate`` tokens a second, at most ``rate * BUCKET_S`` saved up; starts full."""

    __slots__ = ("depth", "rate", "t", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.depth = rate * BUCKET_S
        self.tokens = self.depth
        self.t = now

    def refill(self, now: float) -> None:
        """Add what accrued since the last call (``now`` is monotonic)."""
        if now > self.t:
            self.tokens = min(self.depth, self.tokens + (now - self.t) * self.rate)
            self.t = now


def _line_count(data: bytes) -> int:
    # CRLF, LF and CR-only terminators all count one per line.
    return max(data.count(b"\n"), data.count(b"\r"))


class PeerGate:
    """What one TCP connection or UDP sender may deliver: whole lines within its rates.

    ``stream=True`` (TCP): bytes are cut at the last line terminator and the rest is
    kept for the next read, at most ``MAX_PEER_LINE`` bytes of it; a longer line is
    dropped as it arrives (never buffered) up to its terminator. So peers of one
    listener never splice lines into each other, and a peer that never sends a
    newline costs nothing but the bytes of one read. ``stream=False`` (UDP): a
    datagram is passed or dropped whole.
    """

    __slots__ = ("_skip", "_tail", "bytes", "label", "last_drop", "last_seen", "lines", "link", "stream")

    def __init__(self, link: NetworkLink, label: str, *, stream: bool) -> None:
        now = time.monotonic()
        self.link = link
        self.label = label
        self.stream = stream
        self.bytes = TokenBucket(link.spec.max_rate_bps, now)
        self.lines = TokenBucket(link.spec.max_rate_lps, now)
        self.last_drop = -math.inf
        self.last_seen = now
        self._tail = b""
        self._skip = False

    def feed(self, data: bytes) -> bytes:
        """The part of ``data`` to deliver (may be empty)."""
        now = time.monotonic()
        self.last_seen = now
        if self.stream:
            data = self._frame(data)
            if not data:
                return b""
        self.bytes.refill(now)
        self.lines.refill(now)
        n, nl = len(data), _line_count(data)
        if n <= self.bytes.tokens and nl <= self.lines.tokens:
            self.bytes.tokens -= n
            self.lines.tokens -= nl
            return data
        keep = b""
        if self.stream:  # pass the lines that fit, drop the rest (whole lines: the stream stays aligned)
            parts = data.splitlines(keepends=True)
            i = 0
            while i < len(parts) and len(parts[i]) <= self.bytes.tokens and self.lines.tokens >= 1:
                self.bytes.tokens -= len(parts[i])
                self.lines.tokens -= 1
                i += 1
            keep = b"".join(parts[:i])
        self._dropped(now, n - len(keep), nl - _line_count(keep))
        return keep

    def _frame(self, data: bytes) -> bytes:
        if self._skip:  # inside an over-long line: discard up to its end
            cut = _first_terminator(data)
            if cut < 0:
                return b""
            data = data[cut:]
            self._skip = False
        buf = self._tail + data if self._tail else data
        cut = max(buf.rfind(b"\n"), buf.rfind(b"\r"))
        out, self._tail = buf[: cut + 1], buf[cut + 1 :]
        if len(self._tail) > MAX_PEER_LINE:
            self._tail = b""
            self._skip = True
            self.link.stats["overlong"] += 1
            self.link.dropped("overlong", 1)
        return out

    def _dropped(self, now: float, nbytes: int, nlines: int) -> None:
        stats = self.link.stats
        stats["rate_dropped_bytes"] += nbytes
        stats["rate_dropped_lines"] += nlines
        self.link.dropped("rate_limit", nlines)
        if now - self.last_drop > QUIET_S:
            stats["rate_limited"] += 1
            s = self.link.spec
            self.link.report(
                "rate_limited",
                f"{self.label} sends more than {s.max_rate_bps} B/s or {s.max_rate_lps} lines/s: "
                f"dropping the excess ({stats['rate_dropped_bytes']} bytes dropped on this source so far)",
            )
        self.last_drop = now


def _first_terminator(data: bytes) -> int:
    a, b = data.find(b"\n"), data.find(b"\r")
    return b if a < 0 else a if b < 0 else min(a, b)


def _addr(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"[{addr[0]}]:{addr[1]}" if ":" in str(addr[0]) else f"{addr[0]}:{addr[1]}"
    return "a peer"


class _StreamProtocol(asyncio.Protocol):
    """One TCP connection: whole lines through its :class:`PeerGate`."""

    def __init__(self, link: NetworkLink, on_lost: Callable[[str], None]) -> None:
        self.link = link
        self.on_lost = on_lost
        self.gate: PeerGate | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.gate = PeerGate(self.link, _addr(transport.get_extra_info("peername")), stream=True)

    def data_received(self, data: bytes) -> None:
        if self.gate is None:
            return
        data = self.gate.feed(data)
        if data:
            self.link.on_data(self.link.spec.name, data, time.time())

    def connection_lost(self, exc: Exception | None) -> None:
        self.gate = None  # an unterminated last line is dropped, never glued to the next connection
        self.on_lost(str(exc) if exc else "connection closed")


class _ListenerPeer(_StreamProtocol):
    """A connection accepted by a ``tcp-listen`` source; refused beyond ``max_peers``."""

    def __init__(self, link: NetworkLink) -> None:
        super().__init__(link, lambda _detail: None)
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        link = self.link
        peer = _addr(transport.get_extra_info("peername"))
        if len(link.peers) >= link.spec.max_peers:  # bounded: a flood of peers can't exhaust us
            transport.close()
            link.refused(f"refused {peer}: already {len(link.peers)} connections (max_peers)")
            return
        super().connection_made(transport)
        self.transport = transport
        link.peers.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.peers.discard(self)
        self.gate = None


class _DatagramProtocol(asyncio.DatagramProtocol):
    """A UDP listener: one :class:`PeerGate` per sender address, at most ``max_peers`` of them."""

    def __init__(self, link: NetworkLink) -> None:
        self.link = link
        self.senders: dict[Any, PeerGate] = {}

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        link = self.link
        gate = self.senders.get(addr)
        if gate is None:
            if len(self.senders) >= link.spec.max_peers:
                cutoff = time.monotonic() - SENDER_IDLE_S
                for old in [a for a, g in self.senders.items() if g.last_seen < cutoff]:
                    del self.senders[old]
            if len(self.senders) >= link.spec.max_peers:
                link.refused(f"ignoring {_addr(addr)}: already {len(self.senders)} senders (max_peers)")
                return
            gate = self.senders[addr] = PeerGate(link, _addr(addr), stream=False)
        # A datagram is whole sentences; make sure the last one is terminated.
        data = gate.feed(data if data.endswith(b"\n") else data + b"\r\n")
        if data:
            link.on_data(link.spec.name, data, time.time())


class NetworkLink:
    """TCP client, TCP server or UDP listener; reconnects (client) with backoff.

    ``stats`` counts what the bounds cost: ``overlong`` lines, ``rate_dropped_bytes``
    and ``rate_dropped_lines``, ``rate_limited`` bursts, ``peers_refused``.
    """

    def __init__(
        self,
        spec: SourceSpec,
        loop: asyncio.AbstractEventLoop,
        on_data: OnData,
        on_state: OnState,
        on_event: OnEvent | None = None,
        on_drop: OnDrop | None = None,
    ):
        self.spec = spec
        self.loop = loop
        self.on_data = on_data
        self.on_state = on_state
        self.on_event = on_event
        self.on_drop = on_drop
        self.up = False
        self.stats: Counter[str] = Counter()
        self.peers: set[_ListenerPeer] = set()
        self.address: tuple[str, int] | None = None  # (host, port) listened on, once listening
        self._task: asyncio.Task[None] | None = None
        self._closers: list[Callable[[], None]] = []
        self._last_refusal = -math.inf
        self._udp: _DatagramProtocol | None = None

    @property
    def senders(self) -> int:
        """UDP sender addresses tracked now."""
        return len(self._udp.senders) if self._udp is not None else 0

    def start(self) -> None:
        """Start connecting / listening."""
        self._task = self.loop.create_task(self._run())

    def stop(self) -> None:
        """Close everything."""
        if self._task is not None:
            self._task.cancel()
        for close in self._closers:
            with contextlib.suppress(Exception):
                close()
        for peer in list(self.peers):
            transport = peer.transport
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.close()

    def write(self, data: bytes) -> bool:
        """Network sources are read-only."""
        return False

    def report(self, type_: str, detail: str) -> None:
        """An event about this source (through the daemon when it gave ``on_event``)."""
        if self.on_event is None:
            log.warning("%s: %s: %s", self.spec.name, type_, detail)
            return
        with contextlib.suppress(Exception):  # reporting must never break reading
            self.on_event(Event(t=time.time(), type=type_, a=self.spec.name, detail=detail))

    def dropped(self, reason: str, count: int) -> None:
        """Input refused by a bound: through the daemon's generic drop path when it gave ``on_drop``."""
        if self.on_drop is not None and count > 0:
            with contextlib.suppress(Exception):  # reporting must never break reading
                self.on_drop(self.spec.name, reason, count)

    def join(self, timeout: float) -> None:
        """Nothing to wait for: everything runs on the loop."""

    def refused(self, detail: str) -> None:
        """A connection or sender beyond ``max_peers``: counted, reported once per burst."""
        self.stats["peers_refused"] += 1
        now = time.monotonic()
        if now - self._last_refusal > QUIET_S:
            self.report("peer_refused", f"{detail}; {self.stats['peers_refused']} refused so far")
        self._last_refusal = now

    def _state(self, up: bool, detail: str) -> None:
        if up != self.up or not up:
            self.up = up
            self.on_state(self.spec.name, up, detail)

    def _listening(self, proto: str, host: str, sockname: Any) -> None:
        self.address = (str(sockname[0]), int(sockname[1]))
        sock_port = self.address[1]
        where = f"[{host}]:{sock_port}" if ":" in host else f"{host}:{sock_port}"
        self._state(True, f"listening {proto} {where}")
        if exposed(host):
            anyone = "all interfaces" if host in ("0.0.0.0", "::") else "not loopback"
            self.report(
                "exposed",
                f"listening {proto} on {where} ({anyone}): anyone who can reach it can send positions; "
                "firewall it or bind 127.0.0.1",
            )

    async def _run(self) -> None:
        host, port = self.spec.host_port
        kind = self.spec.kind
        attempt = 0
        while kind in ("udp", "tcp-listen"):
            # A port busy at start (the previous run still closing, another program) is
            # retried with backoff like any link, not given up on.
            try:
                if kind == "udp":
                    udp, proto = await self.loop.create_datagram_endpoint(
                        lambda: _DatagramProtocol(self), local_addr=(host, port)
                    )
                    self._udp = proto
                    self._closers.append(udp.close)
                    self._listening("udp", host, udp.get_extra_info("sockname"))
                else:
                    server = await self.loop.create_server(lambda: _ListenerPeer(self), host, port)
                    self._closers.append(server.close)
                    self._listening("tcp", host, server.sockets[0].getsockname())
                return
            except (OSError, RuntimeError) as exc:  # RuntimeError: no thread left for a DNS lookup
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self._state(False, f"cannot listen on {host}:{port}: {reason}")
            await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1
        while True:
            lost = asyncio.Event()

            def on_lost(detail: str, lost: asyncio.Event = lost) -> None:
                self._state(False, detail)
                lost.set()

            def factory(on_lost: Callable[[str], None] = on_lost) -> asyncio.Protocol:
                return _StreamProtocol(self, on_lost)

            try:
                transport, _ = await self.loop.create_connection(factory, host, port)
            except (OSError, RuntimeError) as exc:  # RuntimeError: no thread left for a DNS lookup
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self._state(False, f"connect {host}:{port}: {reason}")
                await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                attempt += 1
                continue
            attempt = 0
            self._closers.append(transport.close)
            self._state(True, f"connected to {host}:{port}")
            await lost.wait()


class FileLink:
    """Follows a file as it grows (like ``tail -f``): for logs written by other programs.

    A thread opens and reads it: ``open()`` of a named pipe without a writer, and
    ``read()`` of a pipe or device with nothing to say, block, and a blocking call on
    the event loop would freeze every other port and ignore SIGTERM. One chunk is in
    flight to the loop at a time, so a long file is read no faster than it is ingested.
    A pipe whose writer closes is reopened for the next writer; a regular file that
    shrinks (truncated, rotated) is read again from its start.
    """

    POLL_S = 0.1
    RETRY_S = 1.0

    def __init__(self, spec: SourceSpec, loop: asyncio.AbstractEventLoop, on_data: OnData, on_state: OnState):
        self.spec = spec
        self.loop = loop
        self.on_data = on_data
        self.on_state = on_state
        self.up = False
        self.path = Path(spec.url.split("://", 1)[1])
        self._stop = threading.Event()
        self._taken = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"file:{spec.name}", daemon=True)

    def start(self) -> None:
        """Start following."""
        self._thread.start()

    def stop(self) -> None:
        """Stop following. Never waits: a thread blocked in ``open()`` of a pipe that never
        gets a writer is a daemon thread and ends with the process."""
        self._stop.set()
        self._taken.set()

    def write(self, data: bytes) -> bool:
        """Files are read-only."""
        return False

    def join(self, timeout: float) -> None:
        """Never waits: the reader may be blocked in ``open()`` of a pipe (a daemon thread)."""

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: the daemon is gone
            self.loop.call_soon_threadsafe(fn, *args)

    def _state(self, up: bool, detail: str) -> None:
        self.up = up
        self._call(self.on_state, self.spec.name, up, detail)

    def _deliver(self, data: bytes, rx_t: float) -> None:
        try:
            self.on_data(self.spec.name, data, rx_t)
        finally:
            self._taken.set()

    def _run(self) -> None:
        path = self.path
        pos = 0
        reported = ""  # the last failure said, so a retry loop reports each reason once
        while not self._stop.is_set():
            try:
                fd = os.open(path, os.O_RDONLY)  # a pipe: blocks here, in this thread, until a writer
            except OSError as exc:
                detail = f"{path}: {exc.strerror or exc}"
                if self.up or detail != reported:
                    reported = detail
                    self._state(False, detail)
                self._stop.wait(self.RETRY_S)
                continue
            try:
                regular = stat.S_ISREG(os.fstat(fd).st_mode)
                if regular:
                    if os.fstat(fd).st_size < pos:
                        pos = 0
                    os.lseek(fd, pos, os.SEEK_SET)
                if not self.up:
                    reported = ""
                    self._state(True, str(path))
                while not self._stop.is_set():
                    data = os.read(fd, 65536)
                    if data:
                        pos += len(data)
                        self._taken.clear()
                        self._call(self._deliver, data, time.time())
                        self._taken.wait()
                        continue
                    if not regular:
                        break  # the pipe's writer closed: wait for the next one
                    if os.stat(path).st_size < pos:  # truncated or rotated: start over
                        pos = 0
                        break
                    self._stop.wait(self.POLL_S)
            except OSError as exc:
                detail = f"{path}: {exc.strerror or exc}"
                reported = detail
                self._state(False, detail)
                self._stop.wait(self.RETRY_S)
            finally:
                os.close(fd)
