"""The daemon over pyserial URLs (socket://, rfc2217://, loop://) and its live view."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import serial
import serial.rfc2217
from rich.console import Console

from sepmon.apps.daemon import Daemon
from sepmon.core.config import parse_config
from sepmon.core.model import Event
from sepmon.links.sources import spec_from_arg
from sepmon.presentation.liveview import LiveView
from sepmon.sim import simulate


def _lines(source: str) -> list[bytes]:
    sim = simulate("head-on", seed=3, rate=5, cpa_time=20.0, duration=30.0)
    return [r.data for r in sim.records if r.source == source]


@contextmanager
def nmea_server(lines: list[bytes], period_s: float = 0.002) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that streams ``lines`` to each client (a receiver on a network port)."""
    srv = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                for line in lines:
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(line)
                    except OSError:
                        break
                    time.sleep(period_s)

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        th.join(timeout=5)
        srv.close()


class _Writer:
    """PortManager writes its telnet negotiation through ``.write``."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn

    def write(self, data: bytes) -> None:
        self.conn.sendall(data)


@contextmanager
def rfc2217_server(lines: list[bytes]) -> Iterator[int]:
    """pyserial's own RFC 2217 port manager in front of a loop:// port fed with ``lines``."""
    srv = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            port = serial.serial_for_url("loop://", timeout=0.05)
            manager = serial.rfc2217.PortManager(port, _Writer(conn))
            conn.settimeout(0.01)
            pending = list(lines)
            with conn:
                while not stop.is_set():
                    try:
                        data = conn.recv(1024)
                        if not data:
                            break
                        for _ in manager.filter(data):
                            pass  # client → port bytes: nothing to do for a receiver
                    except TimeoutError:
                        pass
                    except OSError:
                        break
                    if pending:
                        port.write(pending.pop(0))
                    waiting = port.read(port.in_waiting or 1)
                    if waiting:
                        try:
                            conn.sendall(b"".join(manager.escape(waiting)))
                        except OSError:
                            break

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        th.join(timeout=5)
        srv.close()


async def _run_until(daemon: Daemon, done: asyncio.Event, timeout: float) -> None:
    task = asyncio.create_task(daemon.serve(install_signals=False))
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        daemon.stop()
        await task


def _acquire(urls: dict[str, str], want: set[str], timeout: float = 15.0) -> tuple[Daemon, list[Event]]:
    events: list[Event] = []

    async def main() -> Daemon:
        done = asyncio.Event()

        def on_event(ev: Event) -> None:
            events.append(ev)
            if {e.a for e in events if e.type == "acquired"} >= want:
                done.set()

        specs = [spec_from_arg(f"{name}={url}") for name, url in urls.items()]
        daemon = Daemon(parse_config({}), specs, on_event=on_event)
        await _run_until(daemon, done, timeout)
        return daemon

    return asyncio.run(main()), events


def test_socket_url_reads_a_network_receiver() -> None:
    with nmea_server(_lines("alpha")) as port:
        daemon, events = _acquire({"alpha": f"socket://127.0.0.1:{port}"}, {"alpha"})
    assert any(e.type == "port_up" and e.a == "alpha" for e in events)
    assert daemon.ingests["alpha"].stats["alpha"].fixes > 0


def test_rfc2217_url_reads_through_a_port_server() -> None:
    with rfc2217_server(_lines("bravo")) as port:
        daemon, _ = _acquire({"bravo": f"rfc2217://127.0.0.1:{port}"}, {"bravo"})
    assert daemon.ingests["bravo"].stats["bravo"].fixes > 0


def test_loop_url_opens_and_unreachable_url_is_reported() -> None:
    events: list[Event] = []

    async def main() -> None:
        specs = [spec_from_arg("l=loop://"), spec_from_arg("gone=socket://127.0.0.1:1")]
        daemon = Daemon(parse_config({}), specs, on_event=events.append)
        task = asyncio.create_task(daemon.serve(install_signals=False))
        await asyncio.sleep(1.0)
        daemon.stop()
        await task

    asyncio.run(main())
    assert any(e.type == "port_up" and e.a == "l" for e in events)
    down = [e for e in events if e.type == "port_down" and e.a == "gone"]
    assert len(down) == 1 and down[0].detail  # one line with the reason, not one per retry


def test_live_view_shows_sources_pairs_and_boards() -> None:
    with nmea_server(_lines("alpha")) as pa, nmea_server(_lines("bravo")) as pb:
        daemon, _ = _acquire(
            {"alpha": f"socket://127.0.0.1:{pa}", "bravo": f"socket://127.0.0.1:{pb}"}, {"alpha", "bravo"}
        )
    console = Console(record=True, width=160, color_system=None)
    console.print(LiveView(daemon).render())
    text = console.export_text()
    for needle in ("Sources", "Pairs", "Boards", "alpha", "bravo", "alpha ↔ bravo", "q1"):
        assert needle in text, needle


def test_serial_reads_coalesce_while_the_loop_is_busy() -> None:
    """A busy loop gets one callback with everything read meanwhile, not one per read."""
    import os
    import tty

    from sepmon.links.sources import SerialLink

    master, slave = os.openpty()
    tty.setraw(slave)
    calls: list[bytes] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        up = asyncio.Event()
        link = SerialLink(
            spec_from_arg(f"p={os.ttyname(slave)}"),
            loop,
            lambda _k, data, _t: calls.append(data),
            lambda _k, is_up, _d: up.set() if is_up else None,
        )
        link.start()
        await asyncio.wait_for(up.wait(), 5)
        for k in range(200):
            os.write(master, b"$GPTXT,%03d*00\r\n" % k)
            time.sleep(0.001)  # the loop is blocked: reads pile up in the link
        await asyncio.sleep(0.3)
        link.stop()

    try:
        asyncio.run(main())
    finally:
        os.close(master)
        os.close(slave)
    data = b"".join(calls)
    assert data == b"".join(b"$GPTXT,%03d*00\r\n" % k for k in range(200))  # nothing lost, in order
    assert len(calls) <= 3
