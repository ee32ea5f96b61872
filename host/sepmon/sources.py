"""Where bytes come from: source specs from the config, and the readers at the I/O edge.

Each reader calls ``on_data(key, data, rx_t)`` on the event loop with the bytes it
read and the host time they arrived, and ``on_state(key, up, detail)`` when the
link goes up or down. Readers never raise: a link that fails is reported and
retried with backoff until the daemon stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import serial

from sepmon.errors import ConfigError
from sepmon.model import Fix

OnData = Callable[[str, bytes, float], None]
OnState = Callable[[str, bool, str], None]
OnFix = Callable[[str, "Fix"], None]

KINDS = ("serial", "tcp", "tcp-listen", "udp", "file", "gpsd")
BACKOFF_S = (0.1, 0.2, 0.5, 1.0)  # then 1 s forever: a replugged cable is back within ~1 s
MAX_PEERS = 16
MAX_PEER_LINE = 4096


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

    @property
    def host_port(self) -> tuple[str, int]:
        """``(host, port)`` of a network URL."""
        rest = self.url.split("://", 1)[1]
        host, _, port = rest.rpartition(":")
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
        if key not in ("name", "url", "baud", "board"):
            raise ConfigError(f"{where}.{key}: unknown key")
    name, url = entry.get("name"), entry.get("url")
    if not isinstance(name, str) or not name or "," in name or "*" in name:
        raise ConfigError(f"{where}.name: expected a source name without ',' or '*'")
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{where}.url: expected a device path or URL")
    kind = _kind(url)
    baud = entry.get("baud", 115200)
    if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
        raise ConfigError(f"{where}.baud: expected a positive whole number, got {baud!r}")
    board = entry.get("board", kind == "serial")
    if not isinstance(board, bool):
        raise ConfigError(f"{where}.board: expected true or false")
    spec = SourceSpec(name=name, url=url, kind=kind, baud=baud, board=board and kind == "serial")
    if kind in ("tcp", "tcp-listen", "udp", "gpsd"):
        try:
            spec.host_port  # noqa: B018 - validation
        except ValueError:
            raise ConfigError(f"{where}.url: expected {kind}://HOST:PORT, got {url!r}") from None
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
    return parse_source(f"source {arg!r}", {"name": name, "url": url})


class SerialLink:
    """A serial port (or pyserial URL) read by its own thread, reopened when it fails.

    pyserial has no asyncio API of its own; one blocking reader thread per port
    is the simplest way to get bytes with sub-millisecond latency on every URL
    type pyserial supports.
    """

    def __init__(self, spec: SourceSpec, loop: asyncio.AbstractEventLoop, on_data: OnData, on_state: OnState):
        self.spec = spec
        self.loop = loop
        self.on_data = on_data
        self.on_state = on_state
        self._port: serial.SerialBase | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"serial:{spec.name}", daemon=True)
        self.up = False

    def start(self) -> None:
        """Start the reader thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and close the port."""
        self._stop.set()
        self._close()
        self._thread.join(timeout=2.0)

    def write(self, data: bytes) -> bool:
        """Write to the port if it is open; False when it is not (never raises)."""
        port = self._port
        if port is None:
            return False
        try:
            with self._lock:
                port.write(data)
            return True
        except (serial.SerialException, OSError, ValueError, TypeError) as exc:
            self._fail(f"write failed: {exc}")
            return False

    def _close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def _fail(self, detail: str) -> None:
        was_up = self.up
        self.up = False
        self._close()
        if was_up:
            self.loop.call_soon_threadsafe(self.on_state, self.spec.name, False, detail)

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
                    self.loop.call_soon_threadsafe(self.on_state, self.spec.name, False, msg)
                self._stop.wait(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                attempt += 1
                continue
            attempt, last_error = 0, ""
            self._port = port
            self.up = True
            self.loop.call_soon_threadsafe(self.on_state, self.spec.name, True, self.spec.url)
            while not self._stop.is_set():
                try:
                    data = port.read(max(1, port.in_waiting))
                except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                    # TypeError/AttributeError: pyserial after close() from another thread.
                    if not self._stop.is_set():
                        self._fail(str(exc) or type(exc).__name__)
                    break
                if data:
                    self.loop.call_soon_threadsafe(self.on_data, self.spec.name, data, time.time())


class _StreamProtocol(asyncio.Protocol):
    def __init__(self, key: str, on_data: OnData, on_lost: Callable[[str], None]) -> None:
        self.key = key
        self.on_data = on_data
        self.on_lost = on_lost

    def data_received(self, data: bytes) -> None:
        self.on_data(self.key, data, time.time())

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_lost(str(exc) if exc else "connection closed")


class _DatagramProtocol(asyncio.DatagramProtocol):
    def __init__(self, key: str, on_data: OnData) -> None:
        self.key = key
        self.on_data = on_data

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        # A datagram is whole sentences; make sure the last one is terminated.
        self.on_data(self.key, data if data.endswith(b"\n") else data + b"\r\n", time.time())


class NetworkLink:
    """TCP client, TCP server or UDP listener; reconnects (client) with backoff."""

    def __init__(self, spec: SourceSpec, loop: asyncio.AbstractEventLoop, on_data: OnData, on_state: OnState):
        self.spec = spec
        self.loop = loop
        self.on_data = on_data
        self.on_state = on_state
        self.up = False
        self._task: asyncio.Task[None] | None = None
        self._closers: list[Callable[[], None]] = []
        self._peers = 0

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

    def write(self, data: bytes) -> bool:
        """Network sources are read-only."""
        return False

    def _state(self, up: bool, detail: str) -> None:
        if up != self.up or not up:
            self.up = up
            self.on_state(self.spec.name, up, detail)

    async def _run(self) -> None:
        host, port = self.spec.host_port
        kind = self.spec.kind
        try:
            if kind == "udp":
                udp, _ = await self.loop.create_datagram_endpoint(
                    lambda: _DatagramProtocol(self.spec.name, self.on_data), local_addr=(host, port)
                )
                self._closers.append(udp.close)
                self._state(True, f"listening udp {host}:{port}")
                return
            if kind == "tcp-listen":
                server = await self.loop.create_server(self._accept, host, port)
                self._closers.append(server.close)
                self._state(True, f"listening tcp {host}:{port}")
                return
        except OSError as exc:
            self._state(False, f"cannot listen on {host}:{port}: {exc.strerror or exc}")
            return
        attempt = 0
        while True:
            lost = asyncio.Event()

            def on_lost(detail: str, lost: asyncio.Event = lost) -> None:
                self._state(False, detail)
                lost.set()

            def factory(on_lost: Callable[[str], None] = on_lost) -> asyncio.Protocol:
                return _StreamProtocol(self.spec.name, self.on_data, on_lost)

            try:
                transport, _ = await self.loop.create_connection(factory, host, port)
            except OSError as exc:
                self._state(False, f"connect {host}:{port}: {exc.strerror or exc}")
                await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                attempt += 1
                continue
            attempt = 0
            self._closers.append(transport.close)
            self._state(True, f"connected to {host}:{port}")
            await lost.wait()

    def _accept(self) -> asyncio.Protocol:
        link = self

        class Peer(_StreamProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                if link._peers >= MAX_PEERS:  # bounded: a flood of peers can't exhaust us
                    transport.close()
                    return
                link._peers += 1

            def connection_lost(self, exc: Exception | None) -> None:
                link._peers = max(0, link._peers - 1)

        return Peer(self.spec.name, self.on_data, lambda _d: None)


class FileLink:
    """Follows a file as it grows (like ``tail -f``): for logs written by other programs."""

    def __init__(self, spec: SourceSpec, loop: asyncio.AbstractEventLoop, on_data: OnData, on_state: OnState):
        self.spec = spec
        self.loop = loop
        self.on_data = on_data
        self.on_state = on_state
        self.up = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start following."""
        self._task = self.loop.create_task(self._run())

    def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()

    def write(self, data: bytes) -> bool:
        """Files are read-only."""
        return False

    async def _run(self) -> None:
        path = Path(self.spec.url.split("://", 1)[1])
        pos = 0
        while True:
            try:
                with open(path, "rb") as fh:
                    if not self.up:
                        self.up = True
                        self.on_state(self.spec.name, True, str(path))
                    fh.seek(pos)
                    while True:
                        data = fh.read(65536)
                        if data:
                            pos += len(data)
                            self.on_data(self.spec.name, data, time.time())
                            continue
                        if path.stat().st_size < pos:  # truncated or rotated: start over
                            pos = 0
                            break
                        await asyncio.sleep(0.1)
            except OSError as exc:
                if self.up:
                    self.up = False
                    self.on_state(self.spec.name, False, f"{path}: {exc.strerror or exc}")
                await asyncio.sleep(1.0)


class LinkLike(Protocol):
    """What the daemon needs of any link."""

    spec: SourceSpec
    up: bool

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def write(self, data: bytes) -> bool: ...


Link = SerialLink | NetworkLink | FileLink | LinkLike


def open_link(
    spec: SourceSpec,
    loop: asyncio.AbstractEventLoop,
    on_data: OnData,
    on_state: OnState,
    on_fix: OnFix | None = None,
) -> Link:
    """The reader for a spec (not started). Links that deliver fixes, not bytes, use ``on_fix``."""
    if spec.kind == "gpsd":
        from sepmon.gpsd import GpsdLink  # lazy: only configurations that use gpsd need it

        if on_fix is None:
            raise ValueError("a gpsd link needs on_fix")
        return GpsdLink(spec, loop, on_fix, on_state)
    if spec.kind == "serial":
        return SerialLink(spec, loop, on_data, on_state)
    if spec.kind == "file":
        return FileLink(spec, loop, on_data, on_state)
    return NetworkLink(spec, loop, on_data, on_state)
