"""Positions from a running gpsd, over its JSON watch protocol.

``gpsd://HOST:PORT`` in ``[[sources]]`` (gpsd's default is ``gpsd://127.0.0.1:2947``)
opens one TCP connection, sends ``?WATCH={"enable":true,"json":true}`` and reads the
JSON reports gpsd sends, one object per line:

* ``VERSION`` — the link is up from here on;
* ``DEVICES`` / ``DEVICE`` — which receivers gpsd has open;
* ``SKY`` — HDOP and the number of satellites used, remembered per device;
* ``TPV`` — one position report; with ``mode`` ≥ 2 it becomes a :class:`~sepmon.core.model.Fix`.

Source names
    One configured gpsd source may deliver several vehicles' positions (gpsd with
    several receivers).  A device's source name is fixed by its first fix on a
    connection: the configured name when it is the only device gpsd has reported so
    far, else ``<name>-<basename of the device path>`` (``gps-ttyUSB1``; with the udev
    rule in ``deploy/`` that is ``gps-sepmon-<serial>``, stable across replugging).  A
    numbered basename says nothing without its directory, so a pseudo-terminal
    ``/dev/pts/3`` (gpsfake, socat) is ``gps-pts3``.  So a single receiver is simply
    ``<name>``, and with two receivers present at connect both get suffixed names.
    Names are decided afresh on every (re)connection; use ``[aliases]`` to map a
    suffixed name to the vehicle's name.

What a fix takes from a TPV
    ``time`` (the receiver's UTC fix time; a report without one — gpsd has no date for a
    receiver that sends only GGA — is dated by its receive time), ``lat``/``lon``; ellipsoid height from
    ``altHAE``, else ``altMSL`` (or the older ``alt``) + ``geoidSep`` (a missing
    separation counts as 0, as in :mod:`sepmon.core.epoch`), only for ``mode`` 3, with
    ``geoidSep`` kept as the fix's ``geoid_sep_m``; ``speed``, ``track``; quality from
    ``status`` (GGA numbering); ``eph`` (gpsd's estimate of the horizontal error, from
    the receiver's own when it reports one, else from its DOP) as ``eph_m``, which the
    monitor's uncertainty margin uses in place of HDOP — so a receiver without GSA/GSV
    (no SKY from gpsd) and the first fix of a connection are not taken as HDOP 10;
    HDOP and satellites from the device's latest ``SKY`` (gpsd sends an epoch's SKY
    after its TPV, so these are the previous epoch's values: they change slowly, and
    waiting would delay every fix). ``epv`` (gpsd's vertical error estimate, for a 3D
    fix) as ``epv_m``.  Both are taken as gpsd sends them, as about 95 %: gpsd_json(5)
    says its error estimates are "guessed to be 95% confidence", and where gpsd computes
    them itself (DOP × UERE, gpsd/libgpsd_core.c) its UERE constants are 95 % ones
    (eph = HDOP × 19 m, epv = VDOP × 23 m without DGPS).  A zero or negative estimate
    is none.  ``status`` 7 (time only) and 8 (simulated) are refused, as the NMEA
    path refuses GGA qualities 7 and 8.

Epochs
    gpsd may send more than one TPV for one fix time (while it learns the receiver's
    reporting cycle, or when a late sentence adds a field).  The link emits a fix for
    a time at most once: at once when it is complete (3D with height, speed and
    course), else when a TPV with a later time arrives or after ``HOLD_S``, whichever
    comes first — the latest TPV for the time wins.  A TPV for the time last emitted is
    a repeat and ignored; one for an *earlier* time means the receiver's clock stepped
    back (a reset, gpsfake starting its log over, a week-rollover fix) and is taken:
    the device starts afresh (counted as ``time_back``), so the track goes on instead
    of falling silent until a reconnection.  The fixes of one read from gpsd go to the
    daemon as one batch (``on_fixes``), evaluated once, like one read of a serial port.

The link never raises: a refused or lost connection is reported through
``on_state(name, False, detail)`` (each new reason once) and retried with backoff;
lines longer than ``MAX_LINE`` and garbled JSON are counted in :attr:`GpsdLink.counts`,
reported through ``on_drop`` (the daemon's dropped-input path) and skipped.
:meth:`GpsdLink.stats` gives the lines and fixes per device source, for the live view
and the exit statistics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sepmon.core.model import Fix
from sepmon.links.sources import SourceSpec

OnFix = Callable[[str, Fix], None]
OnFixes = Callable[[str, list[Fix]], None]
OnState = Callable[[str, bool, str], None]
OnDrop = Callable[[str, str, int], None]

WATCH = b'?WATCH={"enable":true,"json":true}\n'
MAX_LINE = 16384  # a SKY with every satellite of four constellations is ~8 KiB
READ_SIZE = 65536
CONNECT_TIMEOUT_S = 5.0
HOLD_S = 0.3  # how long an incomplete epoch waits for a fuller TPV of the same time
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # then 5 s forever
STABLE_S = 10.0  # a connection that lasted this long resets the backoff

# gpsd TPV "status" → GGA-style quality. 7 (time only) and 8 (simulated) are not fixes.
_STATUS_QUALITY = {0: 1, 1: 1, 2: 2, 3: 4, 4: 5, 5: 6, 6: 6, 9: 3}
_REFUSED_STATUS = (7, 8)
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _num(d: dict[str, Any], key: str) -> float | None:
    """A finite number from a JSON object, else None (bools are not numbers)."""
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def parse_time(text: Any) -> float | None:
    """gpsd's ISO 8601 UTC time (``2024-03-15T10:00:00.000Z``) → unix seconds, else None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None  # gpsd always sends Z; a time without zone is not one of its
    return dt.timestamp()


