"""The web view's server: the page, its assets and one WebSocket per viewer, on the daemon's loop.

Every update (at most every ``interval_s``) the picture becomes one JSON message,
serialised once and queued for every viewer. Nothing here waits for a viewer:
each has a bounded queue and a task that sends it; a viewer whose queue is full
(a slow or stalled client) is cut off at once, counted and reported, and its
page reconnects and starts from a fresh picture. Whatever a page sends is
ignored: the view is read-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from sepmon.core.model import Event, Fix, Minima
from sepmon.core.net import exposed
from sepmon.core.picture import Picture
from sepmon.outputs.base import OutputHost
from sepmon.outputs.web.frame import STALE_AFTER_S, event_json, frame_of
from sepmon.outputs.web.settings import WebSettings, host_for_url

RETRY_S = 5.0
REPORT_S = 10.0  # at most one event per kind of trouble in this many seconds
COOKIE = "sepmon_token"
TRAIL_S = 120.0
TRAIL_POINTS = 120
MAX_PENDING_EVENTS = 5000
HELLO_POINTS = 20_000  # trail points a newly opened page is given at most (one message, built on the loop)
AIOHTTP_LOGGERS = ("aiohttp.server", "aiohttp.web", "aiohttp.access", "aiohttp.websocket")
ASSETS = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "app.css": "text/css",
    "favicon.svg": "image/svg+xml",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def asset(name: str) -> bytes:
    """One of the page's files, shipped with the package."""
    return resources.files("sepmon.outputs.web").joinpath("static", name).read_bytes()


class _Viewer:
    """One connected page: a bounded queue of messages and the task that sends them."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None, limit: int) -> None:
        self.ws = ws
        self.transport = transport
        self.limit = limit
        self.queue: deque[str] = deque()
        self.ready = asyncio.Event()
        self.dropped = False
        self.peer = "?"

    def push(self, msg: str) -> bool:
        """Queue ``msg``; False (and the connection cut) when the queue is full."""
        if self.dropped:
            return False
        if len(self.queue) >= self.limit:
            self.drop()
            return False
        self.queue.append(msg)
        self.ready.set()
        return True

    def drop(self) -> None:
        """Cut the connection at once (never waits for the peer)."""
        self.dropped = True
        self.queue.clear()
        self.ready.set()
        if self.transport is not None:
            self.transport.abort()

    async def pump(self) -> None:
        """Send queued messages in order until the connection goes."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not self.dropped:
                await self.ready.wait()
                self.ready.clear()
                while self.queue and not self.dropped:
                    await self.ws.send_str(self.queue.popleft())


class _OneLine(logging.Handler):
    """aiohttp's own complaints (a malformed request, with a traceback) as one counted line each."""

    def __init__(self, output: WebOutput) -> None:
        super().__init__(logging.WARNING)
        self.output = output

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        text = record.getMessage().splitlines()[0] if record.msg else "request failed"
        if exc is not None:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            text += f": {type(exc).__name__} {' '.join(lines[:2])}"
        self.output.bad_request(text[:200])


