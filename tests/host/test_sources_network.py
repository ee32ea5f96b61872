"""Network sources under hostile input: bind addresses, endless lines, floods, too many peers.

Everything runs on 127.0.0.1 with port 0; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import sepmon.links.sources as sources
from sepmon.apps.daemon import Daemon
from sepmon.core.checksum import frame_sentence
from sepmon.core.config import parse_config
from sepmon.core.errors import ConfigError
from sepmon.core.model import Event
from sepmon.links.open import open_link
from sepmon.links.sources import MAX_PEER_LINE, NetworkLink, SourceSpec, parse_source

GGA = frame_sentence("GPGGA,120000.00,4715.234,N,01119.520,E,1,10,0.9,1500.0,M,47.0,M,,")
LINE = (GGA + "\r\n").encode()


class Sink:
    """What a link hands on: data per call, state changes, events."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.chunks: list[bytes] = []
        self.states: list[tuple[bool, str]] = []
        self.events: list[Event] = []

    def on_data(self, key: str, data: bytes, rx_t: float) -> None:
        self.data += data
        self.chunks.append(data)

    def on_state(self, key: str, up: bool, detail: str) -> None:
        self.states.append((up, detail))

    def of_type(self, type_: str) -> list[Event]:
        return [e for e in self.events if e.type == type_]


async def wait_for(cond: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def spec(url: str, **limits: Any) -> SourceSpec:
    return parse_source("test", {"name": "net", "url": url, **limits})


async def started(s: SourceSpec, sink: Sink) -> NetworkLink:
    link = open_link(s, asyncio.get_running_loop(), sink.on_data, sink.on_state, on_event=sink.events.append)
    assert isinstance(link, NetworkLink)
    link.start()
    if s.kind in ("tcp-listen", "udp"):
        await wait_for(lambda: link.address is not None)
    return link


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), 20))


# ---- bind addresses --------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["tcp-listen://:0", "udp://:0", "tcp-listen://127.0.0.1:0"])
def test_listeners_bind_loopback_unless_told_otherwise(url: str) -> None:
    async def main() -> None:
        sink = Sink()
        link = await started(spec(url), sink)
        assert link.address is not None and link.address[0] == "127.0.0.1"
        assert sink.states[-1][0] and "127.0.0.1" in sink.states[-1][1]
        assert sink.events == []  # loopback: nothing to warn about
        link.stop()

    run(main)


@pytest.mark.parametrize("url", ["tcp-listen://0.0.0.0:0", "udp://0.0.0.0:0"])
def test_all_interfaces_is_allowed_and_reported_once(url: str) -> None:
    async def main() -> None:
        sink = Sink()
        link = await started(spec(url), sink)
        assert link.address is not None and link.address[0] == "0.0.0.0"
        await asyncio.sleep(0.05)
        [ev] = sink.events
        assert ev.type == "exposed" and ev.a == "net"
        assert "0.0.0.0" in (ev.detail or "") and "all interfaces" in (ev.detail or "")
        link.stop()

    run(main)


def test_exposed_address_classification() -> None:
    assert not sources.exposed("127.0.0.1") and not sources.exposed("::1")
    assert not sources.exposed("127.0.0.53") and not sources.exposed("localhost")
    assert sources.exposed("0.0.0.0") and sources.exposed("::") and sources.exposed("192.168.1.5")
    assert sources.exposed("myhost.example")  # a name: assume the worst
    assert spec("tcp-listen://[::1]:4000").host_port == ("::1", 4000)


def test_the_daemon_logs_an_exposed_listener() -> None:
    async def main() -> None:
        events: list[Event] = []
        d = Daemon(parse_config({}), [spec("udp://0.0.0.0:0")], on_event=events.append)
        task = asyncio.create_task(d.serve(install_signals=False))
        await wait_for(lambda: any(e.type == "exposed" for e in events))
        d.stop()
        await asyncio.wait_for(task, 5)
        assert sum(e.type == "exposed" for e in events) == 1

    run(main)


# ---- line length -----------------------------------------------------------------------------


def test_endless_line_from_a_tcp_peer_is_dropped_without_buffering() -> None:
    async def main() -> None:
        sink = Sink()
        link = await started(spec("tcp-listen://:0"), sink)
        assert link.address is not None
        _, w = await asyncio.open_connection("127.0.0.1", link.address[1])
        await wait_for(lambda: len(link.peers) == 1)
        [peer] = link.peers
        junk = b"$GPGGA," + b"7" * 65536
        biggest = 0
        for _ in range(64):  # 4 MiB without a terminator
            w.write(junk)
            await w.drain()
            await asyncio.sleep(0)
            assert peer.gate is not None
            biggest = max(biggest, len(peer.gate._tail))
        assert biggest <= MAX_PEER_LINE
        assert sink.data == b""
        w.write(b"tail of the endless line\r\n" + LINE)
        await w.drain()
        await wait_for(lambda: bytes(sink.data).lstrip(b"\r\n") == LINE)
        assert link.stats["overlong"] == 1
        w.close()
        link.stop()

    run(main)


