"""Ingest: NMEA lines per second through sepmon, next to pynmea2 and pynmeagps on the same lines.

Baselines get the bare sentences, TAG blocks cut off and already split into
lines (pynmea2: ``str`` without terminator, pynmeagps: ``bytes`` with CRLF), so
they do strictly less work than sepmon, which frames, checks the
TAG block and sentence checksums and assembles fixes.

- ingest: :class:`sepmon.core.ingest.NmeaIngest` over the whole corpus (≥ 1 M lines), fed
  from memory in 1 MiB chunks like the baselines get their lines from memory.
- analyze: :func:`sepmon.apps.analyze.run_analysis` (ingest + tracker + monitor, what
  ``sepmon analyze`` runs) over the whole corpus file, with the pynmea2 loop over all
  its lines timed right before and right after (their mean rate is the baseline).
- pynmeagps is ~10× slower than pynmea2, so it gets a tenth of the lines.
- The three are timed slice by slice, interleaved, so a busy neighbour slows all alike.
"""

from __future__ import annotations

import common

common.single_core()
common.as_sepmon_command()

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pynmea2  # noqa: E402
from corpus import corpus_path  # noqa: E402
from pynmeagps import NMEAReader  # noqa: E402

from sepmon.apps.analyze import run_analysis  # noqa: E402
from sepmon.core.config import Config  # noqa: E402
from sepmon.core.ingest import NmeaIngest  # noqa: E402

SLICE = 50_000
CHUNK = 1 << 20
TARGET_RATIO = 1.0


def bare(line: bytes) -> bytes:
    return line[line.rindex(b"\\") + 1 :] if line[:1] == b"\\" else line


def rate_pynmea2(lines: list[str]) -> float:
    parse = pynmea2.parse
    t0 = time.perf_counter()
    for line in lines:
        parse(line)
    return len(lines) / (time.perf_counter() - t0)


def rate_pynmeagps(lines: list[bytes]) -> float:
    parse = NMEAReader.parse
    t0 = time.perf_counter()
    for line in lines:
        parse(line)
    return len(lines) / (time.perf_counter() - t0)


def rate_ingest(path: Path, n_lines: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    ing = NmeaIngest(path.stem)
    fixes = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            fixes += len(ing.feed(chunk))
    fixes += len(ing.flush())
    return n_lines / (time.perf_counter() - t0), fixes


def rate_analyze(path: Path, n_lines: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    result = run_analysis([path], Config())
    return n_lines / (time.perf_counter() - t0), result.fixes


def main() -> None:
    path = corpus_path()
    raw = path.read_bytes().splitlines(keepends=True)
    n = len(raw)
    bare_b = [bare(x) for x in raw]
    bare_s = [x.decode("ascii").rstrip("\r\n") for x in bare_b]
    common.log(f"ingest corpus: {n} lines, {path.stat().st_size / 1e6:.0f} MB")

    # Interleaved slices: each slice is timed through pynmea2, pynmeagps (a tenth of it)
    # and sepmon's ingest one right after the other, so load from other processes on the
    # shared core hits all three alike.
    t_ours = t_base = t_gps = 0.0
    n_gps = 0
    fixes = 0
    ing = NmeaIngest(path.stem)
    parse2, parse_gps = pynmea2.parse, NMEAReader.parse
    for k in range(0, n, SLICE):
        blob = b"".join(raw[k : k + SLICE])
        t0 = time.perf_counter()
        for j in range(0, len(blob), CHUNK):
            fixes += len(ing.feed(blob[j : j + CHUNK]))
        t1 = time.perf_counter()
        for line in bare_s[k : k + SLICE]:
            parse2(line)
        t2 = time.perf_counter()
        for line in bare_b[k : k + SLICE // 10]:
            parse_gps(line)
        t3 = time.perf_counter()
        t_ours += t1 - t0
        t_base += t2 - t1
        t_gps += t3 - t2
        n_gps += len(bare_b[k : k + SLICE // 10])
    fixes += len(ing.flush())
    ours, base, gps = n / t_ours, n / t_base, n_gps / t_gps
    common.log(f"  sepmon ingest {ours:.0f} lines/s ({fixes} fixes), pynmea2 {base:.0f}, pynmeagps {gps:.0f}")
    b1 = rate_pynmea2(bare_s)
    ana, ana_fixes = rate_analyze(path, n)
    b2 = rate_pynmea2(bare_s)
    base_ana = 2.0 / (1.0 / b1 + 1.0 / b2)  # before and after, to bracket the load
    common.log(f"  sepmon analyze {ana:.0f} lines/s ({ana_fixes} fixes), pynmea2 {b1:.0f} / {b2:.0f}")

    rows = [
        common.Row(
            metric=f"ingest (NmeaIngest), {n} lines",
            value=f"{ours / 1e3:.1f} k lines/s",
            baseline=f"pynmea2.parse loop {base / 1e3:.1f} k/s",
            ratio=f"{ours / base:.2f}×",
            target=f"≥ {TARGET_RATIO:.1f}×",
            met=ours / base >= TARGET_RATIO,
            note=f"{fixes} fixes; framing, TAG blocks, checksums and epoch assembly included",
        ),
        common.Row(
            metric="ingest vs pynmeagps",
            value=f"{ours / 1e3:.1f} k lines/s",
            baseline=f"NMEAReader.parse loop {gps / 1e3:.1f} k/s",
            ratio=f"{ours / gps:.2f}×",
            note=f"pynmeagps timed on {n_gps} lines (a tenth of each slice)",
        ),
        common.Row(
            metric=f"sepmon analyze (run_analysis), {n} lines",
            value=f"{ana / 1e3:.1f} k lines/s",
            baseline=f"pynmea2.parse loop {base_ana / 1e3:.1f} k/s",
            ratio=f"{ana / base_ana:.2f}×",
            target=f"≥ {TARGET_RATIO:.1f}×",
            met=ana / base_ana >= TARGET_RATIO,
            note=(
                f"{ana_fixes} fixes of 40 sources, every 0.1 s batch evaluated; "
                f"pynmea2 {b1 / 1e3:.1f} k/s before, {b2 / 1e3:.1f} k/s after"
            ),
        ),
    ]
    common.emit(rows)


if __name__ == "__main__":
    main()
