"""``[outputs.mqtt]``: share positions between sites through an MQTT broker.

Each daemon publishes its own tracks, alerts and board health under
``<root>/<site>/...`` (see :mod:`sepmon.mqttcodec` for the topic tree and the
JSON) and subscribes to the tracks of the sites it trusts, which it injects as
fixes (``Daemon.inject_fix``): two parties who agreed on minima each run their
own host, and each one alerts on the other's positions. Remote tracks are never
re-published (no loops between sites that trust each other).

Example::

    [outputs.mqtt]
    host = "broker.example.org"
    port = 8883
    site = "siteA"
    trust = ["siteB"]
    username = "siteA"
    password_file = "/etc/sepmon/mqtt-password"   # or password_env = "SEPMON_MQTT_PASSWORD"
    tls = true
    ca_file = "/etc/sepmon/ca.pem"                # optional: the system CAs otherwise
    # cert_file / key_file: client certificate; keepalive = 30; qos = 1; queue = 1000
    # prefix = false   (true: remote sources are named "<site>:<source>")
    # max_age_s = 30   (remote fixes further than this from our clock are dropped; 0: off)

paho-mqtt runs the network in its own thread, reconnecting with backoff; every
callback is handed to the asyncio loop with ``call_soon_threadsafe``, so all
state lives on the loop. While the broker is away, messages wait in a bounded
queue (the oldest are dropped and counted). Received messages are size-bounded,
decoded strictly and dropped with a counted reason when bad, late, duplicate or
in conflict with a local source; nothing here raises into the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import ssl
import sys
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from sepmon import mqttcodec as codec
from sepmon.errors import ConfigError
from sepmon.events import Event
from sepmon.model import Fix

if TYPE_CHECKING:
    from sepmon.daemon import Daemon

BOARD_EVENTS = frozenset({"board", "board_silent", "board_acking", "port_up", "port_down"})
MAX_INBOX = 5000
"""Received messages waiting for the loop; beyond this they are dropped (``inbox_full``)."""
MAX_REMOTE_SOURCES = 256
STOP_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class MqttOptions:
    """The validated ``[outputs.mqtt]`` table (the password is kept out of ``repr``)."""

    site: str
    host: str = "localhost"
    port: int = 1883
    trust: tuple[str, ...] = ()
    root: str = "sepmon"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive: int = 30
    qos: int = 1
    queue: int = 1000
    prefix: bool = False
    max_age_s: float = 30.0
    board_interval_s: float = 5.0
    reconnect_max_s: int = 30
    client_id: str | None = None

    @property
    def broker(self) -> str:
        """``host:port`` for messages."""
        return f"{self.host}:{self.port}"


_KEYS = {
    "enabled",
    "host",
    "port",
    "site",
    "trust",
    "root",
    "username",
    "password_file",
    "password_env",
    "tls",
    "ca_file",
    "cert_file",
    "key_file",
    "keepalive",
    "qos",
    "queue",
    "prefix",
    "max_age_s",
    "board_interval_s",
    "reconnect_max_s",
    "client_id",
}


def _int(where: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ConfigError(f"{where}: expected a whole number from {lo} to {hi}, got {v!r}")
    return v


def _float(where: str, v: Any, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
        raise ConfigError(f"{where}: expected a number from {lo:g} to {hi:g}, got {v!r}")
    return float(v)


def _bool(where: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: expected true or false, got {v!r}")
    return v


def _str(where: str, v: Any) -> str:
    if not isinstance(v, str) or not v or not v.isprintable():
        raise ConfigError(f"{where}: expected a non-empty string")
    return v


def _file(where: str, v: Any) -> str:
    path = _str(where, v)
    if not Path(path).is_file():
        raise ConfigError(f"{where}: no such file {path!r}")
    return path


def _password(where: str, t: Mapping[str, Any]) -> str | None:
    if "password" in t:
        raise ConfigError(
            f"{where}.password: never put a password in the configuration; use password_file or password_env"
        )
    if "password_file" in t and "password_env" in t:
        raise ConfigError(f"{where}: give password_file or password_env, not both")
    if "password_file" in t:
        path = _str(f"{where}.password_file", t["password_file"])
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise ConfigError(f"{where}.password_file: cannot read {path!r}: {reason}") from None
        pw = text.rstrip("\r\n")
        if not pw or "\n" in pw:
            raise ConfigError(f"{where}.password_file: {path!r} must hold the password on one line")
        return pw
    if "password_env" in t:
        name = _str(f"{where}.password_env", t["password_env"])
        env = os.environ.get(name)
        if not env:
            raise ConfigError(f"{where}.password_env: environment variable {name} is not set")
        return env
    return None


def parse_options(where: str, t: Mapping[str, Any]) -> MqttOptions:
    """Validate the table; every problem is one ``ConfigError`` line naming the key."""
    for key in t:
        if key not in _KEYS and key != "password":
            raise ConfigError(f"{where}.{key}: unknown key")
    site = t.get("site")
    if not codec.valid_site(site):
        raise ConfigError(f"{where}.site: expected a short name (no '/', '+', '#', ',', '*'), got {site!r}")
    assert isinstance(site, str)
    trust_raw = t.get("trust", [])
    if not isinstance(trust_raw, list) or not all(codec.valid_site(s) for s in trust_raw):
        raise ConfigError(f"{where}.trust: expected a list of site names")
    trust = tuple(dict.fromkeys(trust_raw))
    if site in trust:
        raise ConfigError(f"{where}.trust: a site does not trust itself ({site!r})")
    root = _str(f"{where}.root", t.get("root", "sepmon"))
    if any(c in root for c in "+#") or root.startswith("/") or root.endswith("/"):
        raise ConfigError(f"{where}.root: expected a topic prefix without wildcards, got {root!r}")
    tls = _bool(f"{where}.tls", t.get("tls", False))
    username = _str(f"{where}.username", t["username"]) if "username" in t else None
    password = _password(where, t)
    if password is not None and username is None:
        raise ConfigError(f"{where}: a password needs a username")
    for key in ("ca_file", "cert_file", "key_file"):
        if key in t and not tls:
            raise ConfigError(f"{where}.{key}: only with tls = true")
    if "key_file" in t and "cert_file" not in t:
        raise ConfigError(f"{where}.key_file: needs cert_file")
    client_id = _str(f"{where}.client_id", t["client_id"]) if "client_id" in t else None
    return MqttOptions(
        site=site,
        host=_str(f"{where}.host", t.get("host", "localhost")),
        port=_int(f"{where}.port", t.get("port", 8883 if tls else 1883), 1, 65535),
        trust=trust,
        root=root,
        username=username,
        password=password,
        tls=tls,
        ca_file=_file(f"{where}.ca_file", t["ca_file"]) if "ca_file" in t else None,
        cert_file=_file(f"{where}.cert_file", t["cert_file"]) if "cert_file" in t else None,
        key_file=_file(f"{where}.key_file", t["key_file"]) if "key_file" in t else None,
        keepalive=_int(f"{where}.keepalive", t.get("keepalive", 30), 5, 3600),
        qos=_int(f"{where}.qos", t.get("qos", 1), 0, 1),
        queue=_int(f"{where}.queue", t.get("queue", 1000), 1, 1_000_000),
        prefix=_bool(f"{where}.prefix", t.get("prefix", False)),
        max_age_s=_float(f"{where}.max_age_s", t.get("max_age_s", 30.0), 0.0, 86400.0),
        board_interval_s=_float(f"{where}.board_interval_s", t.get("board_interval_s", 5.0), 0.5, 3600.0),
        reconnect_max_s=_int(f"{where}.reconnect_max_s", t.get("reconnect_max_s", 30), 1, 3600),
        client_id=client_id,
    )


def tls_context(where: str, opts: MqttOptions) -> ssl.SSLContext:
    """The TLS context (server verified against ``ca_file`` or the system CAs, hostname checked)."""
    try:
        ctx = ssl.create_default_context(cafile=opts.ca_file)
        if opts.cert_file is not None:
            ctx.load_cert_chain(opts.cert_file, opts.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}: TLS files: {getattr(exc, 'reason', None) or exc}") from None
    return ctx


@dataclass
class _Pending:
    topic: str
    payload: bytes
    retain: bool


class MqttOutput:
    """The MQTT link of one daemon (see the module docstring)."""

    name = "mqtt"

    def __init__(self, opts: MqttOptions, ssl_context: ssl.SSLContext | None = None) -> None:
        self.opts = opts
        self.ssl_context = ssl_context
        self.prefix = f"{opts.root}/{opts.site}"
        self.connected = False
        self.stats: Counter[str] = Counter()
        """``published``, ``queue_dropped``, ``received``, ``injected`` and one key per drop reason."""
        self.peers: dict[str, str] = {}  # trusted site → online/offline
        self.remote_last_t: dict[str, float] = {}  # injected source name → last fix time
        self._owner: dict[str, str] = {}  # injected source name → site
        self._local: set[str] = set()
        self._pending: deque[_Pending] = deque()
        self._inbox: deque[tuple[str, bytes]] = deque()
        self._inbox_lock = threading.Lock()
        self._injecting = False
        self._daemon: Daemon | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._link_detail = ""
        self._reported: set[str] = set()
        self._last_board_t = -math.inf

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self, daemon: Daemon) -> None:
        """Create the client and let its thread connect (and reconnect) in the background."""
        self._daemon = daemon
        self._loop = asyncio.get_running_loop()
        self._local.update(s.name for s in daemon.specs)
        o = self.opts
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=o.client_id or f"sepmon-{o.site}-{secrets.token_hex(4)}",
            clean_session=True,
        )
        if o.username is not None:
            client.username_pw_set(o.username, o.password)
        if self.ssl_context is not None:
            client.tls_set_context(self.ssl_context)
        client.will_set(f"{self.prefix}/status", codec.encode_status(o.site, "offline"), qos=1, retain=True)
        client.reconnect_delay_set(1, o.reconnect_max_s)
        client.max_queued_messages_set(o.queue)
        client.on_connect = self._mq_connect
        client.on_connect_fail = self._mq_connect_fail
        client.on_disconnect = self._mq_disconnect
        client.on_message = self._mq_message
        self._client = client
        try:
            client.connect_async(o.host, o.port, keepalive=o.keepalive)
            client.loop_start()
        except (OSError, ValueError) as exc:
            self._report("mqtt_error", f"cannot start MQTT client for {o.broker}: {exc}")

    async def stop(self) -> None:
        """Say ``offline`` (retained), disconnect and join the network thread."""
        client = self._client
        if client is None:
            return
        self._client = None
        with contextlib.suppress(Exception):
            if self.connected:
                client.publish(
                    f"{self.prefix}/status", codec.encode_status(self.opts.site, "offline"), 1, retain=True
                )
            client.disconnect()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.to_thread(client.loop_stop), STOP_TIMEOUT_S)
        self.connected = False

    # ---- paho thread: hand everything to the loop ----------------------------------------

    def _call(self, fn: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # loop closed while the thread winds down
            loop.call_soon_threadsafe(fn, *args)

    def _mq_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            self._call(self._on_refused, str(reason))
            return
        # Subscriptions go here so every reconnect restores them (clean sessions keep none).
        topics = [(f"{self.opts.root}/{s}/track/+", self.opts.qos) for s in self.opts.trust]
        topics += [(f"{self.opts.root}/{s}/status", 1) for s in self.opts.trust]
        if topics:
            client.subscribe(topics)
        self._call(self._on_connected)

    def _mq_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        # paho calls this from inside its ``except OSError``: the exception says why
        # (refused, unreachable, certificate not trusted, ...).
        exc = sys.exception()
        why = ""
        if isinstance(exc, OSError):
            why = f": {exc.strerror if exc.strerror and not isinstance(exc, ssl.SSLError) else exc}"
        self._call(self._on_down, f"cannot reach MQTT broker {self.opts.broker}{why}")

    def _mq_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        self._call(self._on_down, f"lost MQTT broker {self.opts.broker} ({reason})")

    def _mq_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._inbox_lock:
            if len(self._inbox) >= MAX_INBOX:
                self.stats["inbox_full"] += 1
                return
            schedule = not self._inbox
            self._inbox.append((msg.topic, bytes(msg.payload)))
        if schedule:
            self._call(self._drain)

    # ---- loop side: connection state ------------------------------------------------------

    def _report(self, type_: str, detail: str) -> None:
        """An event from this output, through the daemon (event log, console, other outputs)."""
        d = self._daemon
        if d is None:
            return
        ev = Event(t=d.clock(), type=type_, a="mqtt", detail=detail)
        with contextlib.suppress(Exception):
            d.report(ev)

    def _set_link(self, type_: str, detail: str) -> None:
        if detail != self._link_detail:
            self._link_detail = detail
            self._report(type_, detail)

    def _on_connected(self) -> None:
        if self._client is None:
            return
        self.connected = True
        o = self.opts
        self._set_link("mqtt_up", f"connected to {o.broker} as site {o.site}")
        now = self._daemon.clock() if self._daemon is not None else 0.0
        self._client.publish(f"{self.prefix}/status", codec.encode_status(o.site, "online", now), 1, True)
        self._last_board_t = -math.inf  # retained health again at the next tick
        while self._pending and self.connected:
            p = self._pending.popleft()
            self._publish(p.topic, p.payload, p.retain)

    def _on_refused(self, reason: str) -> None:
        self.connected = False
        self.stats["refused"] += 1
        self._set_link("mqtt_error", f"MQTT broker {self.opts.broker} refused the connection: {reason}")

    def _on_down(self, detail: str) -> None:
        if self._client is None:
            return  # our own disconnect at stop
        self.connected = False
        if not self._link_detail.startswith(f"MQTT broker {self.opts.broker} refused"):
            self._set_link("mqtt_down", detail)  # keep the refusal visible while retrying

    # ---- publishing -----------------------------------------------------------------------

    def _publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        client = self._client
        if client is None:
            return
        if self.connected:
            try:
                rc = client.publish(topic, payload, self.opts.qos, retain).rc
            except (ValueError, OSError):
                self.stats["publish_error"] += 1
                return
            if rc == mqtt.MQTT_ERR_SUCCESS:
                self.stats["published"] += 1
                return
            if rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                self.stats["queue_dropped"] += 1
                return
            self.connected = False  # NO_CONN: the thread has not told us yet
        if len(self._pending) >= self.opts.queue:
            self._pending.popleft()
            self.stats["queue_dropped"] += 1
        self._pending.append(_Pending(topic, payload, retain))

    @property
    def pending(self) -> int:
        """Messages waiting for the broker."""
        return len(self._pending)

    def on_fix(self, fix: Fix) -> None:
        """Publish a local fix; fixes we injected ourselves are never re-published."""
        if self._injecting:
            return
        self._local.add(fix.source)
        self._publish(f"{self.prefix}/track/{codec.topic_level(fix.source)}", codec.encode_track(fix))

    def on_event(self, event: Event) -> None:
        """Publish level events; board and link events refresh that source's health."""
        if event.type == "level":
            self._publish(f"{self.prefix}/event", codec.encode_event(self.opts.site, event))
        elif event.type in BOARD_EVENTS:
            self._publish_board(event.a, event.t)

    def on_tick(self, now: float) -> None:
        """Board health every ``board_interval_s``."""
        if now - self._last_board_t < self.opts.board_interval_s or not self.connected:
            return
        self._last_board_t = now
        d = self._daemon
        if d is not None:
            for name in d.status:
                self._publish_board(name, now)

    def _publish_board(self, name: str, now: float) -> None:
        d = self._daemon
        if d is None or name not in d.status:
            return
        st = d.status[name]
        health: dict[str, Any] = {"link_up": st.up, "link_detail": st.detail, "bytes_in": st.bytes_in}
        board = d.boards.get(name)
        if board is not None:
            ident, status = board.identity, board.status
            health.update(
                board_id=ident.board_id if ident else None,
                fw_version=ident.fw_version if ident else None,
                profile=ident.profile if ident else None,
                status_age_s=(now - board.status_t) if status is not None else None,
                uptime_ms=status.uptime_ms if status else None,
                lines_dropped=status.lines_dropped if status else None,
                gps_silent_ms=status.gps_silent_ms if status else None,
                acks=board.acks,
                acking=not board.silent,
                level=int(board.last_level),
            )
        topic = f"{self.prefix}/board/{codec.topic_level(name)}"
        self._publish(topic, codec.encode_board(self.opts.site, name, now, health), retain=True)

    # ---- receiving ------------------------------------------------------------------------

    def _drain(self) -> None:
        with self._inbox_lock:
            batch = list(self._inbox)
            self._inbox.clear()
        for topic, payload in batch:
            self.stats["received"] += 1
            try:
                self._handle(topic, payload)
            except codec.BadMessage as exc:
                self.stats[exc.reason] += 1
            except Exception:  # never let a message take the daemon down
                self.stats["internal_error"] += 1

    def _handle(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        root_n = self.opts.root.count("/") + 1
        rest = parts[root_n:]
        if "/".join(parts[:root_n]) != self.opts.root or len(rest) < 2 or rest[0] not in self.opts.trust:
            raise codec.BadMessage("untrusted", topic)
        site = rest[0]
        if rest[1:] == ["status"]:
            state = codec.decode_status(payload)
            if self.peers.get(site) != state:
                self.peers[site] = state
                self._report("mqtt_peer", f"site {site} {state}")
            return
        if len(rest) != 3 or rest[1] != "track":
            raise codec.BadMessage("topic", topic)
        fix = codec.decode_track(payload)
        try:
            topic_name = codec.name_from_level(rest[2])
        except UnicodeDecodeError:
            raise codec.BadMessage("topic", topic) from None
        if topic_name != fix.source:
            raise codec.BadMessage("topic", "source differs from the topic")
        self._inject(site, fix)

    def _inject(self, site: str, fix: Fix) -> None:
        d = self._daemon
        if d is None:
            return
        name = f"{site}:{fix.source}" if self.opts.prefix else fix.source
        if name in self._local or self._owner.setdefault(name, site) != site:
            self.stats["conflict"] += 1
            if name not in self._reported:
                self._reported.add(name)
                self._report("mqtt_conflict", f"site {site} sends {name!r}, a name already in use: ignored")
            return
        if name not in self.remote_last_t and len(self.remote_last_t) >= MAX_REMOTE_SOURCES:
            self.stats["too_many_sources"] += 1
            return
        last = self.remote_last_t.get(name)
        if last is not None and fix.t <= last:
            self.stats["stale"] += 1  # duplicate or out of order
            return
        now = d.clock()
        if self.opts.max_age_s > 0 and abs(fix.t - now) > self.opts.max_age_s:
            # Too old to matter, or from the future (a peer with a broken clock would
            # otherwise make every later fix look like a duplicate).
            self.stats["late" if fix.t < now else "future"] += 1
            return
        self.remote_last_t[name] = fix.t
        fix = Fix(
            source=name,
            t=fix.t,
            lat=fix.lat,
            lon=fix.lon,
            alt_m=fix.alt_m,
            sog_mps=fix.sog_mps,
            cog_deg=fix.cog_deg,
            quality=fix.quality,
            hdop=fix.hdop,
            sats=fix.sats,
            rx_t=now,
        )
        self._injecting = True
        try:
            d.inject_fix(fix)
        finally:
            self._injecting = False
        self.stats["injected"] += 1


def from_config(where: str, table: dict[str, Any]) -> MqttOutput:
    """The output for ``[outputs.mqtt]``."""
    opts = parse_options(where, table)
    return MqttOutput(opts, tls_context(where, opts) if opts.tls else None)
