"""The MQTT session shared by the MQTT output (publishing) and the MQTT link (receiving).

``[outputs.mqtt]`` shares positions between sites through an MQTT broker: each
daemon publishes its own tracks, alerts and board health under ``<root>/<site>/...``
(:mod:`sepmon.outputs.mqtt`; topic tree and JSON in :mod:`sepmon.core.mqttcodec`)
and takes the tracks of the sites it trusts as fixes (:mod:`sepmon.links.mqtt`).
Both halves use one broker connection, this session: one client ID, one
``status``/last will, one reconnect cycle, as before the split. Remote tracks are
never re-published (no loops between sites that trust each other).

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
queue (the oldest are dropped and counted). Received messages are handed to the
link's handler on the loop; a :class:`~sepmon.core.mqttcodec.BadMessage` it raises
is counted by its reason; nothing here raises into the daemon.
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from sepmon.core import mqttcodec as codec
from sepmon.core.errors import ConfigError
from sepmon.core.model import Event

MAX_INBOX = 5000
"""Received messages waiting for the loop; beyond this they are dropped (``inbox_full``)."""
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


Clock = Callable[[], float]
Report = Callable[[Event], None]
Handler = Callable[[str, bytes], None]


class MqttSession:
    """One broker connection, shared by the MQTT output and the MQTT link (see the module docstring).

    ``stats`` counts for both halves: ``published``, ``queue_dropped``, ``received``,
    ``injected`` and one key per drop reason.
    """

    def __init__(self, opts: MqttOptions, ssl_context: ssl.SSLContext | None = None) -> None:
        self.opts = opts
        self.ssl_context = ssl_context
        self.prefix = f"{opts.root}/{opts.site}"
        self.connected = False
        self.stats: Counter[str] = Counter()
        self.local: set[str] = set()
        """Local source names: never taken from a remote site."""
        self.injecting = False
        """True while the link hands a remote fix to the host: the output must not publish it."""
        self.on_message: Handler | None = None
        self._pending: deque[_Pending] = deque()
        self._inbox: deque[tuple[str, bytes]] = deque()
        self._inbox_lock = threading.Lock()
        self._clock: Clock | None = None
        self._report_to: Report | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._started = False
        self._link_detail = ""
        self.on_connected: Callable[[], None] | None = None
        """Called on the loop after each (re)connection and the ``online`` status."""

    # ---- lifecycle ------------------------------------------------------------------------

    def clock(self) -> float:
        """The host clock given at start (0 before)."""
        return self._clock() if self._clock is not None else 0.0

    async def start(self, clock: Clock, report: Report) -> None:
        """Create the client and let its thread connect (and reconnect); the first call wins."""
        if self._started:
            return
        self._started = True
        self._clock = clock
        self._report_to = report
        self._loop = asyncio.get_running_loop()
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
            self.report("mqtt_error", f"cannot start MQTT client for {o.broker}: {exc}")

    async def stop(self) -> None:
        """Say ``offline`` (retained), disconnect and join the network thread (once)."""
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

    def report(self, type_: str, detail: str) -> None:
        """An event of the MQTT session or its halves, through the host (event log, console, outputs)."""
        report = self._report_to
        if report is None:
            return
        ev = Event(t=self.clock(), type=type_, a="mqtt", detail=detail)
        with contextlib.suppress(Exception):
            report(ev)

    def _set_link(self, type_: str, detail: str) -> None:
        if detail != self._link_detail:
            self._link_detail = detail
            self.report(type_, detail)

    def _on_connected(self) -> None:
        if self._client is None:
            return
        self.connected = True
        o = self.opts
        self._set_link("mqtt_up", f"connected to {o.broker} as site {o.site}")
        self._client.publish(
            f"{self.prefix}/status", codec.encode_status(o.site, "online", self.clock()), 1, True
        )
        if self.on_connected is not None:
            self.on_connected()
        while self._pending and self.connected:
            p = self._pending.popleft()
            self.publish(p.topic, p.payload, p.retain)

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

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Publish now, or queue (bounded, oldest dropped) while the broker is away."""
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

    # ---- receiving ------------------------------------------------------------------------

    def _drain(self) -> None:
        with self._inbox_lock:
            batch = list(self._inbox)
            self._inbox.clear()
        handler = self.on_message
        for topic, payload in batch:
            self.stats["received"] += 1
            if handler is None:
                self.stats["no_handler"] += 1
                continue
            try:
                handler(topic, payload)
            except codec.BadMessage as exc:
                self.stats[exc.reason] += 1
            except Exception:  # never let a message take the daemon down
                self.stats["internal_error"] += 1


def session_from_config(where: str, table: Mapping[str, Any]) -> MqttSession:
    """The session for ``[outputs.mqtt]``; ``ConfigError`` names the first bad key."""
    opts = parse_options(where, table)
    return MqttSession(opts, tls_context(where, opts) if opts.tls else None)
