"""MQTT fleet sharing: strict codec, options, and two daemons through a real mosquitto.

The broker tests start ``mosquitto`` on 127.0.0.1 with an ephemeral port,
``allow_anonymous false``, a password file made with ``mosquitto_passwd`` and an
ACL as docs/integrations.md recommends (each site writes only its own topics).
Without the binary they are skipped, except under CI where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from sepmon.apps.daemon import Daemon
from sepmon.apps.extensions import build_extensions, build_outputs
from sepmon.core import mqttcodec as codec
from sepmon.core.config import parse_config
from sepmon.core.errors import ConfigError
from sepmon.core.ingest import NmeaIngest
from sepmon.core.model import Event, Fix, Level
from sepmon.links.mqtt import MqttLink
from sepmon.links.sources import SourceSpec
from sepmon.outputs.mqtt import MqttOutput
from sepmon.sim import simulate
from sepmon.transport.mqtt import session_from_config

USERS = {"siteA": "pw-A-7f3c", "siteB": "pw-B-91d2", "watcher": "pw-W-0000"}
ACL = """user siteA
topic readwrite sepmon/siteA/#
topic read sepmon/siteB/#
user siteB
topic readwrite sepmon/siteB/#
topic read sepmon/siteA/#
user watcher
topic readwrite sepmon/#
"""

# ---- codec ------------------------------------------------------------------------------------

FIX = Fix("bravo", 1_700_000_000.2, 47.25, 11.33, 1500.4, 100.0, 250.0, 1, 0.9, 10, rx_t=1_700_000_000.25)


def track(**over: Any) -> bytes:
    d = json.loads(codec.encode_track(FIX))
    d.update(over)
    return json.dumps(d).encode()


def test_track_round_trip() -> None:
    got = codec.decode_track(codec.encode_track(FIX))
    assert got == replace(FIX, rx_t=None)
    two_d = replace(FIX, alt_m=None, sog_mps=None, cog_deg=None, hdop=None, sats=None, rx_t=None)
    assert codec.decode_track(codec.encode_track(two_d)) == two_d


def test_track_carries_the_receivers_height_datum_and_error_estimates() -> None:
    # Oracle: a real receiver's values -- isync.log (tests/data/real, gpsd's regression log):
    # GGA geoid separation -33.8 m; GST sigmas 0.70/0.49/1.1 m, which as ~95 % bounds are
    # 2.448 x RMS sigma = 1.4788 m and 1.96 x 1.1 = 2.1560 m (scipy: chi2(2), norm).
    fix = replace(FIX, geoid_sep_m=-33.8, eph_m=1.4787837, epv_m=2.1559604)
    d = json.loads(codec.encode_track(fix))
    assert (d["geoid_sep_m"], d["eph_m"], d["epv_m"]) == (-33.8, 1.48, 2.16)  # cm, errors rounded up
    got = codec.decode_track(codec.encode_track(fix))
    assert (got.geoid_sep_m, got.eph_m, got.epv_m) == (-33.8, 1.48, 2.16)
    assert got.eph_m >= fix.eph_m and got.epv_m >= fix.epv_m  # a bound sent on is never smaller
    # Without them (a receiver that sends no GST, no separation) the keys are left out.
    bare = codec.encode_track(FIX)
    assert not {"geoid_sep_m", "eph_m", "epv_m"} & set(json.loads(bare))
    got = codec.decode_track(bare)
    assert (got.geoid_sep_m, got.eph_m, got.epv_m) == (None, None, None)
    # An RTK receiver's millimetre estimate goes on as 1 cm, not as 0 (no receiver is exact).
    d = json.loads(codec.encode_track(replace(FIX, eph_m=0.004, epv_m=0.0, geoid_sep_m=float("nan"))))
    assert d["eph_m"] == 0.01 and "epv_m" not in d and "geoid_sep_m" not in d


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (track(eph_m=0), "range"),
        (track(epv_m=0.0), "range"),
        (track(eph_m=-1.0), "range"),
        (track(epv_m=1e6), "range"),
        (track(eph_m="1.5"), "schema"),
        (track(geoid_sep_m=250.0), "range"),
        (track(geoid_sep_m=True), "schema"),
        (b"x" * 2000, "too_big"),
        (b"\xff\xfe{}", "json"),
        (b"{not json", "json"),
        (b'{"v":1,"v":1}', "json"),
        (track(lat=float("nan")), "json"),  # json.dumps writes NaN, which we refuse
        (track(t=float("inf")), "json"),
        (b"[1,2]", "schema"),
        (track(v=2), "version"),
        (track(v=True), "version"),
        (track(lat=91.0), "range"),
        (track(lon=-180.5), "range"),
        (track(t=5.0), "range"),
        (track(lat="47.0"), "schema"),
        (track(lat=True), "schema"),
        (track(quality=1.5), "schema"),
        (track(quality=0), "range"),
        (track(sats=-1), "range"),
        (track(cog_deg=400), "range"),
        (track(lat=10**400), "range"),
        (track(source=""), "schema"),
        (track(source="a\nb"), "schema"),
        (track(source="x" * 65), "schema"),
        (track(extra=1), "schema"),
        (track(__class__="Fix"), "schema"),
    ],
)
def test_bad_tracks_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(codec.BadMessage) as info:
        codec.decode_track(payload)
    assert info.value.reason == reason


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.from_regex(rb"\{.{0,200}\}", fullmatch=True)))
def test_decoder_only_ever_raises_bad_message(payload: bytes) -> None:
    with contextlib.suppress(codec.BadMessage):
        fix = codec.decode_track(payload)
        assert math.isfinite(fix.lat) and -90 <= fix.lat <= 90


def test_topic_levels_escape_wildcards_and_separators() -> None:
    for name in ("alpha", "ttyUSB0", "a/b", "x+y#z", "100%", "site:bravo"):
        level = codec.topic_level(name)
        assert not any(c in level for c in "/+#")
        assert codec.name_from_level(level) == name


def test_status_and_event_messages() -> None:
    assert codec.decode_status(codec.encode_status("A", "offline")) == "offline"
    with pytest.raises(codec.BadMessage):
        codec.decode_status(codec.encode_status("A", "maybe"))
    ev = Event(t=1.0, type="level", a="alpha", b="bravo", level=3, prev_level=0, range_m=float("nan"))
    d = json.loads(codec.encode_event("A", ev))
    assert (d["v"], d["site"], d["level"], d["range_m"]) == (1, "A", 3, None)


# ---- options ------------------------------------------------------------------------------------


def test_options_and_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    out = session_from_config(
        "outputs.mqtt",
        {"site": "A", "trust": ["B"], "username": "u", "password_file": str(pw), "tls": True},
    )
    assert out.opts.password == "s3cret" and "s3cret" not in repr(out.opts)
    monkeypatch.setenv("SEPMON_TEST_PW", "envpw")
    out = session_from_config(
        "outputs.mqtt",
        {"site": "A", "username": "u", "password_env": "SEPMON_TEST_PW", "allow_plaintext_password": True},
    )
    assert out.opts.password == "envpw" and out.opts.allow_plaintext_password
    outs = build_outputs({"mqtt": {"site": "A", "tls": True}})
    assert isinstance(outs[0], MqttOutput) and outs[0].opts.port == 8883

    bad: list[tuple[dict[str, Any], str]] = [
        (
            {"site": "A", "username": "u", "password": "hunter2-secret"},
            "outputs.mqtt.password: never put a password",
        ),
        ({"site": "A", "username": "u", "password_env": "SEPMON_NOT_SET_X"}, "is not set"),
        ({"site": "A", "password_file": str(tmp_path / "nope")}, "cannot read"),
        ({"site": "A", "password_file": str(pw)}, "needs a username"),
        ({"site": "a/b"}, "outputs.mqtt.site"),
        ({"site": "A", "trust": ["A"]}, "does not trust itself"),
        ({"site": "A", "trust": "B"}, "outputs.mqtt.trust"),
        ({"site": "A", "qos": 2}, "outputs.mqtt.qos"),
        ({"site": "A", "ca_file": str(pw)}, "only with tls"),
        ({"site": "A", "tls": True, "ca_file": str(pw)}, "TLS files"),
        ({"site": "A", "colour": "red"}, "outputs.mqtt.colour: unknown key"),
        # A password over plain TCP: refused unless the configuration accepts it in so many words.
        ({"site": "A", "username": "u", "password_file": str(pw)}, "password over plain TCP (tls = false)"),
        (
            {"site": "A", "username": "u", "password_file": str(pw), "allow_plaintext_password": "yes"},
            "outputs.mqtt.allow_plaintext_password",
        ),
    ]
    for table, msg in bad:
        with pytest.raises(ConfigError) as info:
            session_from_config("outputs.mqtt", table)
        assert msg in str(info.value) and "\n" not in str(info.value)
        assert "hunter2-secret" not in str(info.value) and "s3cret" not in str(info.value)


# ---- a real broker ------------------------------------------------------------------------------


def _which(name: str) -> str | None:
    # Debian installs the broker in sbin, which is not on every user's PATH.
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    return shutil.which(name, path=path)


def _need(name: str) -> str:
    exe = _which(name)
    if exe is None:
        msg = f"{name} not installed (Debian package mosquitto)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """One mosquitto process; ``kill()``/``start()`` keep the port."""

    def __init__(self, tmp_path: Path, tls: tuple[Path, Path, Path] | None = None) -> None:
        self.exe = _need("mosquitto")
        passwd = _need("mosquitto_passwd")
        self.dir = tmp_path / f"broker-{free_port()}"
        self.dir.mkdir()
        self.port = free_port()
        pwfile = self.dir / "passwd"
        for i, (user, pw) in enumerate(USERS.items()):
            args = [passwd, "-b", *(["-c"] if i == 0 else []), str(pwfile), user, pw]
            subprocess.run(args, check=True, capture_output=True, timeout=10)
        acl = self.dir / "acl"
        acl.write_text(ACL)
        lines = [
            # Started as root, mosquitto drops to its own user, which cannot read tmp_path.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {pwfile}",
            f"acl_file {acl}",
            "persistence false",
            "log_dest stderr",
            f"listener {self.port} 127.0.0.1",
        ]
        if tls is not None:
            ca, cert, key = tls
            lines += [f"cafile {ca}", f"certfile {cert}", f"keyfile {key}"]
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.dir / "log.txt", "ab")  # noqa: SIM115 - kept by the process
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.dir / 'log.txt').read_text()[-500:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen within 5 s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()


def make_certs(d: Path, name: str) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost (openssl CLI)."""
    exe = shutil.which("openssl")
    if exe is None:
        pytest.skip("openssl not installed")
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca, ca_key = d / f"{name}-ca.pem", d / f"{name}-ca.key"
    cert, key, csr, ext = d / f"{name}.pem", d / f"{name}.key", d / f"{name}.csr", d / f"{name}.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*args: str) -> None:
        subprocess.run([exe, *args], check=True, capture_output=True, timeout=30)

    run("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", f"/CN={name} CA")
    run("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    run(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext),
    )  # fmt: skip
    key.chmod(0o644)  # the broker may run as another user
    return ca, cert, key


