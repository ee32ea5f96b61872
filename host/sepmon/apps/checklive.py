"""``sepmon check --live``: a recording through virtual serial ports into a real ``sepmon run``.

The recording is played by :class:`~sepmon.apps.replay.Replayer` into one pty per
source; the daemon is a child process (:class:`~sepmon.apps.daemonchild.DaemonChild`)
that opens those ports as it would open boards on USB.  With ``boards="virtual"``
each port is a virtual board running the firmware's own logic, and what the boards
show is recorded.

With real boards (``{name: port}``) each board is fed its source's recorded NMEA by
GPS injection (the firmware's test mode, ``$PSEPG`` in docs/firmware.md): an
:class:`Injector` holds the board's USB port and gives the daemon a pty in its place.
Bytes from the board pass to the daemon as they come; the daemon's lines pass to the
board whole, and between them go ``$PSEPG,ON``, the recorded lines at their recorded
times, a ``$PSEPG,KEEP`` every second (recording gaps included) and ``$PSEPG,OFF`` at
the end.  In the mode every acknowledgement names the pattern the board shows: those
are what ``shows`` is judged on, so a real board's own logic is what passes or fails.
``inject=True`` runs the virtual boards the same way (a virtual board behind each
injector instead of a real one), so the real-board path is tested without hardware.
A board with ``gps_feeds[name]`` is fed through a USB-serial adapter wired to its GPS
RX pin instead (no injection; ``shows`` is then judged on what the host told it).

Times are scaled back to the recording's (``× speed``); settings in seconds
(``stale_s``, and ``[daemon] report_s``, the confirmation's report period) are divided by
the speed for the live run.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import tempfile
import threading
import time
import tty
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import serial
import tomlkit

from sepmon.apps.check import CheckError, Observation, Recorded, add_events, read_recorded
from sepmon.apps.daemonchild import DaemonChild
from sepmon.apps.replay import PortStats, Replayer, ReplayLine, load_recording
from sepmon.apps.virtualboard import BoardView, VirtualBoard
from sepmon.boardlink.protocol import Ack, InjectKeep, InjectStart, InjectStop, Status, encode, try_decode
from sepmon.core.config import Config
from sepmon.core.ingest import NmeaIngest
from sepmon.core.model import Event

PORT_TIMEOUT_S = 30.0  # the daemon opens every port within this (a loaded CI machine included)
PLAY_MARGIN_S = 60.0  # beyond the recording's own length before playing counts as stuck
SETTLE_S = 1.0  # after the last line: the last fixes reach the monitor and its events the log
INJECT_TIMEOUT_MS = 5000  # a board leaves injection mode this long after the host went quiet
KEEP_S = 1.0  # the injector re-arms the mode this often ($PSEPG,KEEP)
INJECT_BAUD = 115200  # USB CDC ignores it; a USB-serial bridge board needs the firmware's rate
BOARD_POLL_S = 0.002  # virtual boards behind injectors run a firmware step this often
RESTART_SLACK_S = 1.0  # a status read this much later than the board's uptime implies is not yet a restart
RESTART_HOLD_MS = 1500  # ...but one whose later boot time holds over this much of the board's clock is


class RestartWatch:
    """Did the board restart?  Read from its ``$PSEPS`` status lines (one a second).

    Certain when a counter that only grows while the board runs goes back: the uptime, or
    the lines forwarded.  A board reset within a second or two of its last status may come
    back with a larger uptime than that status had, so the boot time each status implies
    (the host's clock at reading minus the uptime) is watched as well: a restart moves it
    later for good, a late read of the port only for a moment.  A later boot time counts
    when it holds over :data:`RESTART_HOLD_MS` of the board's clock, read in real time (a
    backlog read at once after a host stall is not).  Resets that cost the board less than
    :data:`RESTART_SLACK_S` of uptime are not seen.
    """

    def __init__(self) -> None:
        self._uptime = -1
        self._fwd = -1
        self._boot: float | None = None  # earliest boot time implied in this run (host seconds)
        self._pending: tuple[int, float] | None = None  # (uptime, host time) of a later boot time

    def status(self, msg: Status, now: float) -> float | None:
        """Take one status read at host time ``now``; the host time the restart was first
        seen at when this status shows one, else None."""
        boot = now - msg.uptime_ms / 1000.0
        restarted: float | None = None
        if msg.uptime_ms < self._uptime or msg.lines_fwd < self._fwd:
            restarted = now
        elif self._boot is not None and boot > self._boot + RESTART_SLACK_S:
            if self._pending is None:
                self._pending = (msg.uptime_ms, now)
            else:
                up0, t0 = self._pending
                held = msg.uptime_ms - up0
                # read in real time: at least half as much host time passed as board time
                if held >= RESTART_HOLD_MS and now - t0 >= held / 2000.0:
                    restarted = t0
        else:
            self._pending = None
        if restarted is not None:
            self._pending = None
            self._boot = boot
        elif self._pending is None:
            self._boot = boot if self._boot is None else min(self._boot, boot)
        self._uptime, self._fwd = msg.uptime_ms, msg.lines_fwd
        return restarted


Prepare = Callable[[Replayer], None]


def live_config(config: Config, speed: float, path: Path) -> Path:
    """The configuration for the live run: the stale time and the confirmation's report
    period divided by the speed (the Alerter's times then count recorded seconds, as offline).

    ``[[sources]]`` and ``[outputs]`` are left out: the check runs the recording's
    sources only and publishes nothing.
    """
    raw: dict[str, Any] = {k: v for k, v in config.raw.items() if k not in ("sources", "outputs")}
    sep = dict(raw.get("separation", {}))
    sep["stale_s"] = config.stale_s / speed
    raw["separation"] = sep
    dmn = dict(raw.get("daemon", {}))
    dmn["report_s"] = config.daemon.report_s / speed
    raw["daemon"] = dmn
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


class Injector:
    """One board in GPS injection mode between the daemon and the board's USB port.

    ``device`` is the board's port (a path or a pyserial URL with a file descriptor);
    ``link`` is where the pty the daemon opens instead is published.  Relaying starts at
    once (the daemon hears the board's identity before play); :meth:`start` begins the
    injection: ``$PSEPG,ON``, then each of ``lines`` at ``t0 + t / speed`` (a recorded
    board's own ``$PSEP`` lines are left out: the board sends its own), with a
    ``$PSEPG,KEEP`` every second.  :meth:`stop` sends ``$PSEPG,OFF`` and closes.

    Read from the board on the way: ``patterns`` (recording seconds, pattern) at each
    change named by an acknowledgement in the mode; ``pattern_acks``; ``left_at``, when
    acks without a pattern came after some with one (the board left the mode);
    ``restarted_at``, when its ``$PSEPS`` lines said it restarted (:class:`RestartWatch`; no more
    ``KEEP``, and the board stays out of the mode).  ``enter=False`` never sends
    ``$PSEPG,ON`` (a test: without it, lines over USB must not be GPS input);
    :meth:`pause` stops lines and keep-alives but keeps relaying (a test: the host
    went quiet).  ``error``: the port failed.
    """

    def __init__(
        self,
        name: str,
        device: str,
        link: Path,
        lines: Sequence[ReplayLine],
        speed: float,
        *,
        enter: bool = True,
        timeout_ms: int = INJECT_TIMEOUT_MS,
    ) -> None:
        self.name = name
        self.device = device
        self.link = link
        self.speed = speed
        self.enter = enter
        self.timeout_ms = timeout_ms
        self.lines = [ln for ln in lines if not ln.data.startswith(b"$PSEP")]
        self.injected = 0
        self.patterns: list[tuple[float, str]] = []
        self.pattern_acks = 0
        self.plain_acks = 0
        self.left_at: float | None = None
        self.restarted_at: float | None = None
        self.to_daemon_dropped = 0
        self.error: str | None = None
        self.played = threading.Event()
        self._t0: float | None = None
        self._paused = False
        self._restarts = RestartWatch()
        self._from_daemon = bytearray()
        self._from_board = bytearray()
        self._stop = threading.Event()
        try:
            # a board that stops reading its USB (hung) is a port error, not a stuck check
            self.port = serial.serial_for_url(device, baudrate=INJECT_BAUD, timeout=0, write_timeout=2.0)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise CheckError(f"cannot open board {name} at {device}: {exc}") from None
        try:
            self.fd = self.port.fileno()
        except (AttributeError, OSError, serial.SerialException):
            self.port.close()
            raise CheckError(f"board {name}: {device} is not a serial port with a file descriptor") from None
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # a USB CDC port is a byte pipe: no echo, no line editing
        os.set_blocking(self.master, False)
        tmp = link.with_name(link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(self.slave))
        tmp.replace(link)
        self._thread = threading.Thread(target=self._run, name=f"sepmon-inject {name}", daemon=True)
        self._thread.start()

    def start(self, t0: float | None = None) -> None:
        """Begin injecting; ``t0`` (monotonic) is the recording's time 0 (default: now)."""
        self._t0 = time.monotonic() if t0 is None else t0

    def pause(self) -> None:
        """Stop sending lines and keep-alives (the relay goes on): the board times out of the mode."""
        self._paused = True

    def rec_time(self, now: float | None = None) -> float:
        """Recording seconds since :meth:`start` (0 before)."""
        if self._t0 is None:
            return 0.0
        return ((time.monotonic() if now is None else now) - self._t0) * self.speed

    def _run(self) -> None:
        i = 0
        entered = False
        next_keep = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                out = bytearray()
                wait = 0.01
                t0 = self._t0
                if t0 is not None and not self._paused:
                    if not entered:
                        if self.enter:
                            out += encode(InjectStart(self.timeout_ms))
                        entered = True
                        next_keep = now + KEEP_S
                    elif now >= next_keep:
                        if self.restarted_at is None:
                            out += encode(InjectKeep(self.timeout_ms))
                        next_keep = now + KEEP_S
                    while i < len(self.lines) and t0 + self.lines[i].t / self.speed <= now:
                        data = self.lines[i].data
                        out += data if data.endswith(b"\n") else data + b"\r\n"
                        i += 1
                        self.injected += 1
                    if i == len(self.lines):
                        self.played.set()
                    else:
                        wait = min(wait, max(0.0, t0 + self.lines[i].t / self.speed - now))
                try:
                    got = os.read(self.master, 4096)
                except BlockingIOError:
                    got = b""
                except OSError:
                    got = b""  # nobody has the daemon's side open yet
                if got:
                    self._from_daemon += got
                    cut = self._from_daemon.rfind(b"\n") + 1
                    if cut:  # whole lines only: an injected line never lands inside a command
                        out += self._from_daemon[:cut]
                        del self._from_daemon[:cut]
                if out:
                    self.port.write(bytes(out))
                data = self.port.read(4096)
                if data:
                    try:
                        os.write(self.master, data)
                    except (BlockingIOError, OSError):
                        self.to_daemon_dropped += len(data)  # a port nobody reads, as on a board
                    self._scan(data, now)
                    continue
                select.select([self.fd, self.master], [], [], wait)
        except (serial.SerialException, OSError) as exc:
            self.error = str(exc) or type(exc).__name__
            self.played.set()  # nothing more will be played: the check need not wait for it

    def _scan(self, data: bytes, now: float) -> None:
        """Acknowledgements and status lines from the board, as they pass."""
        self._from_board += data
        cut = self._from_board.rfind(b"\n") + 1
        if not cut:
            if len(self._from_board) > 4096:
                del self._from_board[:]
            return
        block = bytes(self._from_board[:cut])
        del self._from_board[:cut]
        for line in block.split(b"\n"):
            if not line.startswith((b"$PSEPK", b"$PSEPS")):
                continue
            msg = try_decode(line)
            if isinstance(msg, Status):
                at = self._restarts.status(msg, now)
                if at is not None and self._t0 is not None and self.restarted_at is None:
                    self.restarted_at = self.rec_time(at)
            elif isinstance(msg, Ack) and self._t0 is not None:
                if msg.pattern:
                    self.pattern_acks += 1
                    if not self.patterns or self.patterns[-1][1] != msg.pattern:
                        self.patterns.append((self.rec_time(now), msg.pattern))
                else:
                    self.plain_acks += 1
                    if self.pattern_acks and self.left_at is None:
                        self.left_at = self.rec_time(now)

    def stop(self, leave: bool = True) -> None:
        """Stop relaying; with ``leave`` first tell the board to leave the mode (``$PSEPG,OFF``).
        ``leave=False`` is a host that vanished: the board's timeout must end the mode."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=5)
        if leave and self.error is None:
            with contextlib.suppress(serial.SerialException, OSError):
                self.port.write(encode(InjectStop()))
                self.port.flush()

    def close(self) -> None:
        """Close the board's port and the daemon's pty (idempotent)."""
        self.stop()
        with contextlib.suppress(Exception):
            self.port.close()
        for fd in (self.master, self.slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self.slave = -1
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()

    def problems(self) -> list[str]:
        """What the board's acknowledgements say went wrong with the mode, one line each."""
        out: list[str] = []
        if self.error is not None:
            out.append(f"board {self.name}: its port failed: {self.error}")
        if self.pattern_acks == 0:
            out.append(
                f"board {self.name} never acknowledged in GPS injection mode (no pattern in its "
                f"{self.plain_acks} acks): firmware without GPS injection? (sepmon flash)"
            )
        if self.restarted_at is not None:
            at = self.restarted_at
            out.append(f"board {self.name} restarted at +{at:.1f} s: it left GPS injection mode")
        elif self.left_at is not None:
            out.append(f"board {self.name} left GPS injection mode at +{self.left_at:.1f} s")
        if any(p == "clear" for _, p in self.patterns):
            out.append(f"board {self.name} showed clear while fed a recording: it is not in injection mode")
        return out


class VirtualBench:
    """Virtual boards on ptys, stepped by one thread: the boards an :class:`Injector` talks to
    when no hardware is there (``sepmon check --live --boards virtual`` with ``inject=True``)."""

    def __init__(self, names: Sequence[str], directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.boards = {n: VirtualBoard(n, directory / n) for n in names}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sepmon-virtual-boards", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                for b in self.boards.values():
                    b.poll()
            time.sleep(BOARD_POLL_S)

    def reset(self, name: str) -> None:
        """Press board ``name``'s reset button."""
        with self.lock:
            self.boards[name].reset()

    def view(self, name: str) -> BoardView:
        """What board ``name`` shows now."""
        with self.lock:
            return self.boards[name].view()

    def close(self) -> None:
        """Stop stepping and remove the ports."""
        self._stop.set()
        self._thread.join(timeout=5)
        for b in self.boards.values():
            b.close()


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
    inject: bool = False,
) -> Observation:
    """Play ``path`` into a real ``sepmon run`` child and observe it (see the module docstring).

    ``boards``: None (bare ports), ``"virtual"`` (the firmware on every port) or
    ``{source: port}`` for real boards, fed by GPS injection, or by ``gps_feeds[source]``
    where one is given.  ``inject``: virtual boards are fed by GPS injection too (the
    real boards' path) instead of on their GPS UART.  ``prepare(replayer)`` is called
    once the ports exist, before the daemon starts (tests use it to break something on
    purpose; not called for injected boards, which have no replayer).
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
    for name in feeds:
        if name not in real:
            raise CheckError(f"--gps-feed {name}=...: no board {name} given with --boards {name}=PORT")
    own_dir = workdir is None
    work = Path(tempfile.mkdtemp(prefix="sepmon-check-")) if workdir is None else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    virtual = boards == "virtual"
    mode = "live, virtual boards" if virtual else "live, real boards" if real else "live"
    if (virtual and inject) or (set(real) - set(feeds)):
        mode += " (GPS injection)"
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

    injected = {s for s in rec.lines if (virtual and inject) or (s in real and s not in feeds)}
    played = {s: ls for s, ls in rec.lines.items() if s not in real and s not in injected}
    fed = {s: ls for s, ls in rec.lines.items() if s in real and s in feeds}
    replayers: list[Replayer] = []
    bridges: list[_Bridge] = []
    injectors: list[Injector] = []
    bench: VirtualBench | None = None
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
            ports |= {n: real[n] for n in fed}
        if injected:
            devices = {n: real[n] for n in injected if n in real}
            if virtual:
                bench = VirtualBench(sorted(injected), work / "boards")
                devices = {n: str(b.link) for n, b in bench.boards.items()}
            (work / "inject").mkdir(parents=True, exist_ok=True)
            for name in sorted(injected):
                inj = Injector(name, devices[name], work / "inject" / name, rec.lines[name], speed)
                injectors.append(inj)
                ports[name] = str(inj.link)
        if prepare is not None:
            for r in replayers:
                prepare(r)
        cfg = live_config(config, speed, work / "live.toml")
        daemon = DaemonChild(ports, work / "events.jsonl", cfg)
        daemon.wait_ports_up(list(ports), PORT_TIMEOUT_S)
        t0 = time.time()
        start = time.monotonic()
        for r in replayers:
            r.start()
        for inj in injectors:
            inj.start(start)
        deadline = rec.duration / speed + PLAY_MARGIN_S
        for r in replayers:
            if not r.wait_played(deadline):
                obs.problems.append(f"replay did not finish within {deadline:.0f} s")
        for inj in injectors:
            if not inj.played.wait(max(0.0, start + deadline - time.monotonic())):
                obs.problems.append(f"injection into board {inj.name} did not finish within {deadline:.0f} s")
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
        for inj in injectors:
            inj.close()
        if bench is not None:
            bench.close()
        for r in replayers:
            r.close()
        if daemon is not None and daemon.running:
            daemon.kill()
    add_events(obs, events, t0, speed, rd.duration + rd.fix_interval_s)
    with lock:
        obs.boards_seen = {s: v for s, v in views.items()}
    for inj in injectors:
        # "inject" is what a board in the mode shows exactly where it would show "clear"
        obs.boards_seen[inj.name] = [(t, "clear" if p == "inject" else p) for t, p in inj.patterns]
        obs.problems.extend(inj.problems())
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
    _account(obs, events, port_stats, framed, rd, virtual, set(real) | injected)
    for inj in injectors:
        got = _counted(events).get(inj.name, {}).get("lines", 0)
        if got < inj.injected:  # the board adds its own $PSEP lines to those it forwards
            obs.losses.append(f"{inj.name}: {inj.injected} lines injected, {got} counted by the daemon")
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


def _counted(events: list[Event]) -> dict[str, dict[str, int]]:
    """Each source's statistics at the daemon's exit (``source_stats`` events)."""
    counted: dict[str, dict[str, int]] = {}
    for ev in events:
        if ev.type == "source_stats" and ev.detail:
            with contextlib.suppress(ValueError):
                counted[ev.a] = json.loads(ev.detail)
    return counted


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
    counted = _counted(events)
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
