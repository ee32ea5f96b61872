r"""Fault recordings for the HIL fault tests and the soak: ``sepmon.sim`` traffic plus hand edits.

A simulated receiver's lines are taken per source (times relative to the start
of its simulation) and then edited sentence by sentence: times rewritten (a
receiver whose clock freezes, jumps, rolls over a GPS week or inserts a leap
second), fixes taken away (no-fix sentences still flowing), epochs swapped,
lines given TAG blocks. Every edited sentence gets a fresh checksum through
:func:`sepmon.core.checksum.frame_line`, so the host sees well-formed NMEA that lies.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable

from sepmon.apps.replay import ReplayLine
from sepmon.core.checksum import frame_line
from sepmon.core.tagblock import format_tag_block
from sepmon.sim import Simulation

UTC = dt.UTC
_TIME_FIELD = {"GGA": 1, "RMC": 1, "GNS": 1, "GLL": 5, "GST": 1}  # index after the talker+type field
_RMC_DATE = 9


class SimLine:
    """One received line of a simulated receiver: ``t`` s after the start, its fix time and bytes."""

    __slots__ = ("data", "fix_t", "t")

    def __init__(self, t: float, fix_t: float, data: bytes) -> None:
        self.t = t
        self.fix_t = fix_t
        self.data = data


def sim_sources(sim: Simulation, rename: dict[str, str] | None = None) -> dict[str, list[SimLine]]:
    """Lines per source, times relative to the simulation start; ``rename`` maps sim names to ours."""
    t0 = sim.params.start.timestamp()
    out: dict[str, list[SimLine]] = {}
    for r in sim.records:
        name = (rename or {}).get(r.source, r.source)
        out.setdefault(name, []).append(SimLine(r.rx_t - t0, r.fix_t - t0, r.data))
    return out


def to_replay(lines: Iterable[SimLine], delay: float = 0.0) -> list[ReplayLine]:
    """What a ``Replayer`` plays."""
    return [ReplayLine(ln.t + delay, ln.data) for ln in lines]


# ---- sentence edits -------------------------------------------------------------------


def split(line: bytes) -> list[str] | None:
    """``$GPRMC,...*hh\\r\\n`` → ``["GPRMC", ...]``; None for anything else."""
    text = line.decode("ascii", "replace").strip()
    if not text.startswith("$") or "*" not in text:
        return None
    return text[1 : text.rfind("*")].split(",")


def kind(line: bytes) -> str:
    """Sentence type (``RMC``, ``GGA``, ...) or ``""``."""
    parts = split(line)
    return parts[0][2:] if parts else ""


def join(parts: list[str]) -> bytes:
    """Fields back to a framed, checksummed, CRLF-terminated sentence."""
    return frame_line(",".join(parts))


def set_time(line: bytes, hhmmss: str, ddmmyy: str | None = None) -> bytes:
    """Replace the UTC time (and, for RMC, the date when given) of a timed sentence."""
    parts = split(line)
    if parts is None or parts[0][2:] not in _TIME_FIELD:
        return line
    parts[_TIME_FIELD[parts[0][2:]]] = hhmmss
    if ddmmyy is not None and parts[0][2:] == "RMC":
        parts[_RMC_DATE] = ddmmyy
    return join(parts)


def stamp(t: float) -> tuple[str, str]:
    """Unix time → (``hhmmss.ss``, ``ddmmyy``) as a receiver writes them."""
    cs = round(t * 100)
    d = dt.datetime.fromtimestamp(cs // 100, UTC)
    return f"{d:%H%M%S}.{cs % 100:02d}", f"{d:%d%m%y}"


def retime(line: bytes, t: float) -> bytes:
    """The sentence as if the receiver's clock said unix time ``t`` (time and RMC date)."""
    hhmmss, ddmmyy = stamp(t)
    return set_time(line, hhmmss, ddmmyy)


def set_date(line: bytes, ddmmyy: str) -> bytes:
    """Replace the date of an RMC sentence."""
    parts = split(line)
    if parts is None or parts[0][2:] != "RMC":
        return line
    parts[_RMC_DATE] = ddmmyy
    return join(parts)


def no_fix(line: bytes) -> bytes:
    """What a receiver without a fix sends for this sentence: flags say no fix, no position."""
    parts = split(line)
    if parts is None:
        return line
    k = parts[0][2:]
    if k == "RMC":
        parts[2] = "V"
        parts[3:7] = ["", "", "", ""]
        parts[7] = parts[8] = ""
        parts[12] = "N"
    elif k == "GGA":
        parts[2:6] = ["", "", "", ""]
        parts[6] = "0"
        parts[7] = "00"
        parts[8] = parts[9] = ""
    elif k == "VTG":
        parts = [parts[0], "", "T", "", "M", "", "N", "", "K", "N"]
    elif k == "GSA":
        parts[2] = "1"
        parts[3:15] = [""] * 12
        parts[15:18] = ["", "", ""]
    return join(parts)


def edit(lines: list[SimLine], after: float, fn: Callable[[SimLine], bytes | None]) -> list[SimLine]:
    """Apply ``fn`` to every line whose fix time is at or after ``after`` (None drops the line)."""
    out = []
    for ln in lines:
        if ln.fix_t >= after:
            data = fn(ln)
            if data is None:
                continue
            out.append(SimLine(ln.t, ln.fix_t, data))
        else:
            out.append(ln)
    return out


def swap_epochs(lines: list[SimLine], every: int = 3) -> list[SimLine]:
    """Out-of-order delivery: every ``every``-th epoch is sent after the one that follows it."""
    epochs: list[list[SimLine]] = []
    for ln in lines:
        if not epochs or epochs[-1][0].fix_t != ln.fix_t:
            epochs.append([])
        epochs[-1].append(ln)
    for i in range(1, len(epochs) - 1, every):
        epochs[i], epochs[i + 1] = epochs[i + 1], epochs[i]
    flat = [ln.data for ep in epochs for ln in ep]
    return [SimLine(ln.t, ln.fix_t, data) for ln, data in zip(lines, flat, strict=True)]


def tagged(source: str, lines: list[SimLine]) -> list[SimLine]:
    r"""Lines behind a TAG block naming ``source`` (``\s:NAME*hh\``), as a relay or multiplexer sends them."""
    tag = format_tag_block(source, None).encode("ascii")
    return [SimLine(ln.t, ln.fix_t, tag + ln.data) for ln in lines]


def noise(duration: float, seed: int = 1, period: float = 0.25) -> list[ReplayLine]:
    """A port at the wrong baud rate: random bytes, now and then something that looks like NMEA."""
    rnd = random.Random(seed)
    lines = []
    t = 0.0
    while t < duration:
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(20, 120)))
        if rnd.random() < 0.3:
            junk += b"$GPGGA,120000.00,4716.0,N,01121.0,E,1,08,0.9,545.4,M,47.0,M,,*00\r\n"
        lines.append(ReplayLine(t, junk + b"\r\n"))
        t += period
    return lines