# ---- daemons on one loop ------------------------------------------------------------------------


class Site:
    """One daemon with one local vehicle and the MQTT output and link (one session), run as a task."""

    def __init__(self, tmp_path: Path, site: str, vehicle: str, table: dict[str, Any]) -> None:
        empty = tmp_path / f"{site}-empty.nmea"
        empty.touch()
        cfg = parse_config({"separation": {"horizontal_m": 3000, "vertical_m": 300}})
        self.events: list[Event] = []
        ext = build_extensions({"mqtt": {"site": site, **table}})
        [self.output] = ext.outputs
        [self.link] = ext.feeds
        assert isinstance(self.output, MqttOutput) and isinstance(self.link, MqttLink)
        spec = SourceSpec(name=vehicle, url=f"file://{empty}", kind="file", board=False)
        self.daemon = Daemon(cfg, [spec], on_event=self.events.append, outputs=ext.outputs, feeds=ext.feeds)
        self.task: asyncio.Task[None] | None = None

    def level_events(self, level: Level) -> list[Event]:
        return [e for e in self.events if e.type == "level" and e.level == level]

    def of_type(self, type_: str) -> list[Event]:
        return [e for e in self.events if e.type == type_]


def site_table(broker: Broker, site: str, **over: Any) -> dict[str, Any]:
    os.environ[f"SEPMON_TEST_PW_{site}"] = USERS[site]
    return {
        "host": "127.0.0.1",
        "port": broker.port,
        "username": site,
        "password_env": f"SEPMON_TEST_PW_{site}",
        "keepalive": 5,
        "allow_plaintext_password": True,  # a loopback test broker
        **over,
    }


