"""``sepmon check --live``: a recording through virtual serial ports into a real ``sepmon run``.

The recording is played by :class:`~sepmon.apps.replay.Replayer` into one pty per
source; the daemon is a child process (:class:`~sepmon.apps.daemonchild.DaemonChild`)
that opens those ports as it would open boards on USB.  With ``boards="virtual"``
each port is a virtual board running the firmware's own logic, and what the boards
show is recorded.  With real boards (``{name: port}``) the daemon opens the board's
own USB port and the source's recorded NMEA goes to the board's GPS input through a
USB-serial adapter wired to its GPS RX pin (``gps_feeds``), until the firmware can
take it over USB.  Times are scaled back to the recording's (``× speed``); settings
in seconds (``hold_s``, ``stale_s``) are divided by the speed for the live run.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import serial
import tomlkit

from sepmon.apps.check import CheckError, Observation, Recorded, add_events, read_recorded
from sepmon.apps.daemonchild import DaemonChild
from sepmon.apps.replay import PortStats, Replayer, load_recording
from sepmon.apps.virtualboard import BoardView
from sepmon.core.config import Config
from sepmon.core.ingest import NmeaIngest
from sepmon.core.model import Event

PORT_TIMEOUT_S = 30.0  # the daemon opens every port within this (a loaded CI machine included)
PLAY_MARGIN_S = 60.0  # beyond the recording's own length before playing counts as stuck
SETTLE_S = 1.0  # after the last line: the last fixes reach the monitor and its events the log

Prepare = Callable[[Replayer], None]


def live_config(config: Config, speed: float, path: Path) -> Path:
    """The configuration for the live run: hold and stale times divided by the speed.

    ``[[sources]]`` and ``[outputs]`` are left out: the check runs the recording's
    sources only and publishes nothing.
    """
    raw: dict[str, Any] = {k: v for k, v in config.raw.items() if k not in ("sources", "outputs")}
    sep = dict(raw.get("separation", {}))
    sep["hold_s"] = config.hold_s / speed
    sep["stale_s"] = config.stale_s / speed
    raw["separation"] = sep
    try:
        path.write_text(tomlkit.dumps(raw), encoding="utf-8")
    except OSError as exc:
        raise CheckError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


class _Bridge:
    """Bytes from a replay pty to a serial device (a USB-serial adapter on a board's GPS RX)."""

    def __init__(self, pty: str, device: str, baud: int) -> None:
        try:
            self.src = serial.Serial(pty, timeout=0.1)
            self.dst = serial.serial_for_url(device, baudrate=baud, timeout=0.1)
        except (serial.SerialException, OSError) as exc:
            raise CheckError(f"cannot open the GPS feed {device}: {exc}") from None
        self.bytes = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sepmon-gps-feed {device}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self.src.read(4096)
                if data:
                    self.dst.write(data)
                    self.bytes += len(data)
        except (serial.SerialException, OSError) as exc:
            self.error = str(exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for port in (self.src, self.dst):
            with contextlib.suppress(Exception):
                port.close()


def observe_live(
    path: str | Path,
    config: Config,
    *,
    speed: float = 1.0,
    boards: str | Mapping[str, str] | None = None,
    gps_feeds: Mapping[str, str] | None = None,
    gps_baud: int = 9600,
    workdir: str | Path | None = None,
    prepare: Prepare | None = None,
    recorded: Recorded | None = None,
) -> Observation:
    """Play ``path`` into a real ``sepmon run`` child and observe it (see the module docstring).

    ``boards``: None (bare ports), ``"virtual"`` (the firmware on every port) or
    ``{source: port}`` for real boards, each with ``gps_feeds[source]``.
    ``prepare(replayer)`` is called once the ports exist, before the daemon starts
    (tests use it to break something on purpose).
    """
    if not speed > 0:
        raise CheckError("--live needs a speed above 0 (the daemon and the boards run on real time)")
    if boards is not None and not isinstance(boards, str) and not isinstance(boards, Mapping):
        raise CheckError("boards must be 'virtual' or NAME=PORT pairs")
    if isinstance(boards, str) and boards != "virtual":
        raise CheckError(f"--boards {boards}: give 'virtual' or NAME=PORT for real boards")
    wall = time.monotonic()
    rd = recorded if recorded is not None else read_recorded(path, config)
    rec = load_recording([path])
    real: dict[str, str] = dict(boards) if isinstance(boards, Mapping) else {}
    feeds = dict(gps_feeds or {})
    for name in real:
        if name not in rec.lines:
            raise CheckError(f"--boards {name}=...: no source {name!r} in {path}")
        if name not in feeds:
            raise CheckError(
                f"board {name} needs --gps-feed {name}=DEVICE: a USB-serial adapter wired to its GPS RX "
                "(the firmware cannot take recorded NMEA over USB yet)"
            )
    own_dir = workdir is None
    work = Path(tempfile.mkdtemp(prefix="sepmon-check-")) if workdir is None else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    virtual = boards == "virtual"
    mode = "live, virtual boards" if virtual else "live, real boards" if real else "live"
    obs = Observation(
        mode,
        Path(path),
        rd.start,
        rd.duration,
        rd.sources,
        violations=rd.violations,
        fix_interval_s=rd.fix_interval_s,
    )
    obs.boards_in_loop = set(rec.lines) if virtual else set(real)
    views: dict[str, list[tuple[float, str]]] = {}
    lock = threading.Lock()

    def on_board(t: float, source: str, view: BoardView) -> None:
        with lock:
            views.setdefault(source, []).append((t * speed, view.pattern))

    played = {s: ls for s, ls in rec.lines.items() if s not in real}
    fed = {s: ls for s, ls in rec.lines.items() if s in real}
    replayers: list[Replayer] = []
    bridges: list[_Bridge] = []
    daemon: DaemonChild | None = None
    try:
        ports: dict[str, str] = {}
        if played:
            r = Replayer(played, work / "ports", speed, boards=virtual, hold=True, on_board=on_board)
            replayers.append(r)
            ports |= r.open()
        if fed:
            g = Replayer(fed, work / "gps", speed, hold=True)
            replayers.append(g)
            for name, pty in g.open().items():
                bridges.append(_Bridge(pty, feeds[name], gps_baud))
            ports |= real
        if prepare is not None:
            for r in replayers:
                prepare(r)
        cfg = live_config(config, speed, work / "live.toml")
        daemon = DaemonChild(ports, work / "events.jsonl", cfg)
        daemon.wait_ports_up(list(ports), PORT_TIMEOUT_S)
        t0 = time.time()
        for r in replayers:
            r.start()
        deadline = rec.duration / speed + PLAY_MARGIN_S
        for r in replayers:
            if not r.wait_played(deadline):
                obs.problems.append(f"replay did not finish within {deadline:.0f} s")
        end = time.monotonic() + SETTLE_S
        while time.monotonic() < end and daemon.running:
            time.sleep(0.05)
        # The port counters as the daemon leaves: after that, nobody reads what the boards send.
        port_stats = [{n: replace(st) for n, st in r.stats().items()} for r in replayers]
        status, _, err = daemon.terminate()
        events = daemon.events()
    finally:
        for r in replayers:
            r.stop()
        for b in bridges:
            b.close()
        for r in replayers:
            r.close()
        if daemon is not None and daemon.running:
            daemon.kill()
    add_events(obs, events, t0, speed, rd.duration + rd.fix_interval_s)
    with lock:
        obs.boards_seen = {s: v for s, v in views.items()}
    if status != 0:
        obs.problems.append(f"sepmon run exited with status {status}")
    for marker in ("Traceback", "internal error"):
        if marker in err:
            line = next(ln for ln in err.splitlines() if marker in ln)
            obs.problems.append(f"sepmon run wrote {line.strip()[:200]!r}")
    for r in replayers:
        if r.error is not None:
            obs.problems.append(f"replay failed: {type(r.error).__name__}: {r.error}")
    for b in bridges:
        if b.error is not None:
            obs.losses.append(f"GPS feed failed: {b.error}")
    framed = {name: _framed_lines(name, ls, config) for name, ls in played.items()}
    _account(obs, events, port_stats, framed, rd, virtual, set(real))
    obs.wall_s = time.monotonic() - wall
    if own_dir:
        shutil.rmtree(work, ignore_errors=True)
    return obs


def _framed_lines(name: str, lines: Sequence[tuple[float, bytes]], config: Config) -> int:
    """How many lines the daemon's own ingest counts in the bytes played on a bare port."""
    ingest = NmeaIngest(
        name, require_checksum=config.ingest.require_checksum, max_line=config.ingest.max_line
    )
    for _, data in lines:
        ingest.feed(data)
    ingest.flush()
    return sum(st.lines for st in ingest.stats.values())


def _account(
    obs: Observation,
    events: list[Event],
    port_stats: list[dict[str, PortStats]],
    framed: Mapping[str, int],
    rd: Recorded,
    virtual: bool,
    real: set[str],
) -> None:
    """Every line played must be counted by the daemon, and every recorded fix made."""
    counted: dict[str, dict[str, int]] = {}
    for ev in events:
        if ev.type == "source_stats" and ev.detail:
            with contextlib.suppress(ValueError):
                counted[ev.a] = json.loads(ev.detail)
    if not counted:
        obs.losses.append("the daemon wrote no statistics (source_stats) at exit")
        return
    for stats in port_stats:
        for name, st in stats.items():
            if st.dropped:
                obs.losses.append(f"{name}: {st.dropped} lines dropped at the port")
            if st.flushed_bytes:
                obs.losses.append(f"{name}: {st.flushed_bytes} bytes waited unread and were discarded")
            if name in real:
                continue
            got = counted.get(name, {}).get("lines", 0)
            if virtual:
                # A virtual board adds its own $PSEP lines to those it forwards.
                if got < st.lines:
                    obs.losses.append(f"{name}: {st.lines} lines played, {got} counted by the daemon")
            elif st.dropped == 0 and got != framed.get(name, st.lines):
                # A bare port carries exactly what was played: the daemon's framer must count what
                # the same framer counts in those bytes (binary noise between lines is no line).
                obs.losses.append(
                    f"{name}: {st.lines} lines played ({framed.get(name)} by the framer), "
                    f"{got} counted by the daemon"
                )
    for name, want in sorted(rd.fixes.items()):
        got = counted.get(name, {}).get("fixes", 0)
        if got < want:
            obs.losses.append(f"{name}: {want} fixes in the recording, {got} made by the daemon")
