"""gpsd source: the JSON watch protocol against a scripted server, and a real gpsd fed by gpsfake."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import itertools
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sepmon.core.checksum import nmea_checksum
from sepmon.core.ingest import NmeaIngest
from sepmon.core.model import Fix
from sepmon.links.gpsd import MAX_LINE, GpsdLink, device_suffix, fix_from_tpv, parse_time
from sepmon.links.open import open_link
from sepmon.links.sources import parse_source
from sepmon.sim import simulate
from sepmon.sim.writer import write_recording

T0 = "2024-03-15T10:00:00.000Z"
T0_UNIX = 1710496800.0


def tpv(device: str = "/dev/ttyUSB0", time_: str = T0, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"class": "TPV", "device": device, "mode": 3, "time": time_, "lat": 47.25,
                         "lon": 11.35, "altHAE": 1500.0, "altMSL": 1453.0, "geoidSep": 47.0,
                         "speed": 60.0, "track": 70.0}  # fmt: skip
    d.update(kw)
    return {k: v for k, v in d.items() if v is not None}


def jl(*objs: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


VERSION = {"class": "VERSION", "release": "3.22", "proto_major": 3, "proto_minor": 14}


def devices(*paths: str) -> dict[str, Any]:
    return {"class": "DEVICES", "devices": [{"class": "DEVICE", "path": p} for p in paths]}


# ---- pure parts ------------------------------------------------------------------------------


def test_parse_time() -> None:
    assert parse_time(T0) == T0_UNIX
    assert parse_time("2024-03-15T10:00:00.250Z") == T0_UNIX + 0.25
    for bad in (None, "", "yesterday", 17, "2024-03-15T10:00:00"):
        assert parse_time(bad) is None


def test_fix_from_tpv_fields_and_fallbacks() -> None:
    f = fix_from_tpv(tpv(status=2), "s", None, 5.0)
    assert f is not None
    assert (f.t, f.lat, f.lon, f.alt_m, f.sog_mps, f.cog_deg) == (T0_UNIX, 47.25, 11.35, 1500.0, 60.0, 70.0)
    assert f.quality == 2 and f.rx_t == 5.0 and f.hdop is None
    f = fix_from_tpv(tpv(altHAE=None), "s", None, None)
    assert f is not None and f.alt_m == 1500.0  # MSL + geoid separation
    f = fix_from_tpv(tpv(altHAE=None, altMSL=None, alt=1000.0, geoidSep=None), "s", None, None)
    assert f is not None and f.alt_m == 1000.0  # old 'alt', missing separation counts 0
    f = fix_from_tpv(tpv(mode=2), "s", None, None)
    assert f is not None and f.alt_m is None  # 2D: no height even if gpsd sends one
    for bad in (tpv(mode=1), tpv(mode=0), tpv(lat=None), tpv(time_="x"), tpv(status=8), tpv(lat=91.0)):
        assert fix_from_tpv(bad, "s", None, None) is None
    # gpsd's epv (gpsd_json(5): ~95 %) as it is; none for a 2D fix, or when zero or not a number.
    f = fix_from_tpv(tpv(eph=12.0, epv=20.5), "s", None, None)
    assert f is not None and (f.eph_m, f.epv_m) == (12.0, 20.5)
    for no_epv in (tpv(mode=2, epv=20.5), tpv(epv=0.0), tpv(epv="20"), tpv(epv=True), tpv()):
        f = fix_from_tpv(no_epv, "s", None, None)
        assert f is not None and f.epv_m is None


def test_device_suffix() -> None:
    assert device_suffix("/dev/ttyUSB0") == "ttyUSB0"
    assert device_suffix("/dev/sepmon-E6614C311B4E6B21") == "sepmon-E6614C311B4E6B21"
    assert device_suffix("tcp://10.0.0.5:2000") == "10.0.0.5_2000"
    assert device_suffix("/dev/pts/3") == "pts3"  # a bare number names nothing: with its directory


# ---- against a scripted gpsd -----------------------------------------------------------------


class FakeGpsd:
    """A TCP server on 127.0.0.1 that answers each client with a script of byte chunks."""

    def __init__(self, script: Callable[[int], list[bytes | float]]) -> None:
        self.script = script
        self.clients = 0
        self.received: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> FakeGpsd:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = self.clients
        self.clients += 1
        # Cancelled: the test ended while the script was still sleeping.
        with contextlib.suppress(OSError, asyncio.CancelledError):
            self.received.append(await reader.readline())
            for item in self.script(n):
                if isinstance(item, float):
                    await asyncio.sleep(item)
                else:
                    writer.write(item)
                    await writer.drain()
            writer.close()


class Collector:
    def __init__(self) -> None:
        self.fixes: list[tuple[str, Fix]] = []
        self.states: list[tuple[str, bool, str]] = []

    def on_fix(self, key: str, fix: Fix) -> None:
        self.fixes.append((key, fix))

    def on_state(self, key: str, up: bool, detail: str) -> None:
        self.states.append((key, up, detail))


@contextlib.asynccontextmanager
async def running(port: int, name: str = "gps") -> AsyncIterator[tuple[GpsdLink, Collector]]:
    got = Collector()
    spec = parse_source("t", {"name": name, "url": f"gpsd://127.0.0.1:{port}"})
    link = open_link(spec, asyncio.get_running_loop(), lambda *a: None, got.on_state, got.on_fix)
    assert isinstance(link, GpsdLink)
    link.start()
    try:
        yield link, got
    finally:
        link.stop()


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


HOLD_WAIT = 0.5
SKY = {
    "class": "SKY",
    "device": "/dev/ttyUSB0",
    "hdop": 0.9,
    "satellites": [{"PRN": 1, "used": True}, {"PRN": 2, "used": False}, {"PRN": 3, "used": True}],
}


@pytest.mark.timeout(20)
def test_one_device_watch_sky_and_epochs() -> None:
    async def main() -> None:
        t1 = "2024-03-15T10:00:01.000Z"
        script = [
            jl(VERSION, devices("/dev/ttyUSB0")),
            # first epoch: RMC-only report (2D), then the full one: emitted once, the full one wins
            jl(tpv(mode=2, altHAE=None, altMSL=None), tpv()),
            jl(SKY),
            jl(tpv(), tpv(time_=t1, lat=47.26), tpv(mode=1, time_="2024-03-15T10:00:02.000Z")),
            3.0,
        ]
        async with FakeGpsd(lambda n: script) as srv, running(srv.port) as (link, got):
            await until(lambda: len(got.fixes) == 2)
            await asyncio.sleep(HOLD_WAIT)
            assert srv.received[0].startswith(b"?WATCH=") and b'"json":true' in srv.received[0]
            assert got.states[0][:2] == ("gps", True) and "3.22" in got.states[0][2]
            (k0, f0), (k1, f1) = got.fixes
            assert k0 == k1 == "gps" and f0.source == f1.source == "gps"  # one device: the plain name
            assert f0.t == T0_UNIX and f0.alt_m == 1500.0 and f0.hdop is None
            assert f1.t == T0_UNIX + 1 and f1.lat == 47.26 and f1.hdop == 0.9 and f1.sats == 2
            assert link.counts["tpv_repeat"] == 1 and link.counts["tpv_no_fix"] == 1
            assert link.write(b"x") is False

    asyncio.run(main())


@pytest.mark.timeout(20)
def test_incomplete_epoch_is_emitted_after_hold() -> None:
    async def main() -> None:
        script = [jl(VERSION, devices("/dev/ttyUSB0"), tpv(mode=2, altHAE=None)), 3.0]
        async with FakeGpsd(lambda n: script) as srv, running(srv.port) as (_link, got):
            await until(lambda: len(got.fixes) == 1, timeout=2.0)
            assert got.fixes[0][1].alt_m is None

    asyncio.run(main())


@pytest.mark.timeout(20)
def test_several_devices_get_suffixed_names() -> None:
    async def main() -> None:
        t1 = "2024-03-15T10:00:01.000Z"
        script = [
            jl(VERSION, devices("/dev/ttyUSB0", "/dev/sepmon-ABC")),
            jl(tpv("/dev/ttyUSB0"), tpv("/dev/sepmon-ABC", lat=48.0)),
            jl(tpv("/dev/ttyUSB0", t1), tpv("/dev/sepmon-ABC", t1, lat=48.1)),
            3.0,
        ]
        async with FakeGpsd(lambda n: script) as srv, running(srv.port, "field") as (link, got):
            await until(lambda: len(got.fixes) == 4)
            assert {k for k, _ in got.fixes} == {"field"}  # the link's key stays the configured name
            by_src: dict[str, list[Fix]] = {}
            for _, f in got.fixes:
                by_src.setdefault(f.source, []).append(f)
            assert sorted(by_src) == ["field-sepmon-ABC", "field-ttyUSB0"]
            assert [f.lat for f in by_src["field-sepmon-ABC"]] == [48.0, 48.1]
            assert link.names == {"/dev/ttyUSB0": "field-ttyUSB0", "/dev/sepmon-ABC": "field-sepmon-ABC"}

    asyncio.run(main())


@pytest.mark.timeout(20)
def test_garbage_and_overlong_lines_are_counted_and_skipped() -> None:
    async def main() -> None:
        script = [
            jl(VERSION),
            b"{not json\n[1,2]\n",
            b'{"class":"TPV","junk":"' + b"x" * (MAX_LINE * 3),  # no newline for a long while
            b'"}\n',
            jl(tpv()),
            3.0,
        ]
        async with FakeGpsd(lambda n: script) as srv, running(srv.port) as (link, got):
            await until(lambda: len(got.fixes) == 1)
            assert link.counts["bad_json"] == 2 and link.counts["overlong"] >= 1
            assert got.fixes[0][1].t == T0_UNIX

    asyncio.run(main())


@pytest.mark.timeout(20)
def test_reconnects_after_gpsd_goes_away() -> None:
    async def main() -> None:
        def script(n: int) -> list[bytes | float]:
            when = f"2024-03-15T10:00:0{n}.000Z"
            return [jl(VERSION, tpv(time_=when)), 0.1] if n < 2 else [jl(VERSION), 3.0]

        async with FakeGpsd(script) as srv, running(srv.port) as (_link, got):
            await until(lambda: srv.clients >= 3 and len(got.fixes) == 2, timeout=8.0)
            ups = [s for s in got.states if s[1]]
            downs = [s for s in got.states if not s[1]]
            assert len(ups) >= 3 and len(downs) >= 2
            assert "closed" in downs[0][2]
            assert [f.t for _, f in got.fixes] == [T0_UNIX, T0_UNIX + 1]

    asyncio.run(main())


@pytest.mark.timeout(20)
def test_refused_connection_is_reported_once_and_retried() -> None:
    async def main() -> None:
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        async with running(port) as (link, got):
            await asyncio.sleep(1.5)  # several retries
            assert len(got.states) == 1 and got.states[0][1] is False
            assert f"127.0.0.1:{port}" in got.states[0][2]
            assert link.up is False

    asyncio.run(main())


# ---- a real gpsd, fed by gpsfake -------------------------------------------------------------


def _tools() -> tuple[str, str]:
    gpsfake = shutil.which("gpsfake")
    gpsd = shutil.which("gpsd") or next(
        (p for p in ("/usr/sbin/gpsd", "/sbin/gpsd") if os.access(p, os.X_OK)), None
    )
    if gpsfake is None or gpsd is None:
        reason = "gpsd and gpsfake (Debian packages gpsd, gpsd-clients) are not installed"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return gpsfake, gpsd


@contextlib.contextmanager
def gpsfake_env(gpsd: str) -> Iterator[dict[str, str]]:
    """The environment gpsfake runs in: ``gpsd`` on its PATH, and a TMPDIR of its own.

    gpsfake names gpsd's control socket ``$TMPDIR/gpsfake-<its pid>.sock`` and takes an
    existing file of that name as gpsd being ready, so a socket left by an earlier gpsd
    that was killed (as every test here kills it) made a later gpsfake with a recycled pid
    add its log to no gpsd: no fixes at all (gps/fake.py, DaemonInstance.wait_ready).
    """
    with tempfile.TemporaryDirectory(prefix="sepmon-gpsfake-") as tmp:
        path = f"{Path(gpsd).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        yield dict(os.environ, PATH=path, TMPDIR=tmp)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


LEAD_IN = 40  # sentences gpsd ignores, so the client is watching before the first fix


def _lead_in() -> bytes:
    body = "GPTXT,01,01,02,sepmon test lead-in"
    return f"${body}*{nmea_checksum(body):02X}\r\n".encode() * LEAD_IN


@pytest.mark.timeout(120)
def test_real_gpsd_matches_nmea_ingest(tmp_path: Path) -> None:
    gpsfake, gpsd = _tools()
    sim = simulate("head-on", duration=12, sentences="RMC,VTG,GGA,GSA,GSV")
    files = write_recording(sim, tmp_path / "rec", per_source=True)
    expected: dict[str, list[Fix]] = {}
    fed = []
    for path in files:
        data = path.read_bytes()
        ing = NmeaIngest(path.stem)
        expected[path.stem] = ing.feed(data) + ing.flush()
        assert len(expected[path.stem]) == 13
        padded = tmp_path / f"fed-{path.name}"
        padded.write_bytes(_lead_in() + data)
        fed.append(str(padded))

    port = _free_port()
    with gpsfake_env(gpsd) as env:
        # -n: gpsd opens the ptys at once; -c: pace the feed so the client connects first; -1: once.
        proc = subprocess.Popen(
            [gpsfake, "-P", str(port), "-1", "-q", "-n", "-c", "0.01", *fed],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        try:

            async def main() -> tuple[GpsdLink, Collector]:
                deadline = time.monotonic() + 60
                async with running(port, "gpsd") as (link, got):
                    want = sum(len(v) for v in expected.values())
                    while len(got.fixes) < want and time.monotonic() < deadline:
                        if proc.poll() is not None and not link.up:
                            break
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(HOLD_WAIT)
                    return link, got

            link, got = asyncio.run(main())
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
            try:
                _, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                _, err = proc.communicate()

    assert any(up for _, up, _ in got.states), f"never connected to gpsd: {got.states} {err!r}"
    by_src: dict[str, list[Fix]] = {}
    for key, f in got.fixes:
        assert key == "gpsd"
        by_src.setdefault(f.source, []).append(f)
    assert len(by_src) == 2, f"expected two devices, got {sorted(by_src)} ({link.devices}); {err!r}"
    # Several devices: suffixed names, from the pty's directory and number (gpsd-pts3), not "gpsd-3".
    assert all(re.fullmatch(r"gpsd-pts[0-9]+", name) for name in by_src), sorted(by_src)
    matched = set()
    for name, fixes in by_src.items():
        # Which recording went to which pty is gpsfake's business: match on the first position.
        stem = min(expected, key=lambda s: abs(expected[s][0].lat - fixes[0].lat))
        matched.add(stem)
        want = expected[stem]
        assert [f.t for f in fixes] == [f.t for f in want], name
        for got_f, exp in zip(fixes, want, strict=True):
            assert abs(got_f.lat - exp.lat) < 1e-6 and abs(got_f.lon - exp.lon) < 1e-6
            assert got_f.alt_m is not None and exp.alt_m is not None
            assert abs(got_f.alt_m - exp.alt_m) < 0.01
            assert got_f.sog_mps is not None and exp.sog_mps is not None
            assert abs(got_f.sog_mps - exp.sog_mps) < 0.01
            assert got_f.cog_deg is not None and exp.cog_deg is not None
            assert abs(got_f.cog_deg - exp.cog_deg) < 0.01
            assert got_f.quality == exp.quality
        # HDOP and satellites come from SKY, which gpsd sends after the epoch's TPV: one epoch late.
        assert fixes[0].hdop is None
        assert [f.hdop for f in fixes[1:]] == [w.hdop for w in want[:-1]]
        assert [f.sats for f in fixes[1:]] == [w.sats for w in want[:-1]]
    assert matched == set(expected)


@pytest.mark.timeout(20)
def test_daemon_tracks_a_gpsd_source() -> None:
    from sepmon.apps.daemon import Daemon
    from sepmon.core.config import Config
    from sepmon.core.model import Event

    async def main() -> None:
        script = [jl(VERSION, devices("/dev/ttyUSB0"), tpv()), 3.0]
        async with FakeGpsd(lambda n: script) as srv:
            events: list[Event] = []
            spec = parse_source("t", {"name": "gps", "url": f"gpsd://127.0.0.1:{srv.port}"})
            daemon = Daemon(Config(), [spec], on_event=events.append)
            task = asyncio.create_task(daemon.serve(install_signals=False))
            await until(lambda: any(e.type == "acquired" for e in events))
            daemon.stop()
            await task
            assert ("port_up", "gps") in [(e.type, e.a) for e in events]
            assert ("acquired", "gps") in [(e.type, e.a) for e in events]

    asyncio.run(main())


# ---- issue 19: what users of gpsd ran into ---------------------------------------------------


def _sentence(body: str) -> str:
    return f"${body}*{nmea_checksum(body):02X}\r\n"


def _rmc_gga_log(
    path: Path, epochs: int, *, lat: str = "4715.00000", hdop: str = "1.5", rmc: bool = True
) -> Path:
    """A receiver sending RMC + GGA only (no GSA/GSV, so gpsd has no SKY to send), standing still."""
    out = [_lead_in().decode()]
    for i in range(epochs):
        hms = f"1000{i:02d}.00"
        if rmc:
            out.append(_sentence(f"GPRMC,{hms},A,{lat},N,01121.00000,E,0.0,,150324,,,A"))
        out.append(_sentence(f"GPGGA,{hms},{lat},N,01121.00000,E,1,08,{hdop},1453.0,M,47.0,M,,"))
    path.write_text("".join(out))
    return path


@contextlib.contextmanager
def gpsfake(*logs: Path, once: bool = True, cycle: float = 0.01) -> Iterator[int]:
    """gpsd fed by gpsfake with ``logs``, on a free loopback port (``once=False``: the logs loop)."""
    exe, gpsd = _tools()
    port = _free_port()
    args = [exe, "-P", str(port), *(["-1"] if once else []), "-q", "-n", "-c", str(cycle), *map(str, logs)]
    with gpsfake_env(gpsd) as env:
        proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True
        )
        try:
            yield port
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


@pytest.mark.timeout(90)
def test_a_receiver_whose_time_steps_back_is_followed_not_dropped(tmp_path: Path) -> None:
    # Oracle: gpsd fed by gpsfake looping a 6-epoch log: at each loop the receiver's time steps
    # back to the first epoch; gpsd reports every epoch again, and so must the link (the old
    # one ignored every report at or before the last time until it reconnected).
    log = _rmc_gga_log(tmp_path / "loop.log", 6)
    with gpsfake(log, once=False, cycle=0.02) as port:

        async def main() -> tuple[GpsdLink, Collector]:
            async with running(port, "tower") as (link, got):
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    times = [f.t for _, f in got.fixes]
                    backs = sum(1 for a, b in itertools.pairwise(times) if b < a)
                    if backs >= 2 and len(times) >= 14:
                        break
                    await asyncio.sleep(0.05)
                return link, got

        link, got = asyncio.run(main())
    times = [f.t for _, f in got.fixes]
    assert sum(1 for a, b in itertools.pairwise(times) if b < a) >= 2, times
    assert link.counts["time_back"] >= 2
    assert set(times) == {T0_UNIX + i for i in range(6)}  # every epoch of the log, again and again
    assert {f.source for _, f in got.fixes} == {"tower"}


@pytest.mark.timeout(90)
def test_gpsds_error_estimate_sets_the_margin_for_receivers_without_sky(tmp_path: Path) -> None:
    # Oracles: gpsd (its eph for an RMC+GGA receiver, which gets no SKY and so no HDOP in
    # sepmon) and geometry: tower and bravo stand 3040 m apart (WGS84 meridian arc), minima
    # 3000 m, both still. The pair's margin (docs/design.md: z = 1.645 of the range's sigma,
    # the two DRMS combined as independent errors over sqrt 2): with gpsd's eph (28.5 m for
    # HDOP 1.5, DRMS 28.5/1.731 = 16.5 m) and bravo's HDOP 1 (DRMS 5 m) it is 20.0 m, so
    # 3040 m is clear; at "HDOP unknown" (10, DRMS 50 m) it would be 58.4 m, a WARNING.
    from sepmon.apps.daemon import Daemon
    from sepmon.core.config import parse_config
    from sepmon.core.model import Event, Level

    lat_a = 47.25
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    meridian = a * (1 - e2) / (1 - e2 * math.sin(math.radians(lat_a)) ** 2) ** 1.5
    lat_b = lat_a + math.degrees(3040.0 / meridian)
    log = _rmc_gga_log(tmp_path / "rmcgga.log", 40)
    with gpsfake(log, cycle=0.1) as port:

        async def main() -> tuple[Daemon, list[Event], list[Fix]]:
            events: list[Event] = []
            tower = parse_source("t", {"name": "tower", "url": f"gpsd://127.0.0.1:{port}"})
            quiet = parse_source("t", {"name": "bravo", "url": "udp://127.0.0.1:0"})
            daemon = Daemon(parse_config({}), [tower, quiet], on_event=events.append)
            got: list[Fix] = []
            task = asyncio.create_task(daemon.serve(install_signals=False))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                daemon.inject_fix(Fix("bravo", time.time(), lat_b, 11.35, 1500.0, 0.0, 0.0, 1, 1.0, 9))
                entry = daemon.picture().track("tower")
                if entry is not None and entry.fix not in got:
                    got.append(entry.fix)
                if len(got) >= 5:
                    break
                await asyncio.sleep(0.1)
            daemon.stop()
            await task
            return daemon, events, got

        daemon, events, got = asyncio.run(main())
    assert len(got) >= 5, [e.type for e in events]
    levels = [e.level for e in events if e.type == "level"]
    assert not levels, levels
    pair = daemon.monitor.pairs[("bravo", "tower")]  # evaluated, and clear
    assert abs(pair.range_m - 3040.0) < 1.0 and pair.level == Level.NONE
    assert all(f.hdop is None and f.eph_m is not None and f.eph_m > 10.0 for f in got)  # no SKY: eph only


@pytest.mark.timeout(90)
def test_gpsds_vertical_error_estimate_becomes_epv(tmp_path: Path) -> None:
    # Oracle: gpsd 3.22 itself.  For an NMEA receiver that reports no error estimate of its
    # own, gpsd computes eph = HDOP x 19 m and epv = VDOP x 23 m (gpsd/libgpsd_core.c,
    # gpsd_error_model: P_UERE_NO_DGPS, V_UERE_NO_DGPS, "meters, 95% confidence");
    # gpsd_json(5): its error estimates are "guessed to be 95% confidence".  So they are
    # taken as they come, as Fix's ~95 % eph_m / epv_m, with no conversion.
    out = [_lead_in().decode()]
    for i in range(20):
        hms = f"1000{i:02d}.00"
        out.append(_sentence(f"GPRMC,{hms},A,4715.00000,N,01121.00000,E,0.0,,150324,,,A"))
        out.append(_sentence(f"GPGGA,{hms},4715.00000,N,01121.00000,E,1,08,1.1,1453.0,M,47.0,M,,"))
        out.append(_sentence("GPGSA,A,3,04,05,09,12,15,18,,,,,,,2.0,1.1,1.7"))
    log = tmp_path / "rmcggagsa.log"
    log.write_text("".join(out))
    with gpsfake(log, cycle=0.1) as port:

        async def main() -> list[Fix]:
            async with running(port, "tower") as (_link, got):
                await until(lambda: len(got.fixes) >= 5, timeout=40)
            return [f for _, f in got.fixes]

        fixes = asyncio.run(main())
    later = fixes[1:]  # the first TPV may come before gpsd has seen a GSA
    assert len(later) >= 4
    assert all(f.epv_m == pytest.approx(1.7 * 23.0) for f in later), [f.epv_m for f in later]
    assert all(f.eph_m == pytest.approx(1.1 * 19.0) for f in later), [f.eph_m for f in later]


@pytest.mark.timeout(120)
def test_record_from_gpsd_and_analyze_reads_the_fixes_back(tmp_path: Path) -> None:
    # Oracles: gpsd (which reads the simulated receiver's sentences, fed by gpsfake) and the
    # receiver's own sentences read by sepmon's NMEA ingest: what `sepmon record` keeps of a
    # gpsd source must be read back by `sepmon analyze` as the same fixes. (It stopped with
    # "internal error: ValueError: a gpsd link needs on_fix", exit 70, and an empty file.)
    sim = simulate("head-on", duration=8, sentences="RMC,VTG,GGA,GSA")
    [path] = [p for p in write_recording(sim, tmp_path / "rec", per_source=True) if p.stem == "alpha"]
    data = path.read_bytes()
    ing = NmeaIngest("alpha")
    want = ing.feed(data) + ing.flush()
    fed = tmp_path / "fed.nmea"
    fed.write_bytes(_lead_in() + data)
    rec, tracks = tmp_path / "out.nmea", tmp_path / "tracks.csv"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    with gpsfake(fed, cycle=0.05) as port:
        proc = subprocess.run(
            [sys.executable, "-m", "sepmon", "record", f"tower=gpsd://127.0.0.1:{port}", "-o", str(rec),
             "--duration", "12"],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "internal error" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "sepmon", "analyze", str(rec), "--tracks", str(tracks), "--quiet"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with tracks.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["source"] == "tower"]
    assert len(rows) >= len(want) - 2, (len(rows), len(want))
    matched = set()
    for r in rows:  # the CSV's t is the receive time: match each row to its fix by position
        k = min(
            range(len(want)),
            key=lambda i: abs(want[i].lat - float(r["lat"])) + abs(want[i].lon - float(r["lon"])),
        )
        w = want[k]
        matched.add(k)
        assert abs(float(r["lat"]) - w.lat) < 1e-6 and abs(float(r["lon"]) - w.lon) < 1e-6
        assert w.alt_m is not None and abs(float(r["alt_m"]) - w.alt_m) < 0.11
        assert w.sog_mps is not None and abs(float(r["sog_mps"]) - w.sog_mps) < 0.06
        assert int(r["quality"]) == w.quality
    assert len(matched) == len(rows)  # one row per fix, none twice


@pytest.mark.timeout(120)
def test_live_view_and_exit_statistics_show_each_receiver_of_a_gpsd_source(tmp_path: Path) -> None:
    # Oracle: gpsd serving two receivers (gpsfake, one simulated vehicle each): the daemon's
    # live view must list both receivers' sources under the gpsd source, and the exit
    # statistics must count their lines and fixes (they said "tower ... no fix" and 0 lines).
    from rich.console import Console

    from sepmon.apps.daemon import Daemon
    from sepmon.core.config import parse_config
    from sepmon.core.model import Event
    from sepmon.presentation.liveview import LiveView

    sim = simulate("head-on", duration=10, sentences="RMC,GGA,GSA")
    logs = []
    for path in write_recording(sim, tmp_path / "rec", per_source=True):
        fed = tmp_path / f"fed-{path.name}"
        fed.write_bytes(_lead_in() + path.read_bytes())
        logs.append(fed)
    with gpsfake(*logs, cycle=0.03) as port:

        async def main() -> tuple[Daemon, list[Event], str]:
            events: list[Event] = []
            spec = parse_source("t", {"name": "tower", "url": f"gpsd://127.0.0.1:{port}"})
            daemon = Daemon(parse_config({}), [spec], on_event=events.append)
            task = asyncio.create_task(daemon.serve(install_signals=False))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                src = daemon.picture().source("tower")
                if src is not None and len(src.devices) == 2 and src.fixes >= 10:
                    break
                await asyncio.sleep(0.1)
            console = Console(record=True, width=160, force_terminal=False)
            console.print(LiveView(daemon).render())
            daemon.stop()
            await task
            return daemon, events, console.export_text()

        _daemon, events, screen = asyncio.run(main())
    stats = {e.a: json.loads(e.detail or "{}") for e in events if e.type == "source_stats"}
    devices = sorted(n for n in stats if n.startswith("tower-pts"))
    assert len(devices) == 2, stats
    for name in devices:
        assert stats[name]["fixes"] >= 3 and stats[name]["lines"] >= stats[name]["fixes"], stats[name]
        assert name in screen
    assert "2 receivers" in screen and "no fix" not in screen.split("tower-pts")[0], screen


@pytest.mark.timeout(20)
def test_the_fixes_of_one_read_reach_the_daemon_as_one_batch() -> None:
    # Oracle: the script: four complete reports (two receivers, two epochs) in one write.
    # Serial input is evaluated once per read; gpsd's fixes were evaluated one by one.
    from sepmon.apps.daemon import Daemon
    from sepmon.core.config import parse_config

    t1 = "2024-03-15T10:00:01.000Z"
    script = [
        jl(VERSION, devices("/dev/ttyUSB0", "/dev/ttyUSB1")),
        0.3,
        jl(
            tpv("/dev/ttyUSB0"),
            tpv("/dev/ttyUSB1", lat=47.3),
            tpv("/dev/ttyUSB0", t1),
            tpv("/dev/ttyUSB1", t1),
        ),
        3.0,
    ]

    async def main() -> list[int]:
        batches: list[int] = []
        async with FakeGpsd(lambda n: script) as srv:
            spec = parse_source("t", {"name": "gps", "url": f"gpsd://127.0.0.1:{srv.port}"})
            daemon = Daemon(parse_config({}), [spec])
            real = daemon.inject_fixes

            def spy(fixes: Any) -> None:
                batches.append(len(fixes))
                real(fixes)

            daemon.inject_fixes = spy  # type: ignore[method-assign]
            task = asyncio.create_task(daemon.serve(install_signals=False))
            await until(lambda: sum(batches) >= 4)
            daemon.stop()
            await task
        return batches

    batches = asyncio.run(main())
    assert sum(batches) == 4 and max(batches) >= 3, batches


@pytest.mark.timeout(60)
def test_a_gga_only_receiver_gives_fixes_dated_by_their_arrival(tmp_path: Path) -> None:
    # Oracle: gpsd reading a receiver that sends only GGA: it reports mode 3 positions with
    # gpsd's eph but no time (GGA has no date). They were all refused; live, such a fix is
    # dated when it arrived, as the NMEA path dates an undated live epoch.
    log = _rmc_gga_log(tmp_path / "gga.log", 20, rmc=False)
    with gpsfake(log, cycle=0.1) as port:

        async def main() -> tuple[list[Fix], float, float]:
            t0 = time.time()
            async with running(port, "tower") as (_link, got):
                await until(lambda: len(got.fixes) >= 4, timeout=40)
            return [f for _, f in got.fixes], t0, time.time()

        fixes, t0, t1 = asyncio.run(main())
    assert all(t0 <= f.t <= t1 and f.t == f.rx_t for f in fixes)
    assert [f.t for f in fixes] == sorted({f.t for f in fixes})  # increasing, no repeats
    assert all(f.eph_m is not None and f.alt_m is not None and f.geoid_sep_m == 47.0 for f in fixes)
    assert all(abs(f.lat - 47.25) < 1e-9 and abs(f.lon - 11.35) < 1e-9 for f in fixes)