@contextlib.asynccontextmanager
async def running(*sites: Site) -> AsyncIterator[None]:
    for s in sites:
        s.task = asyncio.create_task(s.daemon.serve(install_signals=False))
    try:
        yield
    finally:
        for s in sites:
            s.daemon.stop()
        for s in sites:
            assert s.task is not None
            await asyncio.wait_for(s.task, 10)


async def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def encounter_fixes(duration: float = 6.0) -> dict[str, list[Fix]]:
    """A head-on encounter starting now: alpha and bravo pass 2.8 km apart (minima 3 km)."""
    start = datetime.fromtimestamp(time.time(), UTC)
    sim = simulate("head-on", start=start, separation=4000, speed=100, duration=duration, rate=5)
    ings: dict[str, NmeaIngest] = {}
    out: dict[str, list[Fix]] = {}
    for rx_t, src, data in sim.lines:
        ing = ings.setdefault(src, NmeaIngest(src))
        for fix in ing.feed(data, rx_t):
            out.setdefault(fix.source, []).append(replace(fix, rx_t=None))
    return out


async def feed(site: Site, fixes: list[Fix], speedup: float, stop: asyncio.Event | None = None) -> None:
    """Inject fixes at ``speedup`` × their own pace (the daemon stamps the receive time)."""
    t0, w0 = fixes[0].t, time.monotonic()
    for fix in fixes:
        delay = (fix.t - t0) / speedup - (time.monotonic() - w0)
        if delay > 0:
            await asyncio.sleep(delay)
        if stop is not None and stop.is_set():
            return
        site.daemon.inject_fix(fix)