class WebOutput:
    """Serves the live page and feeds it the picture; see :mod:`sepmon.outputs.web`."""

    name = "web"

    def __init__(self, settings: WebSettings, minima: Minima | None = None) -> None:
        self.settings = settings
        self.minima = minima or Minima()
        self.run_id = secrets.token_hex(8)  # a page seeing another id starts afresh
        self.stats = {
            "frames": 0,
            "viewers": 0,
            "dropped": 0,
            "refused": 0,
            "auth_failed": 0,
            "bad_requests": 0,
        }
        self.port: int | None = None
        self._host: OutputHost | None = None
        self._runner: web.AppRunner | None = None
        self._viewers: set[_Viewer] = set()
        self._events: deque[dict[str, Any]] = deque(maxlen=max(1, settings.backlog))
        self._new_events: list[dict[str, Any]] = []
        self._trails: dict[str, deque[tuple[float, float, float]]] = {}
        self._assets = {name: asset(name) for name in ASSETS}
        self._last_frame = -math.inf
        self._urgent = False
        self._next_listen = math.inf
        self._listening: asyncio.Task[None] | None = None
        self._reported: dict[str, float] = {}
        self._log_handler = _OneLine(self)

    @property
    def viewers(self) -> int:
        """Pages connected now."""
        return len(self._viewers)

    @property
    def url(self) -> str | None:
        """The page's address (the port actually listened on), None while not listening."""
        if self.port is None:
            return None
        bind = self.settings.bind
        host = "127.0.0.1" if bind in ("0.0.0.0", "") else "::1" if bind == "::" else bind
        return f"http://{host_for_url(host)}:{self.port}/"

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self, host: OutputHost) -> None:
        """Listen; a failure is reported and retried every few seconds, never raised."""
        self._host = host
        for name in AIOHTTP_LOGGERS:  # never a traceback on the console for a peer's bad request
            logger = logging.getLogger(name)
            logger.addHandler(self._log_handler)
            logger.propagate = False
        await self._listen()

    async def _listen(self) -> None:
        s = self.settings
        app = web.Application(middlewares=[self._guard], client_max_size=4096)
        app.on_response_prepare.append(self._headers)
        app.router.add_get("/", self._index)
        app.router.add_get("/index.html", self._index)
        for name in ASSETS:
            if name != "index.html":
                app.router.add_get(f"/{name}", self._static)
        app.router.add_get("/ws", self._ws)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        try:
            await runner.setup()
            await web.TCPSite(runner, s.bind, s.port).start()
        except OSError as exc:
            with contextlib.suppress(Exception):
                await runner.cleanup()
            self._next_listen = time.monotonic() + RETRY_S
            self._trouble(
                "listen", f"cannot listen on {host_for_url(s.bind)}:{s.port}: {exc.strerror or exc}"
            )
            return
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self._next_listen = math.inf
        note = " (other machines can reach it: token required)" if exposed(s.bind) else ""
        self._report("web", f"live view on {self.url}{note}")

    async def stop(self) -> None:
        """Close every viewer and the server."""
        for v in list(self._viewers):
            v.drop()
        self._viewers.clear()
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._runner.cleanup(), 2.0)
            self._runner = None
            self.port = None
        for name in AIOHTTP_LOGGERS:
            logging.getLogger(name).removeHandler(self._log_handler)

    # ---- the daemon's calls -----------------------------------------------------------------

    def on_fix(self, fix: Fix) -> None:
        """Fixes reach the page through the picture."""

    def on_event(self, event: Event, picture: Picture) -> None:
        """Keep the event for the backlog and the next frame; a level change goes out at the next tick."""
        d = event_json(event)
        self._events.append(d)
        if self._viewers:
            self._new_events.append(d)
            if len(self._new_events) > MAX_PENDING_EVENTS:
                del self._new_events[: len(self._new_events) - MAX_PENDING_EVENTS]
        if event.type == "level":
            self._urgent = True

    def on_tick(self, now: float, picture: Picture) -> None:
        """One frame per ``interval_s`` (sooner after a level change), trails kept meanwhile."""
        if self._runner is None and time.monotonic() >= self._next_listen and self._listening is None:
            self._listening = asyncio.get_running_loop().create_task(self._relisten())
        due = now - self._last_frame >= self.settings.interval_s - 0.05  # ticks come every 0.2 s
        if not (due or self._urgent):
            return
        self._last_frame = now
        self._urgent = False
        self._keep_trails(picture)
        if self._viewers:
            self._send_frame(picture)

    async def _relisten(self) -> None:
        try:
            await self._listen()
        finally:
            self._listening = None

    # ---- frames -----------------------------------------------------------------------------

    def _send_frame(self, picture: Picture) -> None:
        frame = frame_of(picture, self.minima)
        frame["events"], self._new_events = self._new_events, []
        frame["viewers"] = len(self._viewers)
        frame["dropped"] = self.stats["dropped"]
        msg = json.dumps(frame, separators=(",", ":"), allow_nan=False)
        self.stats["frames"] += 1
        for v in list(self._viewers):
            if not v.push(msg):
                self._viewers.discard(v)
                self.stats["dropped"] += 1
                self._trouble(
                    "slow",
                    f"dropped viewer {v.peer}: {v.limit} updates behind "
                    f"({self.stats['dropped']} dropped so far)",
                )

    def _keep_trails(self, picture: Picture) -> None:
        t_min = picture.t - TRAIL_S
        for entry in picture.tracks:
            name = entry.state.source
            trail = self._trails.get(name)
            if trail is None:
                trail = self._trails[name] = deque(maxlen=TRAIL_POINTS)
            if not trail or entry.last_clock > trail[-1][0] + 0.99:
                trail.append((round(entry.last_clock, 3), round(entry.fix.lat, 7), round(entry.fix.lon, 7)))
            while trail and trail[0][0] < t_min:
                trail.popleft()
        if len(self._trails) > len(picture.tracks):
            names = {e.state.source for e in picture.tracks}
            for gone in [n for n in self._trails if n not in names]:
                del self._trails[gone]

    def _trails_json(self) -> dict[str, list[list[float]]]:
        """The trails for a newly opened page, thinned evenly to HELLO_POINTS in all."""
        total = sum(len(tr) for tr in self._trails.values())
        step = max(1, math.ceil(total / HELLO_POINTS))
        return {n: [list(p) for p in list(tr)[::step]] for n, tr in self._trails.items()}

    def _hello(self) -> str:
        s = self.settings
        config: dict[str, Any] = {"stale_after_s": STALE_AFTER_S}
        if s.tiles is not None:
            config["tiles"] = {"url": s.tiles, "max_zoom": s.tile_max_zoom}
            config["attribution"] = s.tile_attribution or urlsplit(s.tiles).netloc
        return json.dumps(
            {
                "type": "hello",
                "run": self.run_id,
                "config": config,
                "events": list(self._events),
                "trails": self._trails_json(),
            },
            separators=(",", ":"),
            allow_nan=False,
        )

    # ---- HTTP -------------------------------------------------------------------------------

    def csp(self, host: str) -> str:
        """The Content-Security-Policy: this origin only (and the tile server, when configured)."""
        img = "'self'"
        if self.settings.tiles is not None:
            parts = urlsplit(self.settings.tiles)
            img += f" {parts.scheme}://{parts.netloc}"
        ws = f" ws://{host} wss://{host}" if host and not any(c in host for c in " ;,'\"") else ""
        return (
            "default-src 'none'; script-src 'self'; style-src 'self'; "
            f"img-src {img}; connect-src 'self'{ws}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        h = response.headers
        h["Content-Security-Policy"] = self.csp(request.headers.get("Host", ""))
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "no-referrer"
        h["X-Frame-Options"] = "DENY"
        h["Cache-Control"] = "no-store"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Cross-Origin-Resource-Policy"] = "same-origin"

    def _authorised(self, request: web.Request) -> bool:
        token = self.settings.token
        if token is None:
            return True
        offered = [request.cookies.get(COOKIE, ""), request.query.get("token", "")]
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            offered.append(auth[7:])
        ok = False
        for o in offered:  # each compared in constant time, all of them every time
            ok |= hmac.compare_digest(o.encode("utf-8", "replace"), token.encode("utf-8"))
        return ok

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._authorised(request):
            self.stats["auth_failed"] += 1
            self._trouble(
                "auth", f"refused {request.remote}: no valid token ({self.stats['auth_failed']} so far)"
            )
            return web.Response(
                status=401, text="sepmon: this view needs its token: open it once as /?token=…\n"
            )
        if (
            self.settings.token is not None
            and "token" in request.query
            and request.path in ("/", "/index.html")
        ):
            # The token in the address becomes a cookie, so it does not stay in the address bar.
            # A relative Location: behind a proxy the page may live under a sub-path.
            resp = web.Response(
                status=303, headers={"Location": "./" if request.path == "/" else "index.html"}
            )
            resp.set_cookie(
                COOKIE,
                self.settings.token,
                httponly=True,
                samesite="Strict",
                secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https",
                path="/",
            )
            return resp
        return await handler(request)

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(body=self._assets["index.html"], content_type="text/html", charset="utf-8")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.path.lstrip("/")
        charset = None if name.endswith(".svg") else "utf-8"
        return web.Response(body=self._assets[name], content_type=ASSETS[name], charset=charset)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("Host"):
            # Another site's page in the viewer's browser must not read the picture.
            self.stats["refused"] += 1
            self._trouble("origin", f"refused a WebSocket from origin {origin[:80]!r}")
            return web.Response(status=403, text="sepmon: cross-origin WebSocket refused\n")
        if len(self._viewers) >= self.settings.max_clients:
            self.stats["refused"] += 1
            self._trouble("full", f"refused {request.remote}: {self.settings.max_clients} viewers already")
            return web.Response(status=503, text="sepmon: too many viewers\n")
        ws = web.WebSocketResponse(heartbeat=10.0, max_msg_size=1024, compress=False)
        await ws.prepare(request)
        transport = request.transport
        viewer = _Viewer(
            ws, transport if isinstance(transport, asyncio.Transport) else None, self.settings.max_queue
        )
        viewer.peer = str(request.remote)
        viewer.push(self._hello())
        self._viewers.add(viewer)
        self.stats["viewers"] += 1
        pump = asyncio.create_task(viewer.pump())
        try:
            async for msg in ws:  # read-only: whatever a page sends is ignored
                if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self._viewers.discard(viewer)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        return ws

    # ---- reporting --------------------------------------------------------------------------

    def bad_request(self, text: str) -> None:
        """A request the HTTP server could not take (counted; reported at most every few seconds)."""
        self.stats["bad_requests"] += 1
        self._trouble("bad", f"{text} ({self.stats['bad_requests']} bad request(s) so far)")

    def _report(self, type_: str, detail: str) -> None:
        host = self._host
        if host is not None:
            with contextlib.suppress(Exception):
                host.report(Event(t=host.clock(), type=type_, a="web", detail=detail))

    def _trouble(self, kind: str, detail: str) -> None:
        now = time.monotonic()
        if now - self._reported.get(kind, -math.inf) >= REPORT_S:
            self._reported[kind] = now
            self._report("web_error", detail)
