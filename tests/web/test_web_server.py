"""The web view's server without a browser: configuration, security headers, tokens, viewers.

Oracles: the HTTP, cookie and WebSocket rules as aiohttp's own client applies them
(status codes, Set-Cookie attributes, the WebSocket handshake), the HTML parser of
the standard library (every asset the page names is served from this origin), and
the loopback/other-address split of the ``ipaddress`` module.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sepmon.core.errors import ConfigError
from sepmon.core.model import Event, Fix, Level, Minima, PairStatus, TrackState
from sepmon.core.picture import Picture, TrackEntry
from sepmon.outputs.web import WebOutput, from_config, parse_address, parse_settings
from sepmon.outputs.web.settings import WebSettings

TOKEN = "s3cret-token-0123456789abcdef"


class Host:
    """Stands in for the daemon: a clock and the events the output reports."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def clock(self) -> float:
        return 1_700_000_000.0

    def report(self, event: Event) -> None:
        self.events.append(event)


def _picture(n: int = 3, t: float = 1_700_000_000.0) -> Picture:
    tracks = []
    for i in range(n):
        lat, lon = 47.0 + i * 1e-3, 11.0 + (i % 100) * 1e-3
        fix = Fix(f"s{i:04d}", t, lat, lon, 500.0, 50.0, 90.0, 1, 0.9, 9, t)
        st = TrackState(f"s{i:04d}", t, lat, lon, 500.0, 50.0, 0.0, 0.0, 1, 0.9, 0.0, False)
        tracks.append(TrackEntry(st, fix, t))
    pairs = (PairStatus("s0000", "s0001", t, Level.WARNING, Level.WARNING, 111.0, 0.0, 90.0, 3.0, 10.0),)
    return Picture(t=t, monitor_t=t, tracks=tuple(tracks), pairs=pairs)


async def _started(settings: WebSettings) -> tuple[WebOutput, Host, str]:
    out = WebOutput(settings, Minima())
    host = Host()
    await out.start(host)
    assert out.port is not None
    return out, host, f"http://127.0.0.1:{out.port}"


# ---- configuration ----------------------------------------------------------------------------


