"""``[outputs.flarm]``: a FLARM-style traffic feed for cockpit and navigation apps.

Once a second the feed sends, for the configured own vehicle, ``$PFLAU`` (even
with no traffic), one ``$PFLAA`` per vehicle within range whose track is not
lost and, when the own vehicle has a new fix, its ``$GPRMC`` and ``$GPGGA``
(encoding in :mod:`sepmon.outputs.flarmcodec`). Alarm levels are FLARM's, by
time to impact (the pairs' ``t_violation_s`` in the picture), not sepmon's
levels. It serves them on a TCP port (2000 by default, the port FLARM-over-WiFi
apps expect; loopback unless ``bind`` says otherwise) and/or a serial port.

Each second's sentences are built completely and handed to every client in one
write, so a client only ever sees whole, checksummed lines. Nothing here waits
for a client: a client is cut off when more than ``max_buffer`` bytes wait for it
(in our buffer and the kernel's send queue together) or when what waits for it has
not moved for ``max_lag_s`` seconds; each client's kernel send buffer is kept small
(``SO_SNDBUF``), so it cannot hide minutes of feed. A serial port that does not
drain loses whole lines (never half ones), and a port that cannot be opened is
retried every few seconds while the daemon goes on. ``$PFLAV``/``$PFLAC`` queries
from a TCP client, or on the serial port, are answered there (see
:func:`~sepmon.outputs.flarmcodec.answer`).

Configuration::

    [outputs.flarm]
    own = "alpha"               # required: the vehicle the apps sit in
    port = 2000                 # TCP port (0: any free port)
    bind = "127.0.0.1"          # "0.0.0.0" to serve the WiFi network
    tcp = true                  # false: serial only
    serial = "/dev/ttyUSB3"     # optional; baud = 19200
    range_m = 20000             # vehicles farther away are not listed
    max_clients = 8
    max_buffer = 65536          # bytes queued per client (ours + the kernel's) before it is dropped
    max_lag_s = 5               # seconds a client's queue may stand still before it is dropped
    max_targets = 50            # PFLAA sentences per second at most
    aircraft_type = "0"         # FLARM AcftType hex digit for every vehicle ...
    aircraft_types = { bravo = "D" }   # ... or per source
    ids = { bravo = "3F12A0" }  # pin a 6-hex-digit ID (else a hash of the name)
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import math
import os
import socket
import struct
import termios
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sepmon import __version__ as SEPMON_VERSION
from sepmon.core.errors import ConfigError
from sepmon.core.model import Event, Fix, PairStatus
from sepmon.core.net import exposed
from sepmon.core.picture import Picture
from sepmon.outputs.base import OutputHost
from sepmon.outputs.flarmcodec import ACFT_TYPES, DeviceInfo, FeedOptions, IdBook, answer, burst, is_flarm_id

REFUSED_REPORT_S = 10.0  # at most one refused-client event per this many seconds
CLIENT_SNDBUF = 16384
"""Kernel send buffer per client (Linux doubles it): the kernel's own would grow to megabytes."""
MAX_QUERY_LINE = 256  # an app's query is one short sentence; a longer line is dropped unread
log = logging.getLogger(__name__)

DEFAULT_PORT = 2000
BURST_S = 1.0
RETRY_S = 5.0
MAX_RANGE_M = 32_767.0  # PFLAA north/east were 16-bit in older data port versions
_KEYS = frozenset(
    {
        "enabled",
        "own",
        "port",
        "bind",
        "tcp",
        "serial",
        "baud",
        "range_m",
        "max_clients",
        "max_buffer",
        "max_lag_s",
        "max_targets",
        "aircraft_type",
        "aircraft_types",
        "ids",
    }
)


@dataclass(frozen=True)
class FlarmSettings:
    """The validated ``[outputs.flarm]`` table."""

    own: str
    port: int = DEFAULT_PORT
    bind: str = "127.0.0.1"
    tcp: bool = True
    serial: str | None = None
    baud: int = 19200
    max_clients: int = 8
    max_buffer: int = 65536
    max_lag_s: float = 5.0
    feed: FeedOptions = field(default_factory=FeedOptions)
    ids: Mapping[str, str] = field(default_factory=dict)


# ---- configuration ----------------------------------------------------------------------------