class Watcher:
    """A plain paho client recording everything under ``sepmon/#``."""

    def __init__(self, broker: Broker) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sepmon-test-watcher")
        self.client.username_pw_set("watcher", USERS["watcher"])
        self.client.on_connect = self._connect
        self.client.on_message = self._msg
        self.client.connect("127.0.0.1", broker.port, 5)
        self.client.loop_start()
        assert self.ready.wait(5)

    def _connect(self, c: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
        c.subscribe("sepmon/#", 1)
        self.ready.set()

    def _msg(self, c: Any, u: Any, m: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((m.topic, bytes(m.payload), bool(m.retain)))

    def topics(self) -> list[str]:
        with self.lock:
            return [t for t, _, _ in self.messages]

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, 1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# ---- the scenarios ------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_two_sites_share_tracks_and_both_warn(broker: Broker, tmp_path: Path) -> None:
    async def main() -> None:
        a = Site(tmp_path, "siteA", "alpha", site_table(broker, "siteA", trust=["siteB"]))
        b = Site(tmp_path, "siteB", "bravo", site_table(broker, "siteB", trust=["siteA"]))
        watcher = Watcher(broker)
        fixes = encounter_fixes()
        try:
            async with running(a, b):
                await wait_for(lambda: a.output.connected and b.output.connected, 5, "both connected")
                await asyncio.gather(feed(a, fixes["alpha"], 2.0), feed(b, fixes["bravo"], 2.0))
                await wait_for(
                    lambda: bool(a.level_events(Level.WARNING) and b.level_events(Level.WARNING)),
                    3,
                    "a warning on both sites",
                )
                await asyncio.sleep(0.3)
        finally:
            watcher.close()
        for s in (a, b):
            warn = s.level_events(Level.WARNING)[0]
            assert (warn.a, warn.b) == ("alpha", "bravo")
            assert s.daemon.monitor.pairs["alpha", "bravo"].max_level == Level.WARNING
            assert s.output.stats["injected"] >= len(fixes["alpha"]) - 2
            assert set(s.output.stats) <= {"published", "received", "injected"}, s.output.stats
            assert not s.of_type("mqtt_error") and not s.of_type("dropped")
        topics = watcher.topics()
        # Each site publishes only its own vehicle: remote tracks are never re-published.
        assert {t for t in topics if "/track/" in t} == {
            "sepmon/siteA/track/alpha",
            "sepmon/siteB/track/bravo",
        }
        events = [json.loads(p) for t, p, _ in watcher.messages if t.endswith("/event")]
        assert {(e["site"], e["a"], e["b"], e["level"]) for e in events} >= {
            ("siteA", "alpha", "bravo", 3),
            ("siteB", "alpha", "bravo", 3),
        }
        status = [(t, json.loads(p)["state"]) for t, p, _ in watcher.messages if t.endswith("/status")]
        assert ("sepmon/siteA/status", "online") in status and ("sepmon/siteA/status", "offline") in status
        boards = [json.loads(p) for t, p, _ in watcher.messages if t == "sepmon/siteA/board/alpha"]
        assert boards and boards[0]["source"] == "alpha" and "link_up" in boards[0]

    asyncio.run(main())


@pytest.mark.timeout(40)
def test_broker_restart_both_reconnect_and_resume(broker: Broker, tmp_path: Path) -> None:
    async def main() -> None:
        a = Site(tmp_path, "siteA", "alpha", site_table(broker, "siteA", trust=["siteB"], queue=5))
        b = Site(tmp_path, "siteB", "bravo", site_table(broker, "siteB", trust=["siteA"], queue=5))
        fixes = encounter_fixes(duration=30)
        stop = asyncio.Event()
        async with running(a, b):
            await wait_for(lambda: a.output.connected and b.output.connected, 5, "both connected")
            feeders = asyncio.gather(feed(a, fixes["alpha"], 2.0, stop), feed(b, fixes["bravo"], 2.0, stop))
            await wait_for(lambda: min(a.output.stats["injected"], b.output.stats["injected"]) > 3, 3, "flow")
            broker.kill()
            await wait_for(lambda: not a.output.connected and not b.output.connected, 3, "both see it down")
            await asyncio.sleep(0.6)  # long enough to queue more than the bound
            assert a.output.pending <= 5 and a.output.stats["queue_dropped"] > 0
            downs = a.of_type("mqtt_down")
            assert downs, a.events
            # Why, in words: paho's "Unspecified error" said nothing (issue 19).
            assert "Unspecified error" not in (downs[0].detail or ""), downs[0].detail
            before = (a.output.stats["injected"], b.output.stats["injected"])
            broker.start()
            await wait_for(lambda: a.output.connected and b.output.connected, 8, "both reconnected")
            # Subscriptions were restored: remote tracks flow again both ways.
            await wait_for(
                lambda: (
                    a.output.stats["injected"] > before[0] + 3 and b.output.stats["injected"] > before[1] + 3
                ),
                4,
                "tracks after the restart",
            )
            assert a.output.pending == 0
            stop.set()
            await feeders
        for s in (a, b):
            ups = s.of_type("mqtt_up")
            assert len(ups) == 2 and all("\n" not in (e.detail or "") for e in s.events)

    asyncio.run(main())


@pytest.mark.timeout(20)
def test_bad_credentials_give_one_clear_event(broker: Broker, tmp_path: Path) -> None:
    async def main() -> None:
        os.environ["SEPMON_TEST_PW_WRONG"] = "not-the-password-9z"
        table = site_table(broker, "siteA", password_env="SEPMON_TEST_PW_WRONG", reconnect_max_s=1)
        a = Site(tmp_path, "siteA", "alpha", table)
        async with running(a):
            await wait_for(lambda: bool(a.of_type("mqtt_error")), 5, "an mqtt_error event")
            await asyncio.sleep(2.5)  # paho retries; the refusal is reported once
            a.daemon.inject_fix(replace(FIX, source="alpha", t=time.time()))
        errors = a.of_type("mqtt_error")
        assert len(errors) == 1 and not a.output.connected and a.output.stats["refused"] >= 2
        detail = errors[0].detail or ""
        assert "refused" in detail and f"127.0.0.1:{broker.port}" in detail and "\n" not in detail
        assert "Bad user name or password" in detail or "Not authorized" in detail
        for ev in a.events:
            assert "not-the-password-9z" not in ev.to_json()

    asyncio.run(main())


@pytest.mark.timeout(20)
def test_received_messages_are_validated_and_ordered(broker: Broker, tmp_path: Path) -> None:
    async def main() -> None:
        a = Site(tmp_path, "siteA", "alpha", site_table(broker, "siteA", trust=["siteB"], prefix=False))
        watcher = Watcher(broker)
        now = time.time()

        def msg(**over: Any) -> bytes:
            return track(**{"t": now, **over})

        try:
            async with running(a):
                await wait_for(lambda: a.output.connected, 5, "connected")
                await asyncio.sleep(0.2)  # the subscription is in place
                sends = [
                    ("sepmon/siteB/track/bravo", msg()),
                    ("sepmon/siteB/track/bravo", msg()),  # duplicate
                    ("sepmon/siteB/track/bravo", msg(t=now - 1)),  # older
                    ("sepmon/siteB/track/bravo", msg(t=now + 0.2)),  # next: accepted
                    ("sepmon/siteB/track/bravo", msg(t=now - 300)),  # would go back in time
                    ("sepmon/siteB/track/bravo", b"{]"),
                    ("sepmon/siteB/track/bravo", b'{"v":1,"lat":NaN}'),
                    ("sepmon/siteB/track/bravo", b"x" * 5000),
                    ("sepmon/siteB/track/bravo", msg(lat=95.0)),
                    ("sepmon/siteB/track/charlie", msg(t=now + 0.4)),  # topic and payload disagree
                    ("sepmon/siteB/track/alpha", msg(source="alpha", t=now + 0.4)),  # our own name
                    ("sepmon/siteC/track/delta", msg(source="delta")),  # not trusted: not even subscribed
                    ("sepmon/siteB/track/old", msg(source="old", t=now - 120)),  # late by our clock
                    ("sepmon/siteB/track/bravo", msg(t=now + 3600)),  # a peer clock gone wrong
                    ("sepmon/siteB/status", codec.encode_status("siteB", "online", now)),
                ]
                for topic, payload in sends:
                    watcher.publish(topic, payload)
                await wait_for(lambda: a.output.stats["received"] >= len(sends) - 1, 3, "all delivered")
                await asyncio.sleep(0.1)
        finally:
            watcher.close()
        s = a.output.stats
        assert s["injected"] == 2 and a.link.remote_last_t == {"bravo": now + 0.2}
        assert (s["stale"], s["json"], s["too_big"], s["range"], s["topic"], s["conflict"], s["late"]) == (
            3,
            2,
            1,
            1,
            1,
            1,
            1,
        )
        assert s["future"] == 1
        assert "delta" not in {st.source for st in a.daemon.monitor.states()}
        assert a.link.peers == {"siteB": "online"}
        assert [e.detail for e in a.of_type("mqtt_conflict")] == [
            "site siteB sends 'alpha', a name already in use: ignored"
        ]

    asyncio.run(main())


@pytest.mark.timeout(30)
def test_error_estimates_and_geoid_separation_reach_the_other_site(broker: Broker, tmp_path: Path) -> None:
    # Oracles: mosquitto carries site B's track message to site A; the values are a real
    # receiver's (isync.log: GGA separation -33.8 m, GST sigmas 0.70/0.49/1.1 m as ~95 %
    # bounds, see test_track_carries_the_receivers_height_datum_and_error_estimates).
    async def main() -> Fix | None:
        a = Site(tmp_path, "siteA", "alpha", site_table(broker, "siteA", trust=["siteB"]))
        b = Site(tmp_path, "siteB", "bravo", site_table(broker, "siteB", trust=["siteA"]))
        async with running(a, b):
            await wait_for(lambda: a.output.connected and b.output.connected, 5, "both connected")
            await asyncio.sleep(0.2)  # the subscriptions are in place
            local = Fix("bravo", time.time(), 41.89766, -87.64394, 184.3, 0.02, None, 2, 0.95, 12)
            b.daemon.inject_fix(replace(local, geoid_sep_m=-33.8, eph_m=1.4787837, epv_m=2.1559604))
            await wait_for(lambda: a.daemon.picture().track("bravo") is not None, 5, "bravo at site A")
            entry = a.daemon.picture().track("bravo")
            return None if entry is None else entry.fix

    got = asyncio.run(main())
    assert got is not None and (got.lat, got.lon) == (41.89766, -87.64394)
    assert (got.geoid_sep_m, got.eph_m, got.epv_m) == (-33.8, 1.48, 2.16)


@pytest.mark.timeout(30)
def test_prefixed_names_and_tls(tmp_path: Path) -> None:
    ca, cert, key = make_certs(tmp_path / "pki", "good")
    other_ca, _, _ = make_certs(tmp_path / "pki", "other")
    broker = Broker(tmp_path, tls=(ca, cert, key))
    broker.start()
    try:

        async def main() -> None:
            tls = {"tls": True, "ca_file": str(ca)}
            a = Site(
                tmp_path, "siteA", "alpha", site_table(broker, "siteA", trust=["siteB"], prefix=True, **tls)
            )
            b = Site(tmp_path, "siteB", "bravo", site_table(broker, "siteB", **tls))
            wrong = Site(
                tmp_path, "siteC", "carol", site_table(broker, "siteA", tls=True, ca_file=str(other_ca))
            )
            async with running(a, b, wrong):
                await wait_for(lambda: a.output.connected and b.output.connected, 5, "TLS connections")
                b.daemon.inject_fix(replace(FIX, t=time.time()))
                await wait_for(lambda: a.output.stats["injected"] == 1, 3, "a track over TLS")
                assert "siteB:bravo" in {st.source for st in a.daemon.monitor.states()}
                await wait_for(lambda: bool(wrong.of_type("mqtt_down")), 3, "refusing an unknown CA")
                assert not wrong.output.connected
                detail = wrong.of_type("mqtt_down")[0].detail or ""
                assert "certificate verify failed" in detail.lower(), detail

        asyncio.run(main())
    finally:
        broker.stop()


# ---- issue 19: what users of a broker with an ACL ran into -------------------------------------


@pytest.mark.timeout(30)
def test_acl_denials_are_said_in_one_line(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Oracle: mosquitto's ACL (user siteA may write sepmon/siteA/# and read sepmon/siteB/#
    # only) and its MQTT 5 reason codes. A site configured as siteB that logs in as siteA
    # has everything it publishes dropped by the broker; siteA trusting siteC (which the ACL
    # does not let it read) gets a subscription the broker grants and never serves. The old
    # session said "connected ... as site siteB" and nothing else.
    import sepmon.links.mqtt as mqtt_link

    monkeypatch.setattr(mqtt_link, "PEER_WAIT_S", 1.5)

    async def main() -> tuple[Site, Site]:
        wrong = Site(tmp_path, "siteB", "bravo", site_table(broker, "siteA", trust=["siteA"]))
        blind = Site(tmp_path, "siteA", "alpha", site_table(broker, "siteA", trust=["siteB", "siteC"]))
        async with running(wrong, blind):
            await wait_for(lambda: bool(wrong.of_type("mqtt_error")), 5, "the refusal said")
            wrong.daemon.inject_fix(replace(FIX, source="bravo", t=time.time()))
            await wait_for(lambda: bool(blind.of_type("mqtt_peer")), 5, "the missing peer said")
            await asyncio.sleep(0.5)
        return wrong, blind

    wrong, blind = asyncio.run(main())
    errors = [e.detail or "" for e in wrong.of_type("mqtt_error")]
    assert len(errors) == 1, errors  # once, not per message
    assert "sepmon/siteB/" in errors[0] and "Not authorized" in errors[0] and "user siteA" in errors[0]
    assert "\n" not in errors[0]
    peers = [e.detail or "" for e in blind.of_type("mqtt_peer")]
    # siteB is online (the wrong site's will and status are refused, but siteB is not
    # running here either): both unseen sites are named, each once.
    assert any("siteC" in d and "ACL" in d for d in peers), peers
    assert len([d for d in peers if "siteC" in d]) == 1


@pytest.mark.timeout(30)
def test_retained_boards_of_removed_sources_are_cleared(broker: Broker, tmp_path: Path) -> None:
    # Oracle: mosquitto's retained messages (what a new subscriber is handed at once).
    # A previous run of siteA had a board "oldboard" that is no longer configured.
    watcher = Watcher(broker)
    try:
        watcher.client.publish("sepmon/siteA/board/oldboard", b'{"v":1}', 1, retain=True).wait_for_publish(5)
    finally:
        watcher.close()

    async def main() -> Site:
        a = Site(tmp_path, "siteA", "alpha", site_table(broker, "siteA"))
        async with running(a):
            await wait_for(lambda: a.output.connected, 5, "connected")
            await wait_for(lambda: a.output.stats["board_cleared"] >= 1, 5, "the old board cleared")
            await asyncio.sleep(6)  # the first board_interval_s: alpha's retained health goes out
        return a

    asyncio.run(main())
    retained: list[str] = []
    got = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sepmon-test-retained")
    client.username_pw_set("watcher", USERS["watcher"])

    def on_message(c: Any, u: Any, m: mqtt.MQTTMessage) -> None:
        if m.retain and m.payload:
            retained.append(m.topic)
            got.set()

    client.on_message = on_message
    client.on_connect = lambda c, u, f, rc, p: c.subscribe("sepmon/siteA/board/+", 1)
    client.connect("127.0.0.1", broker.port, 5)
    client.loop_start()
    try:
        got.wait(3)
        time.sleep(0.5)
    finally:
        client.disconnect()
        client.loop_stop()
    assert retained == ["sepmon/siteA/board/alpha"], retained


@pytest.mark.timeout(30)
def test_refused_messages_reach_the_event_log_and_the_exit_statistics(broker: Broker, tmp_path: Path) -> None:
    # Oracle: the messages' own faults, as the codec's table (docs/integrations.md) names them.
    async def main() -> Site:
        a = Site(tmp_path, "siteA", "alpha", site_table(broker, "siteA", trust=["siteB"]))
        watcher = Watcher(broker)
        try:
            async with running(a):
                await wait_for(lambda: a.output.connected, 5, "connected")
                await asyncio.sleep(0.2)
                for payload in (b"{]", b"x" * 5000, track(t=time.time(), lat=95.0)):
                    watcher.publish("sepmon/siteB/track/bravo", payload)
                await wait_for(lambda: a.output.stats["received"] >= 3, 3, "delivered")
                await asyncio.sleep(0.1)
        finally:
            watcher.close()
        return a

    a = asyncio.run(main())
    drops = [e for e in a.of_type("dropped") if e.a == "mqtt:siteB"]
    assert {(e.detail or "").split(":")[0] for e in drops} == {"json", "too_big", "range"}, drops
    stats = [json.loads(e.detail or "{}") for e in a.of_type("source_stats") if e.a == "mqtt:siteB"]
    assert stats and stats[0]["dropped_json"] == 1 and stats[0]["dropped_too_big"] == 1
    assert stats[0]["dropped_range"] == 1


def test_a_batch_of_messages_is_injected_at_once(tmp_path: Path) -> None:
    # Oracle: the messages themselves — five tracks waiting when the loop drains them are
    # one call of the daemon's batch entry point (one evaluation), not five.
    from sepmon.links.mqtt import MqttLink
    from sepmon.transport.mqtt import session_from_config

    async def main() -> list[int]:
        session = session_from_config("outputs.mqtt", {"site": "siteA", "trust": ["siteB"]})
        link = MqttLink(session)
        a = Site(tmp_path, "siteA", "alpha", {})
        batches: list[int] = []
        real = a.daemon.inject_fixes

        def spy(fixes: Any) -> None:
            batches.append(len(fixes))
            real(fixes)

        a.daemon.inject_fixes = spy  # type: ignore[method-assign]
        session._loop = asyncio.get_running_loop()
        link._host = a.daemon
        session.on_message = link._handle
        session.on_drained = link._inject_batch
        now = time.time()
        for i in range(5):
            msg = mqtt.MQTTMessage(topic=f"sepmon/siteB/track/b{i}".encode())
            msg.payload = track(source=f"b{i}", t=now)
            session._mq_message(None, None, msg)  # as paho's thread hands them over
        await asyncio.sleep(0.05)
        return batches

    assert asyncio.run(main()) == [5]