def test_endless_line_from_the_server_a_tcp_source_connects_to() -> None:
    async def main() -> None:
        async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            for _ in range(32):
                w.write(b"x" * 65536)
                await w.drain()
            w.write(b"\n" + LINE)
            await w.drain()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sink = Sink()
        link = await started(spec(f"tcp://127.0.0.1:{port}"), sink)
        await wait_for(lambda: bytes(sink.data).lstrip(b"\r\n") == LINE)
        assert link.stats["overlong"] == 1
        link.stop()
        server.close()

    run(main)


def test_peers_of_one_listener_do_not_splice_lines() -> None:
    async def main() -> None:
        sink = Sink()
        link = await started(spec("tcp-listen://:0"), sink)
        assert link.address is not None
        _, a = await asyncio.open_connection("127.0.0.1", link.address[1])
        _, b = await asyncio.open_connection("127.0.0.1", link.address[1])
        await wait_for(lambda: len(link.peers) == 2)
        a.write(LINE[:20])  # a hostile (or slow) peer leaves half a line
        await a.drain()
        await asyncio.sleep(0.05)
        b.write(LINE)
        await b.drain()
        await wait_for(lambda: len(sink.data) >= len(LINE))
        assert bytes(sink.data) == LINE
        a.close()  # its half line goes with it
        await wait_for(lambda: len(link.peers) == 1)
        b.write(LINE)
        await b.drain()
        await wait_for(lambda: bytes(sink.data) == LINE * 2)
        b.close()
        link.stop()

    run(main)


# ---- rate per peer ---------------------------------------------------------------------------


def test_tcp_peer_over_its_byte_rate_is_cut_to_whole_lines_and_reported_once() -> None:
    async def main() -> None:
        sink = Sink()
        link = await started(spec("tcp-listen://:0", max_rate_bps=2000), sink)
        assert link.address is not None
        _, w = await asyncio.open_connection("127.0.0.1", link.address[1])
        t0 = time.monotonic()
        sent = 0
        for _ in range(20):  # ~15 kB in well under a second, in several reads
            w.write(LINE * 10)
            sent += len(LINE) * 10
            await w.drain()
            await asyncio.sleep(0.005)
        await wait_for(lambda: link.stats["rate_dropped_bytes"] + len(sink.data) == sent)
        elapsed = time.monotonic() - t0
        assert len(sink.data) <= 2000 * (sources.BUCKET_S + elapsed)  # bucket depth + refill
        assert len(sink.data) >= 2000 * sources.BUCKET_S - len(LINE)
        assert bytes(sink.data) == LINE * (len(sink.data) // len(LINE))  # whole lines only
        assert link.stats["rate_dropped_lines"] == (sent - len(sink.data)) // len(LINE)
        [ev] = sink.of_type("rate_limited")
        assert "2000 B/s" in (ev.detail or "") and "127.0.0.1:" in (ev.detail or "")
        assert link.stats["rate_limited"] == 1
        w.close()
        link.stop()

    run(main)


def test_tcp_peer_over_its_line_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "QUIET_S", 0.3)

    async def main() -> None:
        sink = Sink()
        link = await started(spec("tcp-listen://:0", max_rate_lps=5), sink)
        assert link.address is not None
        _, w = await asyncio.open_connection("127.0.0.1", link.address[1])
        t0 = time.monotonic()
        w.write(b"$X*00\r\n" * 100)  # short lines: far under the byte rate, far over the line rate
        await w.drain()
        await wait_for(lambda: link.stats["rate_dropped_lines"] + sink.data.count(b"\n") == 100)
        # The bucket holds 2 s worth (10 lines), plus what accrues while the reads arrive.
        assert 10 <= sink.data.count(b"\n") <= 10 + 5 * (time.monotonic() - t0) + 1
        assert len(sink.of_type("rate_limited")) == 1
        await asyncio.sleep(0.6)  # quiet for longer than QUIET_S: the next flood is a new burst
        w.write(b"$X*00\r\n" * 100)
        await w.drain()
        await wait_for(lambda: link.stats["rate_dropped_lines"] + sink.data.count(b"\n") == 200)
        assert len(sink.of_type("rate_limited")) == 2
        w.close()
        link.stop()

    run(main)


