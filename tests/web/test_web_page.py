"""The live page in a real headless Chromium against the web output alone (no daemon).

Oracles: the browser itself — what it fetched (every request it made), what it
enforced (a Content-Security-Policy violation it reported), the DOM it built from
hostile names, and what it shows when updates stop while the connection stays open.
"""

from __future__ import annotations

import asyncio
import http.server
import re
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from browser import chromium_page, screenshot

from sepmon.core.model import Event, Fix, Level, Minima, PairStatus, TrackState
from sepmon.core.picture import Picture, TrackEntry
from sepmon.outputs.web import WebOutput, WebSettings

pytestmark = pytest.mark.timeout(180)

HOSTILE = '<img src=x onerror="window.__pwned=1">'


class Feeder:
    """The web output on its own loop in a thread, fed a small picture while ``feeding`` is set."""

    def __init__(self, settings: WebSettings | None = None) -> None:
        self.out = WebOutput(settings or WebSettings(port=0), Minima())
        self.feeding = threading.Event()
        self.feeding.set()
        self._stop = threading.Event()
        self._started = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=lambda: self._loop.run_until_complete(self._run()), daemon=True
        )

    def clock(self) -> float:
        return time.time()

    def report(self, event: Event) -> None:
        pass

    def picture(self, now: float) -> Picture:
        tracks = []
        for i, name in enumerate(("alpha", HOSTILE)):
            lat, lon = 47.0, 11.0 + 0.01 * i
            fix = Fix(name, now, lat, lon, 500.0, 50.0, 90.0, 1, 0.9, 9, now)
            st = TrackState(name, now, lat, lon, 500.0, 50.0, 0.0, 0.0, 1, 0.9, 0.0, False)
            tracks.append(TrackEntry(st, fix, now))
        pair = PairStatus("alpha", HOSTILE, now, Level.CAUTION, Level.CAUTION, 760.0, 0.0, 90.0, 20.0, 90.0)
        return Picture(t=now, monitor_t=now, tracks=tuple(tracks), pairs=(pair,))

    async def _run(self) -> None:
        await self.out.start(self)
        self.out.on_event(Event(t=time.time(), type="acquired", a=HOSTILE), self.picture(time.time()))
        self._started.set()
        while not self._stop.is_set():
            if self.feeding.is_set():
                now = time.time()
                self.out.on_tick(now, self.picture(now))
            await asyncio.sleep(0.2)
        await self.out.stop()

    def __enter__(self) -> Feeder:
        self._thread.start()
        assert self._started.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        assert self.out.url is not None
        return self.out.url


@pytest.fixture
def fed_page() -> Iterator[tuple[Feeder, Any, list[str]]]:
    with Feeder() as feeder, chromium_page() as page:
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(feeder.url)
        page.wait_for_function("() => !window.sepmon.noData && window.sepmon.frames > 0")
        yield feeder, page, requests


def test_the_page_fetches_nothing_from_elsewhere_and_the_browser_enforces_its_policy(
    fed_page: tuple[Feeder, Any, list[str]],
) -> None:
    feeder, page, requests = fed_page
    origin = feeder.url.rstrip("/")
    assert requests and all(
        u.startswith(origin + "/") or u.startswith("ws://" + origin[7:]) for u in requests
    )
    # An inline script (what an injection would need) is refused by the browser itself.
    violated = page.evaluate(
        """() => new Promise(resolve => {
             document.addEventListener('securitypolicyviolation', e => resolve(e.violatedDirective));
             const s = document.createElement('script');
             s.textContent = 'window.__inline = 1';
             document.body.appendChild(s);
             setTimeout(() => resolve(window.__inline === 1 ? 'ran' : 'no event'), 5000);
           })"""
    )
    assert violated.startswith("script-src"), violated
    assert page.evaluate("window.__inline") is None


def test_hostile_names_are_shown_as_text(fed_page: tuple[Feeder, Any, list[str]]) -> None:
    _, page, _ = fed_page
    page.wait_for_function("() => document.querySelectorAll('#pairs tbody tr').length === 1")
    assert page.inner_text("#pairs tbody tr td") == f"alpha ↔ {HOSTILE}"
    assert HOSTILE in page.inner_text("#events")
    assert page.query_selector("#pairs img, #events img, #sources img") is None
    assert page.evaluate("window.__pwned") is None


def test_a_connection_that_stays_open_without_updates_is_no_live_data(
    fed_page: tuple[Feeder, Any, list[str]],
) -> None:
    feeder, page, _ = fed_page
    feeder.feeding.clear()  # a daemon that hangs: the socket stays open, nothing comes
    page.wait_for_function("() => window.sepmon.noData", timeout=20_000)
    assert page.is_visible("#nodata")
    assert "no update" in page.inner_text("#nodata-why") or "lost" in page.inner_text("#nodata-why")
    screenshot(page, "page-stalled.png")
    feeder.feeding.set()
    page.wait_for_function("() => !window.sepmon.noData", timeout=30_000)
    assert not page.is_visible("#nodata")
    assert page.sepmon_errors == []


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain-colour PNG (signature, IHDR, IDAT, IEND as the PNG specification lays them out)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def test_a_configured_tile_server_is_the_only_other_origin_and_draws_under_the_tracks() -> None:
    tile = _png(256, 256, (0, 200, 0))
    asked: list[str] = []

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tiles = f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
    try:
        with (
            Feeder(WebSettings(port=0, tiles=tiles, tile_attribution="test tiles")) as feeder,
            chromium_page() as page,
        ):
            page.goto(feeder.url)
            page.wait_for_function("() => !window.sepmon.noData && window.sepmon.frames > 0")
            # Tiles loaded (the page's policy lets them in) and drawn under the tracks.
            page.wait_for_function("() => window.sepmon.tilesDrawn > 0", timeout=30_000)
            tainted = page.evaluate(
                "() => { try { window.sepmon.pixel(5, 5); return false; } catch (e) { return true; } }"
            )
            assert tainted  # the browser's own mark that another origin's image is on the canvas
            assert asked and all(re.fullmatch(r"/\d+/\d+/\d+\.png", a) for a in asked)
            assert "test tiles" in page.inner_text("#legend")
            assert page.sepmon_errors == []
    finally:
        server.shutdown()