def device_suffix(path: str) -> str:
    """The part of a device path that names a source: its basename, made name-safe.

    A basename that is only a number (``/dev/pts/3``) gets its directory's name in
    front (``pts3``): a bare number says nothing about the device.
    """
    parts = path.rstrip("/").rsplit("/", 2)
    base = parts[-1] or path
    if base.isdigit() and len(parts) >= 2 and parts[-2]:
        base = parts[-2] + base
    return _NAME_UNSAFE.sub("_", base).strip("_") or "device"


@dataclass
class _Sky:
    hdop: float | None = None
    sats: int | None = None


@dataclass
class _Pending:
    t: float
    fix: Fix
    handle: asyncio.TimerHandle | None = None


def fix_from_tpv(tpv: dict[str, Any], source: str, sky: _Sky | None, rx_t: float | None) -> Fix | None:
    """A :class:`Fix` from one TPV object, or None when it is not a usable position."""
    mode = tpv.get("mode")
    if isinstance(mode, bool) or not isinstance(mode, int) or mode < 2:
        return None
    status = tpv.get("status", 1)
    if not isinstance(status, int) or status in _REFUSED_STATUS:
        return None
    # gpsd gives no time to a receiver that never sends a date (GGA only): such a live fix
    # is dated when it arrived, as the NMEA path dates an undated live epoch.
    t = parse_time(tpv.get("time")) if "time" in tpv else rx_t
    lat, lon = _num(tpv, "lat"), _num(tpv, "lon")
    if t is None or lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    alt: float | None = None
    sep: float | None = None
    if mode >= 3:
        sep = _num(tpv, "geoidSep")
        alt = _num(tpv, "altHAE")
        if alt is None:
            msl = _num(tpv, "altMSL")
            if msl is None:
                msl = _num(tpv, "alt")
            if msl is not None:
                alt = msl + (sep or 0.0)
        if alt is None:
            sep = None
    speed = _num(tpv, "speed")
    track = _num(tpv, "track")
    eph = _num(tpv, "eph")
    epv = _num(tpv, "epv") if alt is not None else None
    return Fix(
        source=source,
        t=t,
        lat=lat,
        lon=lon,
        alt_m=alt,
        sog_mps=speed if speed is not None and speed >= 0 else None,
        cog_deg=track % 360.0 if track is not None else None,
        quality=_STATUS_QUALITY.get(status, 1),
        hdop=sky.hdop if sky is not None else None,
        sats=sky.sats if sky is not None else None,
        rx_t=rx_t,
        geoid_sep_m=sep,
        eph_m=eph if eph is not None and eph > 0 else None,
        epv_m=epv if epv is not None and epv > 0 else None,
    )


def _complete(fix: Fix) -> bool:
    return fix.alt_m is not None and fix.sog_mps is not None and fix.cog_deg is not None


