"""Alert latency of the live path: GPS line into a board's serial port → ``$PSEPA`` with the new level out.

50 virtual boards are raw ptys (no VirtualBoard: this process reads the
``$PSEPA`` bytes itself), each a GPS receiver at 10 Hz (RMC then GGA per
epoch, the GGA completes the epoch), feeding the real ``sepmon run --quiet``
as a child process. The 50 sources are 25 pairs, each pair 33 km from the
next; in each pair A stands still and B stands still 10 km north of it
(clear: 3 km minima, not converging), except for ``IN_EPOCHS`` of every
``CYCLE_EPOCHS`` epochs when B's receiver reports it 1 km from A at the same
height: a current violation (WARNING) that starts exactly at B's first "near"
epoch. With ``hold_s`` 0.5 the level is back to 0 well before the next jump. The
configuration is the ``flarm`` preset, whose confirmation is 1 of 1 (see ``run_daemon``).
Sources write at staggered times (50 phases over the 100 ms epoch) and the
pairs jump in different epochs, so the daemon sees an even 1,000 lines/s.

Latency of one alert = from just before B's GGA of the jump epoch is written
to its pty (the line's last byte) to the moment the first ``$PSEPA`` with a
higher level than the previous one is read on a board's pty: B's own board
and A's board, both counted. One writer thread (a scheduler sleeping until the
next due line) and one reader thread (``select.poll`` over every pty master)
share ``time.perf_counter_ns``.

Baseline: the same ptys and line schedule with ``--echo`` (this file) as the
process on the other end instead of sepmon: it answers every line it reads
with a ``$PSEPA``-sized line on the same port, so its latency is the floor
that ptys, Python, select and scheduling set on this machine; the ratio to it
is sepmon's own cost (framing, parsing, epoch, tracker, monitor, hysteresis,
the alert's encoding, the thread handoffs).

CPU: ``utime + stime`` of the child from ``/proc/<pid>/stat`` over the
measured stretch, as a percentage of one core. This benchmark is not pinned to
one core: the daemon runs as it would in service, with the machine's two cores.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path

import common

from sepmon.core.checksum import frame_line

PAIRS = 25
RATE_HZ = 10.0
CYCLE_EPOCHS = 25  # one jump per pair every 2.5 s
IN_EPOCHS = 10  # B reported 1 km from A for 1 s of it
HOLD_S = 0.5
WARMUP_S = 5.0  # epoch learning, acquisitions, first heartbeats
MEASURE_S = 30.0
TARGET_P99_MS = 10.0
LAT0, LON0, ALT_M = 47.0, 11.0, 500.0
PAIR_DLAT = 0.3  # 33 km between pairs
FAR_DLAT = 0.09  # 10 km: clear
NEAR_DLAT = 0.009  # 1 km, same height: inside 3 km / 300 m
ECHO_REPLY_LEN = 38  # a $PSEPA with level, bearing, range, ttl and flags is ~35–40 bytes


@dataclass
class Source:
    name: str
    lat_a: float  # where it is when "far" (A: always)
    lat_near: float | None  # B only
    jump_offset: int  # B only: epoch index (mod CYCLE_EPOCHS) of the jump
    phase_s: float
    master: int = -1
    slave: int = -1
    path: str = ""
    lines_written: int = 0
    # line ordinal on this port of every GGA written, and its write time (ns)
    gga: list[tuple[int, int]] = field(default_factory=list)
    jumps: list[int] = field(default_factory=list)  # write times (ns) of jump-epoch GGAs


def make_sources() -> list[Source]:
    sources: list[Source] = []
    n = 2 * PAIRS
    for k in range(PAIRS):
        lat = LAT0 + k * PAIR_DLAT
        for side in "ab":
            i = len(sources)
            near = lat + NEAR_DLAT if side == "b" else None
            far = lat + FAR_DLAT if side == "b" else lat
            phase = (i / n) / RATE_HZ
            sources.append(Source(f"p{k:02d}{side}", far, near, k % CYCLE_EPOCHS, phase))
    return sources


def _hms(t: float) -> tuple[str, str]:
    d = datetime.datetime.fromtimestamp(t, datetime.UTC)
    return d.strftime("%H%M%S") + f".{d.microsecond // 10000:02d}", d.strftime("%d%m%y")


def _ll(lat: float, lon: float) -> str:
    la, lo = abs(lat), abs(lon)
    return (
        f"{int(la):02d}{(la - int(la)) * 60:08.5f},{'N' if lat >= 0 else 'S'},"
        f"{int(lo):03d}{(lo - int(lo)) * 60:08.5f},{'E' if lon >= 0 else 'W'}"
    )


def epoch_lines(lat: float, t: float) -> tuple[bytes, bytes]:
    """RMC and GGA of one epoch at UTC time ``t``, standing still at ``lat``, ``LON0``, ``ALT_M``."""
    hms, date = _hms(t)
    ll = _ll(lat, LON0)
    rmc = frame_line(f"GPRMC,{hms},A,{ll},0.0,0.0,{date},,,A")
    gga = frame_line(f"GPGGA,{hms},{ll},1,12,0.8,{ALT_M:.1f},M,47.0,M,,")
    return rmc, gga


def open_ports(sources: list[Source], where: Path) -> dict[str, str]:
    """One raw pty per source, published as ``where/<name>`` (a symlink to the slave)."""
    ports = {}
    for s in sources:
        master, slave = os.openpty()
        tty.setraw(slave)  # a USB CDC port is a byte pipe: no echo, no line editing
        os.set_blocking(master, False)
        link = where / s.name
        link.symlink_to(os.ttyname(slave))
        s.master, s.slave, s.path = master, slave, str(link)
        ports[s.name] = str(link)
    return ports


def close_ports(sources: list[Source]) -> None:
    for s in sources:
        for fd in (s.master, s.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class Reader(threading.Thread):
    """Reads every master; keeps (t_ns, level) of every ``$PSEPA`` per port and counts replies."""

    def __init__(self, sources: list[Source]) -> None:
        super().__init__(name="reader", daemon=True)
        self.by_fd = {s.master: s for s in sources}
        self.buf = {s.master: b"" for s in sources}
        self.alerts: dict[str, list[tuple[int, int]]] = {s.name: [] for s in sources}
        self.replies: dict[str, list[int]] = {s.name: [] for s in sources}  # t_ns of each reply line
        self.stop = threading.Event()

    def run(self) -> None:
        poll = select.poll()
        for fd in self.by_fd:
            poll.register(fd, select.POLLIN)
        while not self.stop.is_set():
            ready = poll.poll(100)
            t = time.perf_counter_ns()
            for fd, _ in ready:
                try:
                    data = os.read(fd, 65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    poll.unregister(fd)
                    continue
                buf = self.buf[fd] + data
                *lines, self.buf[fd] = buf.split(b"\n")
                name = self.by_fd[fd].name
                for line in lines:
                    self.replies[name].append(t)
                    if line.startswith(b"$PSEPA,"):
                        fields = line.split(b",", 3)
                        with contextlib.suppress(ValueError, IndexError):
                            self.alerts[name].append((t, int(fields[2])))


class Writer(threading.Thread):
    """Writes every source's epochs on schedule until ``duration_s`` is over."""

    def __init__(self, sources: list[Source], duration_s: float) -> None:
        super().__init__(name="writer", daemon=True)
        self.sources = sources
        self.duration_s = duration_s
        self.late_ns: list[int] = []  # how late each epoch's first write was
        self.t0_ns = 0
        self.stop = threading.Event()

    def run(self) -> None:
        period = 1.0 / RATE_HZ
        utc0 = math.floor(time.time()) + 1.0
        t0 = time.perf_counter() + (utc0 - time.time())  # epoch 0 due on a whole UTC second
        self.t0_ns = int(t0 * 1e9)
        n_epochs = int(self.duration_s * RATE_HZ)
        order = sorted(self.sources, key=lambda s: s.phase_s)
        for n in range(n_epochs):
            for s in order:
                due = t0 + n * period + s.phase_s
                while (left := due - time.perf_counter()) > 0:
                    time.sleep(left)
                if self.stop.is_set():
                    return
                near = s.lat_near is not None and (n - s.jump_offset) % CYCLE_EPOCHS < IN_EPOCHS
                lat = s.lat_near if near and s.lat_near is not None else s.lat_a
                rmc, gga = epoch_lines(lat, utc0 + n * period)
                self.late_ns.append(int((time.perf_counter() - due) * 1e9))
                try:
                    os.write(s.master, rmc)
                    t = time.perf_counter_ns()  # just before the epoch-completing line's last byte
                    os.write(s.master, gga)
                except OSError:  # full: the other side is not reading (never with sepmon)
                    continue
                s.lines_written += 2
                s.gga.append((s.lines_written, t))
                if near and (n - s.jump_offset) % CYCLE_EPOCHS == 0:
                    s.jumps.append(t)


def cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_s(pid: int) -> tuple[float, float]:
    """(main thread, all other threads) utime + stime of a process, in seconds."""
    main = others = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            t = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            if task.name == str(pid):
                main += t
            else:
                others += t
    return main, others


def wait_ports_up(events: Path, n: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited {proc.returncode}")
        if events.is_file() and events.read_text().count('"port_up"') >= n:
            return
        time.sleep(0.05)
    raise RuntimeError("ports did not come up")


@dataclass
class Result:
    latencies_ms: list[float]
    cpu_pct: float
    unattributed: int
    triggers: int
    late_p99_ms: float
    loop_cpu_pct: float = math.nan  # the daemon's main thread (its asyncio loop)


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def run_daemon(tmp: Path) -> Result:
    sources = make_sources()
    (tmp / "ports").mkdir()
    ports = open_ports(sources, tmp / "ports")
    cfg = tmp / "latency.toml"
    # B teleports 9 km in one epoch by design (a step in the level), far beyond any vehicle's
    # speed: without this the daemon refuses those positions as the receiver's fault.
    # preset flarm: its confirmation is 1 of 1, so a level rises on the first report that sees
    # it. This measures the path (line in, alert out), not the default preset's DO-365 2-of-4
    # wait for a second report (docs/design.md, "The Alerter"), which is policy, not latency.
    cfg.write_text(f'[separation]\npreset = "flarm"\nhold_s = {HOLD_S}\n[max_speed_mps]\ndefault = 1e9\n')
    events = tmp / "events.jsonl"
    args = [sys.executable, "-m", "sepmon", "run", "--quiet", "--events", str(events), "--config", str(cfg)]
    args += [f"{k}={v}" for k, v in ports.items()]
    reader = Reader(sources)
    reader.start()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ports_up(events, len(sources), proc, timeout=30)
        writer = Writer(sources, WARMUP_S + MEASURE_S)
        writer.start()
        time.sleep(WARMUP_S)
        c0, w0, m0 = cpu_s(proc.pid), time.perf_counter(), thread_cpu_s(proc.pid)[0]
        writer.join(timeout=MEASURE_S + 30)
        c1, w1, m1 = cpu_s(proc.pid), time.perf_counter(), thread_cpu_s(proc.pid)[0]
        time.sleep(0.3)  # the last alerts
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        reader.stop.set()
        reader.join(timeout=2)
        close_ports(sources)
    if proc.returncode not in (0, -signal.SIGTERM):
        common.log(err.decode(errors="replace")[-2000:])
    t_warm = writer.t0_ns + int(WARMUP_S * 1e9)
    lat: list[float] = []
    unattributed = 0
    triggers = 0
    by_name = {s.name: s for s in sources}
    for k in range(PAIRS):
        b = by_name[f"p{k:02d}b"]
        jumps = [t for t in b.jumps if t >= t_warm]
        triggers += len(jumps)
        for side in "ab":
            prev = 0
            for t, level in reader.alerts[f"p{k:02d}{side}"]:
                rise = level > prev
                prev = level
                if not rise or t < t_warm:
                    continue
                # The jump this rise answers: the latest jump of B written before it.
                cands = [j for j in b.jumps if j < t]
                if not cands or t - cands[-1] > 1e9 * IN_EPOCHS / RATE_HZ:
                    unattributed += 1
                    continue
                lat.append((t - cands[-1]) / 1e6)
    late = [x / 1e6 for x in writer.late_ns]
    cpu = 100.0 * (c1 - c0) / (w1 - w0)
    return Result(lat, cpu, unattributed, triggers, pct(late, 99), 100.0 * (m1 - m0) / (w1 - w0))


def run_echo(tmp: Path) -> Result:
    sources = make_sources()
    (tmp / "ports").mkdir()
    ports = open_ports(sources, tmp / "ports")
    ready = tmp / "echo.ready"
    args = [sys.executable, str(Path(__file__).resolve()), "--echo", str(ready), *ports.values()]
    reader = Reader(sources)
    reader.start()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.05)
        writer = Writer(sources, WARMUP_S + MEASURE_S)
        writer.start()
        time.sleep(WARMUP_S)
        c0, w0 = cpu_s(proc.pid), time.perf_counter()
        writer.join(timeout=MEASURE_S + 30)
        c1, w1 = cpu_s(proc.pid), time.perf_counter()
        time.sleep(0.3)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        reader.stop.set()
        reader.join(timeout=2)
        close_ports(sources)
    t_warm = writer.t0_ns + int(WARMUP_S * 1e9)
    lat: list[float] = []
    missing = 0
    for s in sources:
        replies = reader.replies[s.name]
        for ordinal, t in s.gga:
            if t < t_warm:
                continue
            if ordinal > len(replies):
                missing += 1
                continue
            lat.append((replies[ordinal - 1] - t) / 1e6)
    late = [x / 1e6 for x in writer.late_ns]
    return Result(lat, 100.0 * (c1 - c0) / (w1 - w0), missing, len(lat) + missing, pct(late, 99))


