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
is counted by its reason and reported through ``on_drop`` (the daemon's dropped-input
path: event log, live view, exit statistics); nothing here raises into the daemon.

The session speaks MQTT 5 (mosquitto 1.6 and later, and the other common brokers),
for its reason codes: a publish the broker's ACL refuses comes back ``Not
authorized`` and is said once, in one line (``mqtt_error``), instead of vanishing;
a refused subscription likewise; and a disconnection says why (the broker's reason,
the socket error, or that the broker closed the connection), never "Unspecified
error". A trusted site whose retained status has not arrived ``PEER_WAIT_S`` after
subscribing is reported (``mqtt_peer``): it never connected, or the ACL does not
let us read it (brokers grant such subscriptions and then deliver nothing). A
username and password over plain TCP are refused unless the table says
``allow_plaintext_password = true`` (then an ``exposed`` event says so at start).
Retained board topics of our site whose source is no longer configured are cleared
when we connect.
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
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from sepmon.core import mqttcodec as codec
from sepmon.core.errors import ConfigError
from sepmon.core.model import Event

MAX_INBOX = 5000
"""Received messages waiting for the loop; beyond this they are dropped (``inbox_full``)."""
STOP_TIMEOUT_S = 3.0
PEER_WAIT_S = 10.0
"""After subscribing, how long a trusted site's retained status may take before we say it is missing."""


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
    allow_plaintext_password: bool = False

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
    "allow_plaintext_password",
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
        if os.path.exists(path) and not Path(path).is_file():  # a named pipe would block the read
            raise ConfigError(f"{where}.password_file: {path!r} is not a regular file")
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
    plaintext = _bool(f"{where}.allow_plaintext_password", t.get("allow_plaintext_password", False))
    if password is not None and not tls and not plaintext:
        raise ConfigError(
            f"{where}: a password over plain TCP (tls = false) can be read by anyone on the way "
            "to the broker; set tls = true, or allow_plaintext_password = true to accept that"
        )
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
        allow_plaintext_password=plaintext,
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
OnDrop = Callable[[str, str, int], None]


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
        self.on_drained: Callable[[], None] | None = None
        """Called on the loop after each batch of received messages (the link injects them at once)."""
        self.on_drop: OnDrop | None = None
        """``(source, reason, count)`` for every received message refused (the daemon's ``dropped``)."""
        self._connected_hooks: list[Callable[[], None]] = []
        self._inbox_full = 0  # messages refused in the network thread since the last drain
        self._last_error = ""  # paho's last logged socket error, for the disconnect reason
        self._denied: set[str] = set()  # publish/subscribe refusals said so far
        self._topics_of: OrderedDict[int, list[str]] = OrderedDict()  # message ID → topics (the latest)
        self._board_prefix = f"{self.prefix}/board/"
        self._pending: deque[_Pending] = deque()
        self._inbox: deque[tuple[str, bytes]] = deque()
        self._inbox_lock = threading.Lock()
        self._clock: Clock | None = None
        self._report_to: Report | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._started = False
        self._link_detail = ""

    def add_on_connected(self, hook: Callable[[], None]) -> None:
        """``hook()`` on the loop after each (re)connection and the ``online`` status."""
        self._connected_hooks.append(hook)

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
            protocol=mqtt.MQTTv5,  # reason codes: ACL refusals and disconnect reasons
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
        client.on_publish = self._mq_publish
        client.on_subscribe = self._mq_subscribe
        client.on_log = self._mq_log
        self._client = client
        if o.password is not None and not o.tls:
            self.report(
                "exposed",
                f"MQTT password of user {o.username} goes to {o.broker} in clear text "
                "(tls = false, allow_plaintext_password = true)",
            )
        try:
            client.connect_async(o.host, o.port, keepalive=o.keepalive, clean_start=True)
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
        self._last_error = ""
        # Subscriptions go here so every reconnect restores them (clean sessions keep none).
        topics = [(f"{self.opts.root}/{s}/track/+", self.opts.qos) for s in self.opts.trust]
        topics += [(f"{self.opts.root}/{s}/status", 1) for s in self.opts.trust]
        topics.append((f"{self._board_prefix}+", 1))  # our own retained boards: clear the removed ones
        _, mid = client.subscribe(topics)
        self._call(self._on_subscribing, mid, [t for t, _ in topics])
        self._call(self._on_connected)

    def _mq_log(self, client: mqtt.Client, userdata: Any, level: int, buf: str) -> None:
        if level == mqtt.MQTT_LOG_ERR:
            self._last_error = buf  # e.g. "failed to receive on socket: [Errno 104] Connection reset by peer"

    def _mq_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Properties
    ) -> None:
        if reason.is_failure:
            self._call(self._on_publish_refused, mid, str(reason))

    def _mq_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], props: Properties
    ) -> None:
        failed = [(i, str(r)) for i, r in enumerate(reasons) if r.is_failure]
        if failed:
            self._call(self._on_subscribe_refused, mid, failed)

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
        self._call(self._on_down, f"lost MQTT broker {self.opts.broker}: {self._why_down(flags, reason)}")

    def _why_down(self, flags: Any, reason: ReasonCode) -> str:
        """A disconnection's reason in words (paho says "Unspecified error" for most)."""
        if getattr(flags, "is_disconnect_packet_from_server", False):
            return f"the broker disconnected us ({reason})"
        name = getattr(reason, "getName", lambda: str(reason))()
        if name == "Keep alive timeout":
            return f"no answer from the broker within the keepalive ({self.opts.keepalive} s)"
        err = self._last_error
        if err:
            return err.split(": ", 1)[-1] if "socket" in err else err
        return "the broker closed the connection (it stopped, or another client took our client ID)"

    def _mq_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.startswith(self._board_prefix):
            # Our own board health: only what the broker kept from before (retained) matters here.
            if msg.retain and msg.payload:
                self._call(self._stale_board, msg.topic)
            return
        with self._inbox_lock:
            if len(self._inbox) >= MAX_INBOX:
                self.stats["inbox_full"] += 1
                self._inbox_full += 1
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
        user = f" (user {o.username})" if o.username is not None else ""
        self._set_link("mqtt_up", f"connected to {o.broker} as site {o.site}{user}")
        info = self._client.publish(
            f"{self.prefix}/status", codec.encode_status(o.site, "online", self.clock()), 1, True
        )
        self._remember(info.mid, [f"{self.prefix}/status"])
        for hook in self._connected_hooks:
            hook()
        while self._pending and self.connected:
            p = self._pending.popleft()
            self.publish(p.topic, p.payload, p.retain)

    def _on_subscribing(self, mid: int, topics: list[str]) -> None:
        self._remember(mid, topics)

    def _remember(self, mid: int, topics: list[str]) -> None:
        """What a message ID was about, for a refusal coming back (the latest few hundred)."""
        self._topics_of[mid] = topics
        self._topics_of.move_to_end(mid)
        while len(self._topics_of) > 512:
            self._topics_of.popitem(last=False)

    def _on_publish_refused(self, mid: int, reason: str) -> None:
        self.stats["publish_refused"] += 1
        topics = self._topics_of.pop(mid, None)
        what = topics[0] if topics else f"{self.prefix}/..."
        if "publish" in self._denied:  # one line, not one per message: the count is in stats
            return
        self._denied.add("publish")
        o = self.opts
        who = f"user {o.username}" if o.username is not None else "an anonymous client"
        self.report(
            "mqtt_error",
            f"broker {o.broker} refuses what we publish to {what} ({reason}): its ACL does not let "
            f"{who} write {self.prefix}/#; other sites do not get site {o.site}'s data "
            "(check site and username)",
        )

    def _on_subscribe_refused(self, mid: int, failed: list[tuple[int, str]]) -> None:
        topics = self._topics_of.pop(mid, [])
        for i, reason in failed:
            topic = topics[i] if i < len(topics) else "?"
            if topic in self._denied:
                continue
            self._denied.add(topic)
            self.report(
                "mqtt_error", f"broker {self.opts.broker} refuses our subscription to {topic} ({reason})"
            )

    def _stale_board(self, topic: str) -> None:
        """A retained board message of our site: cleared when its source is not ours any more."""
        try:
            name = codec.name_from_level(topic[len(self._board_prefix) :])
        except UnicodeDecodeError:
            name = ""
        if name in self.local or self._client is None or not self.connected:
            return
        self.stats["board_cleared"] += 1
        self._client.publish(topic, b"", 1, retain=True)  # an empty retained message deletes it

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
                info = client.publish(topic, payload, self.opts.qos, retain)
            except (ValueError, OSError):
                self.stats["publish_error"] += 1
                return
            rc = info.rc
            self._remember(info.mid, [topic])
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
            full, self._inbox_full = self._inbox_full, 0
        if full:
            self.dropped("mqtt", "inbox_full", full)
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
                self.dropped(self.peer_of(topic), exc.reason)
            except Exception:  # never let a message take the daemon down
                self.stats["internal_error"] += 1
                self.dropped(self.peer_of(topic), "internal_error")
        if self.on_drained is not None:
            try:
                self.on_drained()
            except Exception:
                self.stats["internal_error"] += 1

    def peer_of(self, topic: str) -> str:
        """The name drops from a topic are counted under: ``mqtt:<site>`` (``mqtt`` when unclear)."""
        parts = topic.split("/")
        n = self.opts.root.count("/") + 1
        site = parts[n] if len(parts) > n and "/".join(parts[:n]) == self.opts.root else ""
        return f"mqtt:{site}" if codec.valid_site(site) else "mqtt"

    def dropped(self, source: str, reason: str, count: int = 1) -> None:
        """A received message refused: through ``on_drop`` to the daemon (never raises)."""
        hook = self.on_drop
        if hook is not None:
            with contextlib.suppress(Exception):
                hook(source, reason, count)


def session_from_config(where: str, table: Mapping[str, Any]) -> MqttSession:
    """The session for ``[outputs.mqtt]``; ``ConfigError`` names the first bad key."""
    opts = parse_options(where, table)
    return MqttSession(opts, tls_context(where, opts) if opts.tls else None)