def test_udp_rate_is_per_sender_address() -> None:
    async def main() -> None:
        sink = Sink()
        link = await started(spec("udp://:0", max_rate_bps=1000), sink)
        assert link.address is not None
        flood, calm = (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
        )
        try:
            for s in (flood, calm):
                s.bind(("127.0.0.1", 0))
            for _ in range(100):
                flood.sendto(LINE, link.address)
            for _ in range(5):
                calm.sendto(LINE, link.address)
            await wait_for(lambda: link.stats["rate_dropped_bytes"] + len(sink.data) == 105 * len(LINE))
            from_flood = len(sink.data) // len(LINE) - 5
            assert 1 <= from_flood <= 2000 * 1.5 // len(LINE)
            assert link.stats["rate_dropped_lines"] == 100 - from_flood
            [ev] = sink.of_type("rate_limited")
            assert f"127.0.0.1:{flood.getsockname()[1]}" in (ev.detail or "")
            assert link.senders == 2
        finally:
            flood.close()
            calm.close()
            link.stop()

    run(main)


# ---- number of peers -------------------------------------------------------------------------


def test_tcp_peer_beyond_max_peers_is_refused_and_counted() -> None:
    async def main() -> None:
        sink = Sink()
        link = await started(spec("tcp-listen://:0", max_peers=3), sink)
        assert link.address is not None
        port = link.address[1]
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        await wait_for(lambda: len(link.peers) == 3)
        for _ in range(4):  # peers 4..7: closed at once
            r, w = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(r.read(), 2.0) == b""
            w.close()
        assert link.stats["peers_refused"] == 4
        [ev] = sink.of_type("peer_refused")  # one event for the burst
        assert "already 3 connections" in (ev.detail or "")
        await asyncio.sleep(0.05)
        assert len(link.peers) == 3  # refusals did not free slots
        conns[0][1].close()
        await wait_for(lambda: len(link.peers) == 2)
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(LINE)
        await w.drain()
        await wait_for(lambda: bytes(sink.data) == LINE)  # a freed slot is usable again
        assert link.stats["peers_refused"] == 4
        for _, cw in conns[1:]:
            cw.close()
        w.close()
        link.stop()

    run(main)


def test_udp_tracks_a_bounded_number_of_senders(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        sink = Sink()
        link = await started(spec("udp://:0", max_peers=2), sink)
        assert link.address is not None
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
        try:
            for s in socks:
                s.bind(("127.0.0.1", 0))
                s.sendto(LINE, link.address)
                await asyncio.sleep(0.02)
            await wait_for(lambda: link.stats["peers_refused"] == 1)
            assert link.senders == 2 and bytes(sink.data) == LINE * 2
            [ev] = sink.of_type("peer_refused")
            assert f"127.0.0.1:{socks[2].getsockname()[1]}" in (ev.detail or "")
            monkeypatch.setattr(sources, "SENDER_IDLE_S", 0.0)  # the first two are now idle
            socks[2].sendto(LINE, link.address)
            await wait_for(lambda: bytes(sink.data) == LINE * 3)
            assert link.senders == 1
        finally:
            for s in socks:
                s.close()
            link.stop()

    run(main)


# ---- configuration ---------------------------------------------------------------------------


def test_limits_default_and_configurable() -> None:
    s = spec("tcp-listen://:4000")
    assert (s.max_peers, s.max_rate_bps, s.max_rate_lps) == (16, 65536, 1000)
    s = spec("udp://:4000", max_peers=100, max_rate_bps=1_000_000, max_rate_lps=50)
    assert (s.max_peers, s.max_rate_bps, s.max_rate_lps) == (100, 1_000_000, 50)
    assert spec("tcp://127.0.0.1:4000", max_rate_bps=5000).max_rate_bps == 5000


@pytest.mark.parametrize(
    ("url", "extra", "message"),
    [
        ("tcp-listen://:1", {"max_peers": 0}, r"^test\.max_peers: expected a whole number from 1 to 1024"),
        ("tcp-listen://:1", {"max_peers": True}, r"^test\.max_peers: "),
        ("udp://:1", {"max_rate_bps": 10}, r"^test\.max_rate_bps: expected a whole number from 100"),
        ("udp://:1", {"max_rate_lps": "5"}, r"^test\.max_rate_lps: "),
        ("tcp://h:1", {"max_peers": 4}, r"^test\.max_peers: only for tcp-listen://, udp:// sources"),
        ("/dev/ttyUSB0", {"max_rate_bps": 1000}, r"^test\.max_rate_bps: only for tcp://"),
        ("udp://:1", {"max_rate": 1000}, r"^test\.max_rate: unknown key"),
    ],
)
def test_limit_errors_are_one_line(url: str, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        spec(url, **extra)
    assert "\n" not in str(err.value) and err.value.status == 2