def test_web_address_forms() -> None:
    assert parse_address("8642") == (None, 8642)
    assert parse_address("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_address("[::1]:8642") == ("::1", 8642)
    assert parse_address("localhost:0") == ("localhost", 0)
    for bad in ("", "x", "70000", "::1:8642", ":8642", "[::1]8642", "host:port"):
        with pytest.raises(ConfigError, match="--web"):
            parse_address(bad)


def test_other_addresses_need_a_token_kept_out_of_the_configuration(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a token"):
        parse_settings("web", {"bind": "0.0.0.0"})
    with pytest.raises(ConfigError, match="needs a token"):
        from_config("web", {}, "192.168.1.10:8642")
    assert parse_settings("web", {"bind": "::1"}).token is None  # loopback: no token needed
    assert parse_settings("web", {"bind": "localhost"}).token is None
    with pytest.raises(ConfigError, match="never put a token"):
        parse_settings("web", {"bind": "0.0.0.0", "token": TOKEN})
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="anyone may read"):
        parse_settings("web", {"bind": "0.0.0.0", "token_file": str(secret)})
    secret.chmod(0o600)
    s = parse_settings("web", {"bind": "0.0.0.0", "token_file": str(secret)})
    assert s.token == TOKEN and TOKEN not in repr(s)
    secret.write_text("short\n")
    with pytest.raises(ConfigError, match="at least 16"):
        parse_settings("web", {"bind": "0.0.0.0", "token_file": str(secret)})
    with pytest.raises(ConfigError, match="cannot read"):
        parse_settings("web", {"token_file": str(tmp_path / "missing")})
    os.environ["SEPMON_TEST_WEB_TOKEN"] = TOKEN
    try:
        assert parse_settings("web", {"bind": "0.0.0.0", "token_env": "SEPMON_TEST_WEB_TOKEN"}).token == TOKEN
    finally:
        del os.environ["SEPMON_TEST_WEB_TOKEN"]
    with pytest.raises(ConfigError, match="SEPMON_TEST_WEB_TOKEN"):
        parse_settings("web", {"bind": "0.0.0.0", "token_env": "SEPMON_TEST_WEB_TOKEN"})


def test_bad_keys_and_values_are_named() -> None:
    cases = {
        "web.colour: unknown key": {"colour": "red"},
        "web.port": {"port": 70000},
        "web.interval_s": {"interval_s": 2},
        "web.max_queue": {"max_queue": 0},
        "web.tiles": {"tiles": "ftp://tiles/{z}/{x}/{y}.png"},
        "web.enabled": {"enabled": "yes"},
    }
    for message, table in cases.items():
        with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
            parse_settings("web", table)
    assert from_config("web", {"enabled": False}) is None
    assert from_config("web", None) is None
    out = from_config("web", {"port": 1}, "9000")
    assert out is not None and out.settings.port == 9000 and out.settings.bind == "127.0.0.1"


# ---- serving ----------------------------------------------------------------------------------


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("src", "href") and value:
                self.urls.append(value)


def test_page_is_served_whole_from_its_own_origin_with_a_strict_policy() -> None:
    async def main() -> None:
        out, _, base = await _started(WebSettings(port=0))
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(base + "/") as r:
                    assert r.status == 200 and r.content_type == "text/html"
                    page = await r.text()
                    csp = r.headers["Content-Security-Policy"]
                    assert r.headers["X-Content-Type-Options"] == "nosniff"
                    assert r.headers["X-Frame-Options"] == "DENY"
                directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
                assert directives["default-src"] == "'none'"
                assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
                assert directives["frame-ancestors"] == "'none'"
                assert "unsafe" not in csp and "*" not in csp
                parser = _Assets()
                parser.feed(page)
                assert len(parser.urls) >= 3
                for url in parser.urls:
                    assert "//" not in url and not url.startswith("/"), (
                        url
                    )  # relative: this origin, any prefix
                    async with http.get(f"{base}/{url}") as r:
                        assert r.status == 200, url
                        assert "Content-Security-Policy" in r.headers
                async with http.post(base + "/") as r:
                    assert r.status == 405  # read-only
                async with http.get(base + "/../../etc/passwd") as r:
                    assert r.status == 404
        finally:
            await out.stop()

    asyncio.run(main())


def test_a_token_guards_page_assets_and_websocket() -> None:
    async def main() -> None:
        out, host, base = await _started(WebSettings(port=0, token=TOKEN))
        try:
            # unsafe: keep cookies of an IP-address host, as browsers do
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                for path in ("/", "/app.js", "/ws", f"/?token={TOKEN[:-1]}x"):
                    async with http.get(base + path) as r:
                        assert r.status == 401, path
                async with http.get(f"{base}/?token={TOKEN}", allow_redirects=False) as r:
                    assert (
                        r.status == 303 and r.headers["Location"] == "./"
                    )  # relative: works under a proxy prefix
                    cookie = r.cookies["sepmon_token"]
                    assert cookie["httponly"] and cookie["samesite"] == "Strict"
                async with http.get(base + "/") as r:  # the session keeps the cookie
                    assert r.status == 200
                async with http.ws_connect(base + "/ws") as ws:
                    hello = json.loads((await ws.receive(timeout=10)).data)
                    assert hello["type"] == "hello"
            async with aiohttp.ClientSession() as other:
                headers = {"Authorization": f"Bearer {TOKEN}"}
                async with other.ws_connect(base + "/ws", headers=headers) as ws:
                    assert json.loads((await ws.receive(timeout=10)).data)["type"] == "hello"
        finally:
            await out.stop()
        refused = [e for e in host.events if e.type == "web_error" and "no valid token" in (e.detail or "")]
        assert len(refused) == 1  # reported once per burst, counted in full
        assert out.stats["auth_failed"] == 4

    asyncio.run(main())


def test_cross_origin_websocket_and_viewers_beyond_the_limit_are_refused() -> None:
    async def main() -> None:
        out, _, base = await _started(WebSettings(port=0, max_clients=1))
        try:
            async with aiohttp.ClientSession() as http:
                with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
                    await http.ws_connect(base + "/ws", headers={"Origin": "http://evil.example"})
                assert exc.value.status == 403
                async with http.ws_connect(base + "/ws", headers={"Origin": base}) as ws:
                    await ws.receive(timeout=10)
                    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
                        await http.ws_connect(base + "/ws")
                    assert exc.value.status == 503
                    # Whatever a page sends is ignored; the view goes on.
                    await ws.send_str("please change the minima")
                    out.on_tick(1_700_000_000.0, _picture())
                    frame = json.loads((await ws.receive(timeout=10)).data)
                    assert frame["type"] == "frame"
        finally:
            await out.stop()
        assert out.stats["refused"] == 2

    asyncio.run(main())


def test_a_stalled_viewer_is_dropped_counted_and_reported_while_others_keep_up() -> None:
    async def main() -> None:
        out, host, base = await _started(WebSettings(port=0, max_queue=4))
        picture = _picture(3000)  # a few hundred kB a frame: a reader that stops falls behind fast
        port = out.port
        assert port is not None
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(stalled, ("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        handshake = (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await loop.sock_sendall(stalled, handshake.encode())
        assert b" 101 " in await loop.sock_recv(stalled, 256)  # upgraded, and never read again
        got = 0
        try:
            async with aiohttp.ClientSession() as http, http.ws_connect(base + "/ws", max_msg_size=0) as ws:
                await ws.receive(timeout=10)  # hello
                t = 1_700_000_000.0
                for _ in range(400):
                    t += 0.4  # one update per interval_s
                    out.on_tick(t, picture)  # the daemon's call returns at once, whoever reads
                    msg = await ws.receive(timeout=10)
                    assert json.loads(msg.data)["type"] == "frame"
                    got += 1
                    if out.stats["dropped"]:
                        break
                assert out.stats["dropped"] == 1 and out.viewers == 1
                for _ in range(3):  # the good viewer goes on
                    t += 0.4  # one update per interval_s
                    out.on_tick(t, picture)
                    assert json.loads((await ws.receive(timeout=10)).data)["dropped"] == 1
        finally:
            stalled.close()
            await out.stop()
        assert [e for e in host.events if e.type == "web_error" and "dropped viewer" in (e.detail or "")]

    asyncio.run(main())


def test_a_busy_port_is_reported_and_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    import sepmon.outputs.web.server as server

    monkeypatch.setattr(server, "RETRY_S", 0.05)

    async def main() -> None:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            out = WebOutput(WebSettings(port=port), Minima())
            host = Host()
            await out.start(host)
            assert out.port is None
            assert [e for e in host.events if e.type == "web_error" and "cannot listen" in (e.detail or "")]
        try:
            for _ in range(200):  # the daemon ticks; the output retries on its own
                out.on_tick(1_700_000_000.0, _picture())
                await asyncio.sleep(0.05)
                if out.port is not None:
                    break
            assert out.port == port
            assert [e for e in host.events if e.type == "web" and f":{port}/" in (e.detail or "")]
        finally:
            await out.stop()

    asyncio.run(main())


def test_frames_carry_the_picture_and_no_nan() -> None:
    async def main() -> list[dict[str, Any]]:
        out, _, base = await _started(WebSettings(port=0))
        try:
            async with aiohttp.ClientSession() as http, http.ws_connect(base + "/ws") as ws:
                await ws.receive(timeout=10)
                pic = _picture(2)
                out.on_event(Event(t=pic.t, type="level", a="s0000", b="s0001", level=3, prev_level=2), pic)
                out.on_tick(pic.t, pic)
                return [json.loads((await ws.receive(timeout=10)).data)]
        finally:
            await out.stop()

    (frame,) = asyncio.run(main())
    assert [t["n"] for t in frame["tracks"]] == ["s0000", "s0001"]
    assert frame["pairs"] == [
        {"a": "s0000", "b": "s0001", "level": 3, "range": 111.0, "vert": 0.0, "tcpa": 3.0, "cpa": 10.0,
         "lost": False}
    ]  # fmt: skip
    assert [e["type"] for e in frame["events"]] == ["level"]


def test_malformed_requests_are_one_counted_line_never_a_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    async def main() -> tuple[Host, WebOutput]:
        out, host, base = await _started(WebSettings(port=0))
        try:
            for junk in (
                b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello on the plain port
            ):
                reader, writer = await asyncio.open_connection("127.0.0.1", out.port)
                writer.write(junk)
                await writer.drain()
                answer = await asyncio.wait_for(reader.read(100), 10)
                assert answer.startswith(b"HTTP/1.") and b" 400 " in answer
                writer.close()
            async with aiohttp.ClientSession() as http, http.get(base + "/") as r:
                assert r.status == 200  # and it goes on serving
        finally:
            await out.stop()
        return host, out

    host, out = asyncio.run(main())
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    assert out.stats["bad_requests"] >= 2
    bad = [e for e in host.events if e.type == "web_error" and "bad request" in (e.detail or "")]
    assert len(bad) == 1 and "\n" not in (bad[0].detail or "")