class GpsdLink:
    """One gpsd connection; delivers fixes with ``on_fix(spec.name, fix)`` on the loop.

    ``fix.source`` is the per-device source name (see the module doc); the key passed
    to ``on_fix``/``on_state`` is always the configured name, which is what the
    daemon knows the link by.
    """

    def __init__(
        self,
        spec: SourceSpec,
        loop: asyncio.AbstractEventLoop,
        on_fix: OnFix,
        on_state: OnState,
        *,
        on_fixes: OnFixes | None = None,
        on_drop: OnDrop | None = None,
    ):
        self.spec = spec
        self.loop = loop
        self.on_fix = on_fix
        self.on_fixes = on_fixes
        self.on_state = on_state
        self.on_drop = on_drop
        self._batch: list[Fix] | None = None  # fixes of the read being handled, when batching
        self.per_source: dict[str, Counter[str]] = {}  # device source name → lines, fixes
        self.up = False
        self.release: str | None = None  # gpsd's version, from VERSION
        self.devices: list[str] = []  # device paths gpsd reported on this connection
        self.names: dict[str, str] = {}  # device path → source name, this connection
        self.counts: Counter[str] = Counter()  # lines, fixes, bad_json, overlong, time_back, ...
        self.clock: Callable[[], float] = time.time
        self._sky: dict[str, _Sky] = {}
        self._pending: dict[str, _Pending] = {}
        self._last_t: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_detail = ""

    # ---- link interface -------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting (a task on the loop)."""
        self._task = self.loop.create_task(self._run(), name=f"gpsd:{self.spec.name}")

    def stop(self) -> None:
        """Close the connection and stop retrying; fixes still pending are dropped."""
        if self._task is not None:
            self._task.cancel()
        self._close()
        for p in self._pending.values():
            if p.handle is not None:
                p.handle.cancel()
        self._pending.clear()

    def write(self, data: bytes) -> bool:
        """gpsd sources take no alert commands."""
        return False

    def stats(self) -> dict[str, dict[str, int]]:
        """Per device source (``tower``, ``tower-ttyUSB0``, ...): the TPV lines and fixes it gave.

        The link's own counts (JSON lines of any class, garbled and overlong ones) are in
        :attr:`counts`; a device's ``lines`` are its TPV reports.
        """
        return {name: dict(c) for name, c in self.per_source.items()}

    # ---- connection -----------------------------------------------------------------------

    def _close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()

    def _state(self, up: bool, detail: str) -> None:
        if up:
            self._last_detail = ""
            if not self.up:
                self.up = True
                self._call(self.on_state, self.spec.name, True, detail)
            return
        was_up, self.up = self.up, False
        if was_up or detail != self._last_detail:  # each new reason once, not every retry
            self._last_detail = detail
            self._call(self.on_state, self.spec.name, False, detail)

    def _call(self, fn: Callable[..., object], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # a failing callback must not take the link down
            self.counts["callback_errors"] += 1

    async def _run(self) -> None:
        attempt = 0
        while True:
            started = self.clock()
            try:
                detail = await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never out of the task: report and retry
                detail = f"gpsd link error: {type(exc).__name__}: {exc}"
            finally:
                self._close()
                self._flush_all()
            self._state(False, detail)
            if self.clock() - started >= STABLE_S:
                attempt = 0
            await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1

    async def _session(self) -> str:
        """One connection: connect, watch, read until it ends; returns why it ended."""
        host, port = self.spec.host_port
        where = f"{host}:{port}"
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT_S)
        except TimeoutError:
            return f"gpsd at {where}: connect timed out"
        except OSError as exc:
            return f"gpsd at {where}: {exc.strerror or exc}"
        self._writer = writer
        sock = writer.get_extra_info("socket")
        if sock is not None:  # notice a gpsd host that vanished without closing
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self.release, self.devices, self.names = None, [], {}
        self._sky.clear()
        self._last_t.clear()  # a receiver whose clock stepped back is heard again after a reconnect
        try:
            writer.write(WATCH)
            await writer.drain()
        except OSError as exc:
            return f"gpsd at {where}: {exc.strerror or exc}"
        buf = bytearray()
        skipping = False  # inside an overlong line: drop bytes up to its end
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except OSError as exc:
                return f"gpsd at {where}: {exc.strerror or exc}"
            if not data:
                return f"gpsd at {where}: connection closed"
            buf += data
            # The fixes of this read go out as one batch (complete epochs flush at once).
            self._batch = [] if self.on_fixes is not None else None
            try:
                while True:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        break
                    line = bytes(buf[:nl])
                    del buf[: nl + 1]
                    if skipping:
                        skipping = False
                        continue
                    self._line(line, where)
            finally:
                self._send_batch()
            if len(buf) > MAX_LINE:  # bounded: no terminator in sight
                self._drop("overlong")
                buf.clear()
                skipping = True

    # ---- reports --------------------------------------------------------------------------

    def _line(self, line: bytes, where: str) -> None:
        line = line.strip()
        if not line:
            return
        self.counts["lines"] += 1
        if len(line) > MAX_LINE:
            self._drop("overlong")
            return
        try:
            msg = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError):
            self._drop("bad_json")
            return
        if not isinstance(msg, dict):
            self._drop("bad_json")
            return
        cls = msg.get("class")
        if cls == "TPV":
            self._tpv(msg)
        elif cls == "SKY":
            self._sky_report(msg)
        elif cls == "DEVICES":
            devices = msg.get("devices")
            for d in devices if isinstance(devices, list) else []:
                if isinstance(d, dict):
                    self._device(d)
        elif cls == "DEVICE":
            self._device(msg)
        elif cls == "VERSION":
            release = msg.get("release")
            self.release = release if isinstance(release, str) else "?"
            self._state(True, f"gpsd {self.release} at {where}")
        elif cls == "ERROR":
            self.counts["gpsd_errors"] += 1

    def _device(self, d: dict[str, Any]) -> None:
        path = d.get("path")
        if not isinstance(path, str) or not path:
            return
        if d.get("activated") in (0, 0.0) and "activated" in d:
            return  # gpsd closed it; its name (if any) stays for this connection
        if path not in self.devices:
            self.devices.append(path)

    def _sky_report(self, msg: dict[str, Any]) -> None:
        device = msg.get("device")
        dev = device if isinstance(device, str) else ""
        sky = self._sky.setdefault(dev, _Sky())
        hdop = _num(msg, "hdop")
        if hdop is not None and hdop >= 0:
            sky.hdop = hdop
        used = _num(msg, "uSat")
        sats = msg.get("satellites")
        if used is None and isinstance(sats, list):
            used = float(sum(1 for s in sats if isinstance(s, dict) and s.get("used") is True))
        if used is not None and used >= 0:
            sky.sats = int(used)

    def source_for(self, device: str) -> str:
        """The source name of a device (fixed at its first fix on this connection)."""
        name = self.names.get(device)
        if name is None:
            known = set(self.devices) | set(self.names) | {device}
            name = self.spec.name if len(known) <= 1 else f"{self.spec.name}-{device_suffix(device)}"
            self.names[device] = name
            self.per_source.setdefault(name, Counter())
        return name

    def _drop(self, reason: str) -> None:
        """A line refused: counted here and, through ``on_drop``, in the daemon's drops."""
        self.counts[reason] += 1
        if self.on_drop is not None:
            self._call(self.on_drop, self.spec.name, reason, 1)

    def _tpv(self, msg: dict[str, Any]) -> None:
        device = msg.get("device")
        dev = device if isinstance(device, str) else ""
        fix = fix_from_tpv(msg, "", self._sky.get(dev), self.clock())
        if dev not in self.names and dev and dev not in self.devices:
            self.devices.append(dev)  # a TPV from a device gpsd never announced
        if fix is None:
            self.counts["tpv_no_fix"] += 1
            named = self.names.get(dev)  # a device is named at its first fix, not before
            if named is not None:
                self.per_source[named]["lines"] += 1
            return
        name = self.source_for(dev)
        self.per_source.setdefault(name, Counter())["lines"] += 1
        last = self._last_t.get(dev)
        if last is not None and fix.t == last:
            self.counts["tpv_repeat"] += 1
            return
        pending = self._pending.get(dev)
        if (last is not None and fix.t < last) or (pending is not None and fix.t < pending.t):
            # The receiver's clock stepped back: what is pending goes out, then it starts afresh.
            self.counts["time_back"] += 1
            self._flush(dev)
            self._last_t.pop(dev, None)
            pending = None
        fix = replace(fix, source=name)
        if pending is not None and pending.t < fix.t:
            self._flush(dev)
            pending = None
        if pending is not None:  # same time: the fuller report wins
            pending.fix = fix
        else:
            pending = self._pending[dev] = _Pending(fix.t, fix)
        if _complete(fix):
            self._flush(dev)
        elif pending.handle is None:
            pending.handle = self.loop.call_later(HOLD_S, self._flush, dev)

    def _flush(self, dev: str) -> None:
        pending = self._pending.pop(dev, None)
        if pending is None:
            return
        if pending.handle is not None:
            pending.handle.cancel()
        self._last_t[dev] = pending.t
        self.counts["fixes"] += 1
        self.per_source.setdefault(pending.fix.source, Counter())["fixes"] += 1
        if self._batch is not None:
            self._batch.append(pending.fix)
        elif self.on_fixes is not None:  # a held epoch's timer: a batch of one
            self._call(self.on_fixes, self.spec.name, [pending.fix])
        else:
            self._call(self.on_fix, self.spec.name, pending.fix)

    def _send_batch(self) -> None:
        batch, self._batch = self._batch, None
        if batch and self.on_fixes is not None:
            self._call(self.on_fixes, self.spec.name, batch)

    def _flush_all(self) -> None:
        for dev in list(self._pending):
            self._flush(dev)