def _int(where: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{where}: expected a whole number from {lo} to {hi}, got {value!r}")
    return value


def _acft(where: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 15:
        return ACFT_TYPES[value]
    if isinstance(value, str) and len(value) == 1 and value.upper() in ACFT_TYPES:
        return value.upper()
    raise ConfigError(f"{where}: expected a FLARM aircraft type, one hex digit 0-F, got {value!r}")


def _str_table(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table such as {{ bravo = ... }}")
    return value


def from_config(where: str, table: dict[str, Any]) -> FlarmOutput:
    """Build the feed from its config table; ``ConfigError`` names the first bad key."""
    for key in table:
        if key not in _KEYS:
            raise ConfigError(f"{where}.{key}: unknown key")
    own = table.get("own")
    if not isinstance(own, str) or not own:
        raise ConfigError(f'{where}.own: expected the name of the own vehicle\'s source, e.g. own = "alpha"')
    port = _int(f"{where}.port", table.get("port", DEFAULT_PORT), 0, 65535)
    bind = table.get("bind", "127.0.0.1")
    if not isinstance(bind, str) or not bind:
        raise ConfigError(f"{where}.bind: expected an address such as 127.0.0.1 or 0.0.0.0")
    tcp = table.get("tcp", True)
    if not isinstance(tcp, bool):
        raise ConfigError(f"{where}.tcp: expected true or false")
    serial = table.get("serial")
    if serial is not None and (not isinstance(serial, str) or not serial):
        raise ConfigError(f"{where}.serial: expected a serial device path")
    if not tcp and serial is None:
        raise ConfigError(f"{where}: tcp = false and no serial port: the feed would go nowhere")
    baud = _int(f"{where}.baud", table.get("baud", 19200), 1200, 4_000_000)
    rng = table.get("range_m", 20_000.0)
    if (
        isinstance(rng, bool)
        or not isinstance(rng, int | float)
        or not math.isfinite(rng)
        or not 0 < rng <= MAX_RANGE_M
    ):
        raise ConfigError(
            f"{where}.range_m: expected metres above 0 and at most {MAX_RANGE_M:.0f}, got {rng!r}"
        )
    max_clients = _int(f"{where}.max_clients", table.get("max_clients", 8), 1, 64)
    max_buffer = _int(f"{where}.max_buffer", table.get("max_buffer", 65536), 1024, 16 << 20)
    lag = table.get("max_lag_s", 5.0)
    if isinstance(lag, bool) or not isinstance(lag, int | float) or not 0.5 <= lag <= 600:
        raise ConfigError(f"{where}.max_lag_s: expected seconds from 0.5 to 600, got {lag!r}")
    max_targets = _int(f"{where}.max_targets", table.get("max_targets", 50), 1, 99)
    acft = _acft(f"{where}.aircraft_type", table.get("aircraft_type", "0"))
    types = {
        src: _acft(f"{where}.aircraft_types.{src}", v)
        for src, v in _str_table(f"{where}.aircraft_types", table.get("aircraft_types", {})).items()
    }
    ids: dict[str, str] = {}
    for src, v in _str_table(f"{where}.ids", table.get("ids", {})).items():
        if not isinstance(v, str) or not is_flarm_id(v) or v.upper() in ("000000", "FFFFFF"):
            raise ConfigError(f"{where}.ids.{src}: expected six hex digits (not 000000/FFFFFF), got {v!r}")
        if v.upper() in ids.values():
            raise ConfigError(f"{where}.ids.{src}: ID {v.upper()} is already pinned to another source")
        ids[src] = v.upper()
    feed = FeedOptions(range_m=float(rng), aircraft_type=acft, aircraft_types=types, max_targets=max_targets)
    return FlarmOutput(
        FlarmSettings(
            own=own,
            port=port,
            bind=bind,
            tcp=tcp,
            serial=serial,
            baud=baud,
            max_clients=max_clients,
            max_buffer=max_buffer,
            max_lag_s=float(lag),
            feed=feed,
            ids=ids,
        )
    )


def pairs_with(picture: Picture, own: str) -> dict[str, PairStatus]:
    """The own vehicle's pair with each other source, keyed by the other's name."""
    return {(p.b if p.a == own else p.a): p for p in picture.pairs if own in (p.a, p.b)}


# ---- serial sink ------------------------------------------------------------------------------


class SerialSink:
    """A serial port written without ever blocking the loop, whole lines only.

    pyserial opens and configures the port; writes go straight to its
    non-blocking file descriptor (pyserial's own zero-timeout write spins on a
    full buffer). Bytes the port does not take stay queued; past ``limit`` the
    queue keeps only the line already started, so the wire never sees half a line.
    """

    def __init__(self, path: str, baud: int, limit: int) -> None:
        self.path = path
        self.baud = baud
        self.limit = limit
        self.pending = bytearray()
        self.dropped_bytes = 0
        self._port: Any = None
        self._fd = -1
        self._inbuf = b""

    @property
    def is_open(self) -> bool:
        """True while the port is open."""
        return self._port is not None

    def open(self) -> None:
        """Open the port; raises ``OSError`` (or pyserial's ``SerialException``) on failure."""
        import serial  # here, not at import time: a missing pyserial must not hide the output

        port = serial.Serial(self.path, self.baud, timeout=0, write_timeout=0)
        self._fd = port.fileno()
        os.set_blocking(self._fd, False)
        self._port = port
        self.pending.clear()

    def write(self, data: bytes) -> None:
        """Queue ``data`` (whole lines) and send what the port takes now."""
        self.pending += data
        if len(self.pending) > self.limit:
            # Keep the line whose start may already be on the wire; drop whole lines after it.
            end = self.pending.find(b"\n") + 1 or len(self.pending)
            self.dropped_bytes += len(self.pending) - end
            del self.pending[end:]
        self.drain()

    def drain(self) -> None:
        """Send queued bytes; raises ``OSError`` when the port has gone."""
        if self._port is None or not self.pending:
            return
        try:
            n = os.write(self._fd, self.pending)
        except BlockingIOError:
            return
        del self.pending[:n]

    def read_lines(self) -> list[bytes]:
        """Whole lines the other side sent (an app's queries); raises ``OSError`` when the port has gone."""
        if self._port is None:
            return []
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return []
        *lines, rest = (self._inbuf + data).split(b"\n")
        self._inbuf = rest if len(rest) <= MAX_QUERY_LINE else b""
        return lines

    def close(self) -> None:
        """Close the port (never raises)."""
        port, self._port = self._port, None
        self.pending.clear()
        self._inbuf = b""
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()


# ---- the output -------------------------------------------------------------------------------


class FlarmOutput:
    """The FLARM feed as a daemon output (:class:`sepmon.outputs.base.Output`); it reads only the picture."""

    name = "flarm"

    def __init__(self, settings: FlarmSettings) -> None:
        self.settings = settings
        self.ids = IdBook(settings.ids)
        self.bursts = 0
        self.dropped_clients = 0
        self.errors = 0
        self._host: OutputHost | None = None
        self._server: asyncio.Server | None = None
        self._clients: dict[asyncio.StreamWriter, _Client] = {}
        self._serial = (
            SerialSink(settings.serial, settings.baud, settings.max_buffer)
            if settings.serial is not None
            else None
        )
        self._next_burst = -math.inf
        self._next_retry = -math.inf
        self._last_fix_t: float | None = None
        self._problems: dict[str, str] = {}
        self._opening: asyncio.Task[None] | None = None
        self._warned_exposed = False

    # ---- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int | None:
        """The TCP port actually listened on (useful with ``port = 0``), None when not listening."""
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def client_count(self) -> int:
        """TCP clients connected now."""
        return len(self._clients)

    async def start(self, host: OutputHost) -> None:
        """Listen and open the serial port; a failure is reported and retried, never raised."""
        self._host = host
        await self._open()

    async def _open(self) -> None:
        s = self.settings
        if s.tcp and self._server is None:
            try:
                self._server = await asyncio.start_server(self._client, s.bind, s.port)
                self._resolved("tcp", f"serving FLARM feed on {s.bind}:{self.port}")
                if exposed(s.bind) and not self._warned_exposed:
                    self._warned_exposed = True  # once per run, not at every re-listen
                    anyone = "all interfaces" if s.bind in ("0.0.0.0", "::") else "not loopback"
                    self._report(
                        "exposed",
                        f"FLARM feed on {s.bind}:{self.port} ({anyone}): anyone who can reach it "
                        "sees the traffic picture; firewall it or bind 127.0.0.1",
                    )
            except OSError as exc:
                self._problem("tcp", f"cannot listen on {s.bind}:{s.port}: {exc.strerror or exc}")
        if self._serial is not None and not self._serial.is_open:
            try:
                self._serial.open()
                self._resolved("serial", f"serial {s.serial} open")
            except Exception as exc:  # pyserial raises its own types besides OSError
                self._problem("serial", f"cannot open serial {s.serial}: {exc}")

    async def stop(self) -> None:
        """Close every client, the server and the serial port."""
        for w in list(self._clients):
            self._drop(w, abort=False)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        if self._serial is not None:
            self._serial.close()

    # ---- daemon callbacks -------------------------------------------------------------------

    def on_fix(self, fix: Fix) -> None:
        """Nothing: the burst reads the picture's tracks."""

    def on_event(self, event: Event, picture: Picture) -> None:
        """Nothing: alarms are read from the picture's pairs."""

    def on_tick(self, now: float, picture: Picture) -> None:
        """Send a burst when one is due; retry failed ports. Never raises."""
        try:
            if (
                now >= self._next_retry
                and self._needs_retry()
                and (self._opening is None or self._opening.done())
            ):
                self._next_retry = now + RETRY_S
                self._opening = asyncio.get_running_loop().create_task(self._open())
            self._serial_io(None)
            if now < self._next_burst:
                return
            # Keep a 1 s rhythm, but restart it after a stall or a clock jump rather than catch up.
            self._next_burst = (
                self._next_burst + BURST_S if now - self._next_burst < BURST_S else now + BURST_S
            )
            self.send(self.sentences(picture))
        except Exception as exc:  # an output must never take the daemon down
            self.errors += 1
            if self.errors in (1, 10, 100, 1000):
                log.exception("flarm output: %s", exc)
                self._report("flarm_error", f"{type(exc).__name__}: {exc} ({self.errors} so far)")

    # ---- building and sending ---------------------------------------------------------------

    def sentences(self, picture: Picture) -> list[str]:
        """This second's sentences from the picture."""
        own_name = picture.canonical(self.settings.own)
        self._own_name = own_name
        states = picture.states()
        entry = picture.track(own_name)
        own = entry.state if entry is not None else None
        fix = entry.fix if entry is not None else None
        new_fix = fix is not None and fix.t != self._last_fix_t
        if fix is not None:
            self._last_fix_t = fix.t
        return burst(
            own,
            states,
            pairs_with(picture, own_name),
            self.ids,
            self.settings.feed,
            own_fix=fix,
            new_fix=new_fix,
        )

    def send(self, sentences: list[str]) -> None:
        """Write one burst to every client and the serial port, whole."""
        if not sentences:
            return
        data = ("\r\n".join(sentences) + "\r\n").encode("ascii")
        self.bursts += 1
        self.broadcast(data)
        self._serial_io(data)

    def broadcast(self, data: bytes) -> None:
        """Queue ``data`` to every TCP client; cut off any client that is too far behind.

        Behind means more than ``max_buffer`` bytes waiting (ours and the kernel's send
        queue), or the oldest burst still waiting written more than ``max_lag_s`` ago.
        """
        limit = self.settings.max_buffer
        now = time.monotonic()
        for w, c in list(self._clients.items()):
            if w.is_closing():
                self._drop(w, abort=False)
                continue
            backlog = w.transport.get_write_buffer_size() + _kernel_queue(w)
            delivered = c.written - backlog
            while c.marks and c.marks[0][0] <= delivered:
                c.marks.popleft()
            why = ""
            if backlog > limit:
                why = f"{backlog} bytes behind"
            elif c.marks and now - c.marks[0][1] > self.settings.max_lag_s:
                why = f"{now - c.marks[0][1]:.1f} s behind ({backlog} bytes waiting)"
            if why:  # the client is not reading (or the network to it is gone)
                self.dropped_clients += 1
                self._report("flarm_client", f"dropped {_peer(w)}: {why}")
                self._drop(w, abort=True)
                continue
            w.write(data)
            c.written += len(data)
            c.marks.append((c.written, now))

    # ---- internals --------------------------------------------------------------------------

    def _needs_retry(self) -> bool:
        s = self.settings
        return (s.tcp and self._server is None) or (self._serial is not None and not self._serial.is_open)

    def _serial_io(self, data: bytes | None) -> None:
        """Write ``data`` (None: just drain the queue); a port that has gone is closed for a retry."""
        sink = self._serial
        if sink is None or not sink.is_open:
            return
        try:
            if data is None:
                sink.drain()
                for raw in sink.read_lines():  # an app on the serial line asks as over TCP
                    reply = self._reply(raw)
                    if reply is not None:
                        sink.write(reply)
            else:
                sink.write(data)
        except OSError as exc:
            sink.close()
            self._problem("serial", f"serial {self.settings.serial} failed: {exc.strerror or exc}")

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._clients) >= self.settings.max_clients:
            writer.close()  # refused: the app sees a closed connection and retries later
            self.refused += 1
            now = time.monotonic()
            if now - self._refused_reported >= REFUSED_REPORT_S:  # a connect flood is one line, not many
                self._refused_reported = now
                self._report(
                    "flarm_client",
                    f"refused {_peer(writer)}: already {len(self._clients)} clients "
                    f"({self.refused} refused so far)",
                )
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CLIENT_SNDBUF)
        self._clients[writer] = _Client()
        self._report("flarm_client", f"{_peer(writer)} connected")
        try:
            # Apps send queries ($PFLAV, $PFLAC): answer them; reading also learns of a hang-up at once.
            buf = b""
            while chunk := await reader.read(4096):
                *lines, buf = (buf + chunk).split(b"\n")
                if len(buf) > MAX_QUERY_LINE:
                    buf = b""
                for raw in lines:
                    self._query(writer, raw)
        except (ConnectionError, OSError):
            pass
        finally:
            if writer in self._clients:
                self._report("flarm_client", f"{_peer(writer)} disconnected")
            self._drop(writer, abort=False)

    def _query(self, writer: asyncio.StreamWriter, raw: bytes) -> None:
        """Answer one line a client sent, if it is a query we answer (never raises)."""
        if writer not in self._clients:
            return
        data = self._reply(raw)
        if data is not None and not writer.is_closing():
            writer.write(data)
            self._clients[writer].written += len(data)

    def _reply(self, raw: bytes) -> bytes | None:
        """The answer to one line an app sent (TCP or serial), or None."""
        if len(raw) > MAX_QUERY_LINE:
            return None
        s = self.settings
        own = self._own_name or s.own
        info = DeviceInfo(
            own_id=self.ids.id_for(own),
            aircraft_type=s.feed.aircraft_types.get(own, s.feed.aircraft_type),
            range_m=s.feed.range_m,
            baud=s.baud if s.serial is not None else None,
            version=_version(),
        )
        reply = answer(raw.decode("ascii", "replace"), info)
        if reply is None:
            return None
        self.answered += 1
        return (reply + "\r\n").encode("ascii")

    def _drop(self, writer: asyncio.StreamWriter, *, abort: bool) -> None:
        self._clients.pop(writer, None)
        with contextlib.suppress(Exception):
            if abort or writer.transport.get_write_buffer_size() > 0:
                writer.transport.abort()  # a stuck client's queue will never drain: discard it
            else:
                writer.close()

    def _problem(self, what: str, detail: str) -> None:
        """Say once that something is wrong (not at every retry)."""
        if self._problems.get(what) != detail:
            self._problems[what] = detail
            self._report("flarm_down", detail)

    def _resolved(self, what: str, detail: str) -> None:
        self._problems.pop(what, None)
        self._report("flarm_up", detail)

    refused = 0
    answered = 0
    _refused_reported = -math.inf
    _own_name: str | None = None

    def _report(self, type_: str, detail: str) -> None:
        """An event from this output, through the daemon: event log, console, other outputs."""
        log.info("flarm output: %s", detail)
        host = self._host
        if host is None:
            return
        with contextlib.suppress(Exception):
            host.report(Event(t=host.clock(), type=type_, a="flarm", detail=detail))


def _peer(writer: asyncio.StreamWriter) -> str:
    """``host:port`` of a TCP client, for events."""
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"client {peer[0]}:{peer[1]}"
    return "a client"


class _Client:
    """What the feed keeps per TCP client: bytes written, and when each burst was."""

    __slots__ = ("marks", "written")

    def __init__(self) -> None:
        self.written = 0
        self.marks: deque[tuple[int, float]] = deque()  # (bytes written up to a burst's end, when)


def _kernel_queue(writer: asyncio.StreamWriter) -> int:
    """Bytes in the socket's kernel send queue (Linux ``SIOCOUTQ``); 0 when it cannot tell."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return 0
    try:
        got = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")  # SIOCOUTQ is TIOCOUTQ
    except (OSError, ValueError):
        return 0
    return max(0, int(struct.unpack("i", got)[0]))


def _version() -> str:
    """sepmon's version in FLARM's ``x.yy`` form (0.1.0 → 0.10) for ``$PFLAV``."""
    parts = [*SEPMON_VERSION.split("."), "0", "0"]
    try:
        return f"{int(parts[0])}.{int(parts[1])}{int(parts[2])}"
    except ValueError:
        return "0.00"
