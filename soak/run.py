"""Soak: an hour of traffic from 50 sources, accelerated, into the real ``sepmon run``, with faults.

    python soak/run.py                      # 1 h at 2x: 30 minutes
    python soak/run.py --hours 0.1 --speed 2  # 6 min of traffic in 3 minutes

The speed-up is bounded by the daemon: 50 sources at 1-10 Hz are ~300 fixes/s
of recording time; on a shared 2-core machine the daemon keeps up at 2x and
falls behind at 4x (see docs/reliability.md, "Faults").

Traffic: ``sepmon.sim`` "many" (40 vehicles converging in 10-minute rounds, so
encounters and level events keep coming) plus 5 parallel pairs, at 1-10 Hz,
GGA + RMC. Four sources are virtual boards (the firmware logic), the rest raw
ptys; one more port carries noise bursts. Faults on a schedule (recording
time): cable pulls, noise bursts in a stream and on a port, a board muting its
acknowledgements, GPS no-fix periods, a receiver time jump. Settings in
seconds (``stale_s``, ``hold_s``) are divided by the speed.

Checks, printed as a table: the daemon never dies and stops cleanly; its RSS
after warm-up grows by less than 5 %; every injected fault shows in the event
log as expected; no track is lost outside a fault. Exit status 1 on a failed
check.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "hil"))

import faultgen as fg

from sepmon.apps.daemonchild import DaemonChild
from sepmon.apps.replay import Replayer, ReplayLine
from sepmon.sim import simulate

ROUND_S = 600.0  # one "many" round: the vehicles converge again every 10 minutes
MANY_RATES = (1, 1, 1, 1, 2, 2, 5, 10)  # Hz, cycled over the 40 vehicles
PAIR_RATES = (1, 2, 5, 10, 1)
BOARDS = ("v01", "v02", "v03", "v04")
SENTENCES = ("RMC", "GGA")


@dataclass
class Fault:
    """One injected fault: what, on which source, from ``t0`` to ``t1`` (recording seconds)."""

    name: str
    source: str
    t0: float
    t1: float | None = None
    kind: str = ""  # unplug | mute | nofix | jump | noise_stream | noise_port


def schedule(hours: float, speed: float) -> list[Fault]:
    """Faults spread over the run; each lasts its share of an hour, and long enough to see live."""
    d = 3600.0 * hours

    def at(frac: float) -> float:
        return round(d * frac, 1)

    def lasting(per_hour_s: float, live_s: float) -> float:
        return max(per_hour_s * hours, live_s * speed)

    unplug, noise, mute, nofix = lasting(60, 4), lasting(60, 3), lasting(300, 8), lasting(120, 5)
    return [
        Fault("cable pulled / replugged", "p1a", at(0.17), at(0.17) + unplug, "unplug"),
        Fault("noise burst in a stream", "p2a", at(0.25), at(0.25) + noise, "noise_stream"),
        Fault("noise burst on a port", "noise", at(0.25), at(0.25) + noise, "noise_port"),
        Fault("board stops acknowledging", "v01", at(0.33), at(0.33) + mute, "mute"),
        Fault("GPS no fix", "p3a", at(0.36), at(0.36) + nofix, "nofix"),
        Fault("cable pulled / replugged", "v10", at(0.5), at(0.5) + unplug, "unplug"),
        Fault("receiver time jumps back 1 h", "p4a", at(0.56), None, "jump"),
        Fault("noise burst on a port", "noise", at(0.67), at(0.67) + noise, "noise_port"),
        Fault("GPS no fix", "v20", at(0.75), at(0.75) + nofix, "nofix"),
        Fault("cable pulled / replugged", "p5b", at(0.83), at(0.83) + unplug, "unplug"),
    ]


def build(hours: float, faults: list[Fault]) -> dict[str, list[ReplayLine]]:
    """Every source's lines for the whole run, faults baked in."""
    duration = 3600.0 * hours
    base = simulate("parallel", duration=1.0).params.start.timestamp()
    per: dict[str, list[fg.SimLine]] = {}
    rounds = max(1, round(duration / ROUND_S))
    for k in range(rounds):
        dur = min(ROUND_S, duration - k * ROUND_S)
        start = base + k * ROUND_S
        rates = tuple(MANY_RATES[i % len(MANY_RATES)] for i in range(40))
        sim = simulate(
            "many", seed=21, vehicles=40, rates=rates, duration=dur, start=_iso(start), sentences=SENTENCES
        )
        for name, lines in fg.sim_sources(sim).items():
            per.setdefault(name, []).extend(
                fg.SimLine(ln.t + k * ROUND_S, ln.fix_t + k * ROUND_S, ln.data) for ln in lines
            )
    for i, rate in enumerate(PAIR_RATES, start=1):
        sim = simulate(
            "parallel",
            seed=i,
            rates=(rate, rate),
            lat=47.26 + 0.3 * i,
            separation=6000.0,
            duration=duration,
            sentences=SENTENCES,
        )
        per.update(fg.sim_sources(sim, {"alpha": f"p{i}a", "bravo": f"p{i}b"}))
    out: dict[str, list[ReplayLine]] = {}
    noise: list[ReplayLine] = []
    for f in faults:
        lines = per.get(f.source)
        if f.kind == "nofix":
            assert lines is not None and f.t1 is not None
            end = f.t1
            per[f.source] = fg.edit(
                lines, f.t0, lambda ln, end=end: fg.no_fix(ln.data) if ln.fix_t < end else ln.data
            )
        elif f.kind == "jump":
            assert lines is not None
            per[f.source] = fg.edit(lines, f.t0, lambda ln: fg.retime(ln.data, base + ln.fix_t - 3600))
        elif f.kind == "noise_stream":
            assert lines is not None and f.t1 is not None
            junk = [fg.SimLine(r.t + f.t0, r.t + f.t0, r.data) for r in fg.noise(f.t1 - f.t0, 3, 0.2)]
            per[f.source] = sorted(lines + junk, key=lambda ln: ln.t)
        elif f.kind == "noise_port":
            assert f.t1 is not None
            noise += [ReplayLine(r.t + f.t0, r.data) for r in fg.noise(f.t1 - f.t0, seed=int(f.t0))]
    for name, lines in per.items():
        out[name] = fg.to_replay(lines)
    out["noise"] = [*noise, ReplayLine(duration, b"\r\n")]
    return out


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0, help="recording time to replay (default 1)")
    ap.add_argument(
        "--speed",
        type=float,
        default=2.0,
        help="replay speed-up (default 2: what one busy core keeps up with for 50 sources)",
    )
    ap.add_argument("--dir", help="keep ports, config and event log here (default: a temp dir)")
    args = ap.parse_args()
    speed = args.speed
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="sepmon-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    faults = schedule(args.hours, speed)
    t_build = time.monotonic()
    lines = build(args.hours, faults)
    n_lines = sum(len(v) for v in lines.values())
    print(
        f"soak: {len(lines) - 1} sources + noise port, {n_lines} lines, {args.hours:g} h at {speed:g}x "
        f"(built in {time.monotonic() - t_build:.0f} s); work dir {work}",
        flush=True,
    )
    stale_s = max(5.0 / speed, 0.5)
    hold_s = 5.0 / speed
    config = work / "soak.toml"
    config.write_text(f"[separation]\nhold_s = {hold_s}\nstale_s = {stale_s}\n")
    boards = Replayer({s: lines[s] for s in BOARDS}, work / "ports", speed=speed, boards=True, hold=True)
    raw = Replayer(
        {s: v for s, v in lines.items() if s not in BOARDS}, work / "ports", speed=speed, hold=True
    )
    ports = boards.open() | raw.open()
    events = work / "events.jsonl"
    events.unlink(missing_ok=True)
    daemon = DaemonChild(ports, events, config)
    rss: list[tuple[float, int]] = []
    cpu: list[tuple[float, float]] = []
    stop_s = math.nan
    marks: dict[int, tuple[float, float | None]] = {}  # fault index → live (start, end) unix times
    status, err = -1, ""
    try:
        end = time.monotonic() + 60
        while sum(e["type"] == "port_up" for e in daemon.raw_events()) < len(ports):
            if time.monotonic() > end or daemon.proc.poll() is not None:
                raise SystemExit(f"soak: the daemon did not open its ports: {daemon.output()[1][-2000:]}")
            time.sleep(0.2)
        t_play = time.time()
        boards.start()
        raw.start()
        actions: list[tuple[float, int, str]] = []
        for i, f in enumerate(faults):
            actions.append((f.t0, i, "start"))
            if f.t1 is not None:
                actions.append((f.t1, i, "end"))
        actions.sort()
        total = 3600.0 * args.hours / speed
        next_rss = time.time()
        while time.time() < t_play + total + 1.0:
            now = time.time()
            while actions and t_play + actions[0][0] / speed <= now:
                _, i, what = actions.pop(0)
                f = faults[i]
                if f.kind == "unplug":
                    replayer = boards if f.source in BOARDS else raw
                    if what == "start":
                        replayer.unplug(f.source)
                    else:
                        replayer.replug(f.source)
                elif f.kind == "mute":
                    port = boards._port(f.source).board
                    assert port is not None
                    port.mute_acks = what == "start"
                start, _ = marks.get(i, (now, None))
                marks[i] = (now, None) if what == "start" else (start, now)
            if now >= next_rss:
                if daemon.proc.poll() is not None:
                    break
                rss.append((now - t_play, daemon.rss_kb()))
                cpu.append((now - t_play, _cpu_s(daemon.proc.pid)))
                next_rss = now + 1.0
            time.sleep(0.02)
        alive = daemon.proc.poll() is None
        t_stop = time.monotonic()
        try:
            status, _, err = daemon.terminate(timeout=60)
        except subprocess.TimeoutExpired:
            status, err = -1, "no exit within 60 s of SIGTERM: the daemon is behind on its input"
        stop_s = time.monotonic() - t_stop
    finally:
        for r in (boards, raw):
            r.close()
        if daemon.proc.poll() is None:
            daemon.kill()
    evs = daemon.raw_events()
    ok = report(evs, faults, marks, rss, alive, status, err, stale_s, speed, raw, boards, total)
    if len(cpu) >= 2:
        busy = (cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0])
        print(f"daemon CPU {busy * 100:.0f} % of one core over the run; SIGTERM to exit {stop_s:.1f} s")
    return ok


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(
    evs: list[dict[str, Any]],
    faults: list[Fault],
    marks: dict[int, tuple[float, float | None]],
    rss: list[tuple[float, int]],
    alive: bool,
    status: int,
    err: str,
    stale_s: float,
    speed: float,
    raw: Replayer,
    boards: Replayer,
    total: float,
) -> int:
    rows: list[tuple[str, str, str, bool]] = []

    def first(kind: str, source: str, after: float, within: float) -> float | None:
        for e in evs:
            if e["type"] == kind and e["a"] == source and after - 0.05 <= e["t"] <= after + within:
                return float(e["t"]) - after
        return None

    stats: dict[str, dict[str, int]] = {}
    for e in evs:
        if e["type"] == "source_stats":
            for k, v in json.loads(e["detail"]).items():
                stats.setdefault(e["a"], {}).setdefault(k, 0)
                stats[e["a"]][k] += v
    windows: dict[str, list[tuple[float, float]]] = {}
    for i, f in enumerate(faults):
        start, end = marks.get(i, (0.0, None))
        live_end = end if end is not None else start + 3.0
        windows.setdefault(f.source, []).append((start, live_end + 3.0))
        src = f.source
        if f.kind == "unplug":
            assert end is not None
            down = first("port_down", src, start, 2.0)
            lost = first("lost", src, start, stale_s + 2.0)
            up = first("port_up", src, end, 2.0)
            back = first("regained", src, end, 3.0)
            ok = None not in (down, lost, up, back)
            rows.append(
                (
                    f"{f.name}: {src}",
                    "port_down, lost, port_up ≤ 2 s, regained",
                    _fmt(("down", down), ("lost", lost), ("up", up), ("regained", back)),
                    ok and (up or 9) <= 2.0,
                )
            )
        elif f.kind == "mute":
            assert end is not None
            silent = first("board_silent", src, start, 3.0 + 2.0)
            acking = first("board_acking", src, end, 2.0)
            rows.append(
                (
                    f"{f.name}: {src}",
                    "board_silent ≤ 5 s, board_acking ≤ 2 s after",
                    _fmt(("silent", silent), ("acking", acking)),
                    None not in (silent, acking),
                )
            )
        elif f.kind == "nofix":
            assert end is not None
            lost = first("lost", src, start, stale_s + 2.0)
            back = first("regained", src, end, 3.0)
            n = stats.get(src, {}).get("no_fix", 0)
            rows.append(
                (
                    f"{f.name}: {src}",
                    "lost, regained after, no_fix counted",
                    _fmt(("lost", lost), ("regained", back)) + f", no_fix {n}",
                    None not in (lost, back) and n > 0,
                )
            )
        elif f.kind == "jump":
            lost = first("lost", src, start, 5.0)
            back = first("regained", src, start, 10.0) if lost is not None else None
            ok = lost is None or (back is not None and back - lost <= 2.0)
            rows.append(
                (
                    f"{f.name}: {src}",
                    "track kept (a loss, if any, regained ≤ 2 s)",
                    "no loss" if lost is None else _fmt(("lost", lost), ("regained", back)),
                    ok,
                )
            )
        elif f.kind == "noise_stream":
            n = sum(stats.get(src, {}).get(k, 0) for k in ("checksum", "framing", "overlong", "unparsable"))
            lost = first("lost", src, start, (end or start) - start + 2.0)
            rows.append(
                (
                    f"{f.name}: {src}",
                    "bad lines counted, track not lost",
                    f"{n} bad lines, {'lost' if lost is not None else 'not lost'}",
                    n > 0 and lost is None,
                )
            )
        elif f.kind == "noise_port":
            n = sum(stats.get(src, {}).get(k, 0) for k in ("checksum", "framing", "overlong", "unparsable"))
            fixes = stats.get(src, {}).get("fixes", 0)
            rows.append(
                (
                    f"{f.name}: {src}",
                    "bad lines counted, no fix",
                    f"{n} bad lines, {fixes} fixes",
                    n > 0 and fixes == 0,
                )
            )

    def in_window(source: str, t: float) -> bool:
        return any(a <= t <= b for a, b in windows.get(source, []))

    unexpected = [
        e for e in evs if e["type"] in ("lost", "port_down", "board_silent") and not in_window(e["a"], e["t"])
    ]
    rows.append(
        (
            "no loss outside a fault",
            "no lost / port_down / board_silent elsewhere",
            f"{len(unexpected)}"
            + (f": {[(e['type'], e['a']) for e in unexpected[:5]]}" if unexpected else ""),
            not unexpected,
        )
    )
    rows.append(
        (
            "daemon alive and clean stop",
            "exit 0, source_stats written",
            f"alive {alive}, exit {status}, {sum(e['type'] == 'source_stats' for e in evs)} source_stats",
            alive and status == 0 and "source_stats" in {e["type"] for e in evs},
        )
    )
    warm = [kb for t, kb in rss if t >= 0.25 * total]
    growth = None
    if len(warm) >= 20:
        a = statistics.median(warm[:10])
        b = statistics.median(warm[-10:])
        growth = (b - a) / a
    rows.append(
        (
            "RSS flat after warm-up",
            "< 5 % growth (VmRSS, from 25 % of the run)",
            "too few samples"
            if growth is None
            else f"{warm[0] / 1024:.1f} → {warm[-1] / 1024:.1f} MiB, max {max(warm) / 1024:.1f}, "
            f"{growth * 100:+.1f} %",
            growth is not None and growth < 0.05,
        )
    )
    width = max(len(r[0]) for r in rows)
    width2 = max(len(r[1]) for r in rows)
    print()
    print(f"{'check':<{width}}  {'expected':<{width2}}  {'seen':<40}  result")
    for name, exp, seen, ok in rows:
        print(f"{name:<{width}}  {exp:<{width2}}  {seen:<40}  {'ok' if ok else 'FAIL'}")
    levels = sum(e["type"] == "level" for e in evs)
    fixes = sum(s.get("fixes", 0) for s in stats.values())
    lines_in = sum(s.get("lines", 0) for s in stats.values())
    played = {**raw.stats(), **boards.stats()}
    dropped = sum(s.dropped for s in played.values())
    p50, p95, worst = raw.lateness()
    print()
    print(
        f"events {len(evs)} (level {levels}), lines read {lines_in}, fixes {fixes}, "
        f"replay dropped {dropped} (unplugged ports), "
        f"lateness p50 {p50 * 1000:.1f} ms p95 {p95 * 1000:.1f} ms max {worst * 1000:.0f} ms, "
        f"RSS samples {len(rss)}"
    )
    if status != 0 and err:
        print(err[-3000:])
    failed = [r for r in rows if not r[3]]
    print("soak: " + ("PASS" if not failed else f"FAIL ({len(failed)} checks)"))
    return 1 if failed else 0


def _fmt(*pairs: tuple[str, float | None]) -> str:
    return ", ".join(f"{k} {'—' if v is None else f'+{v:.2f} s'}" for k, v in pairs)


if __name__ == "__main__":
    sys.exit(main())