def echo_main(ready: str, paths: list[str]) -> None:
    """The baseline's far end: a ``$PSEPA``-sized line back on the same port for every line read."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    reply = frame_line("PSEPA,1,3,90,1000,3000,".ljust(ECHO_REPLY_LEN - 6, "0"))
    fds = []
    for p in paths:
        fd = os.open(p, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        fds.append(fd)
    Path(ready).touch()
    poll = select.poll()
    for fd in fds:
        poll.register(fd, select.POLLIN)
    while True:
        for fd, _ in poll.poll():
            data = os.read(fd, 4096)
            n = data.count(b"\n")
            if n:
                os.write(fd, reply * n)


def summary(r: Result) -> tuple[float, float, float]:
    return statistics.median(r.latencies_ms), pct(r.latencies_ms, 99), max(r.latencies_ms)


def main() -> None:
    global MEASURE_S
    for arg in sys.argv[1:]:
        if arg.startswith("--seconds="):
            MEASURE_S = float(arg.split("=", 1)[1])
    with tempfile.TemporaryDirectory(prefix="sepmon-latency-") as d:
        tmp = Path(d)
        (tmp / "echo").mkdir()
        (tmp / "daemon").mkdir()
        if "--no-echo" in sys.argv:  # for experiments on the daemon: its figures only
            echo = Result([math.nan], math.nan, 0, 0, math.nan)
        else:
            common.log(f"latency: echo baseline, {2 * PAIRS} ptys at {RATE_HZ:g} Hz, {MEASURE_S:g} s")
            echo = run_echo(tmp / "echo")
        common.log(f"latency: sepmon run, {2 * PAIRS} boards at {RATE_HZ:g} Hz, {MEASURE_S:g} s")
        dmn = run_daemon(tmp / "daemon")
    e50, e99, emax = summary(echo)
    d50, d99, dmax = summary(dmn)
    common.log(
        f"latency: {len(dmn.latencies_ms)} board alerts from {dmn.triggers} jumps "
        f"({dmn.unattributed} rises unattributed); writer p99 lateness {dmn.late_p99_ms:.2f} ms; "
        f"echo: {len(echo.latencies_ms)} lines ({echo.unattributed} unanswered)"
    )
    lines_s = 2 * 2 * PAIRS * RATE_HZ
    rows = [
        common.Row(
            metric=f"alert latency p50, GPS line → $PSEPA, {2 * PAIRS} boards at {RATE_HZ:g} Hz",
            value=f"{d50:.2f} ms",
            baseline=f"echo {e50:.2f} ms",
            ratio=f"{d50 / e50:.1f}× echo",
        ),
        common.Row(
            metric="alert latency p99",
            value=f"{d99:.2f} ms",
            baseline=f"echo {e99:.2f} ms",
            ratio=f"{d99 / e99:.1f}× echo",
            target=f"< {TARGET_P99_MS:g} ms",
            met=d99 < TARGET_P99_MS,
        ),
        common.Row(
            metric="alert latency max",
            value=f"{dmax:.2f} ms",
            baseline=f"echo {emax:.2f} ms",
            ratio=f"{dmax / emax:.1f}× echo",
            note=(
                f"{len(dmn.latencies_ms)} board alerts (both boards of {dmn.triggers} level rises over "
                f"{MEASURE_S:g} s, {dmn.unattributed} unattributed); "
                f"echo over {len(echo.latencies_ms)} GGA lines"
            ),
        ),
        common.Row(
            metric=f"daemon CPU at {lines_s:.0f} lines/s ({2 * PAIRS * RATE_HZ:.0f} fixes/s)",
            value=f"{dmn.cpu_pct:.0f} % of a core",
            baseline=f"echo {echo.cpu_pct:.0f} %",
            ratio=f"{dmn.cpu_pct / max(echo.cpu_pct, 0.1):.1f}× echo",
            note=(
                f"of which the asyncio loop thread {dmn.loop_cpu_pct:.0f} %, "
                f"the {2 * PAIRS} port reader threads the rest"
            ),
        ),
    ]
    common.emit(rows)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--echo":
        echo_main(sys.argv[2], sys.argv[3:])
    else:
        main()
