"""gpsd as the oracle for the real-receiver corpus (tests/data/real/).

Feeds each corpus file through gpsfake into a real gpsd (on loopback, its own port, TCP
feed, the way gpsd's own regression driver runs it: ``gpsfake -1 -p -t -s 38400``) and
keeps gpsd's TPV reports with a position (mode >= 2), grouped by fix time (see
:func:`epochs`).  :func:`compare` holds ``sepmon analyze --tracks`` output against them.

Run as a script to regenerate ``tests/data/real/expected/*.json``::

    .venv/bin/python tests/host/gpsd_oracle.py [FILE ...]
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from test_gpsd import _free_port, _tools, gpsfake_env  # the gpsd integration tests' own tool lookup

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "data" / "real"
EXPECTED = CORPUS / "expected"


def corpus_files() -> list[Path]:
    """The recordings of the corpus (every ``*.log`` beside the MANIFEST)."""
    return sorted(CORPUS.glob("*.log"))


def gpsd_reports(
    path: Path, gpsfake: str, gpsd: str, port: int, timeout: float = 120.0
) -> list[dict[str, Any]]:
    """Every JSON report gpsd sends a watcher while gpsfake feeds it ``path`` once."""
    # -p: gpsfake itself watches (connected before the feed starts, so nothing is missed);
    # -t: a TCP feed instead of a pty (no tty timing); -1: the log once; -P: our own port.
    with gpsfake_env(gpsd) as env:
        proc = subprocess.run(
            [gpsfake, "-1", "-p", "-q", "-t", "-s", "38400", "-P", str(port),
             "-r", '?WATCH={"enable":true,"json":true}', str(path)],
            capture_output=True,
            env=env,
            timeout=timeout,
            start_new_session=True,
            check=False,
        )  # fmt: skip
    reports = []
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("{"):
            try:
                reports.append(json.loads(line))
            except ValueError:
                continue
    if not any(r.get("class") == "VERSION" for r in reports):
        err = proc.stderr.decode("utf-8", "replace").strip()[-500:]
        raise RuntimeError(f"{path.name}: gpsd never answered (gpsfake exit {proc.returncode}): {err}")
    return reports


def epochs(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """gpsd's fixes: TPV reports with mode >= 2 and a position, grouped by time.

    gpsd sends a TPV after each sentence that completes something, so one epoch can have
    several, and when a receiver's sentences disagree (GGA and RMC at different
    resolutions, two talkers) their positions differ: every distinct position and
    height of the epoch is kept, in order.  Reports without a time keep their positions.
    An epoch with a GST report of its time gets ``gst``: gpsd's standard deviations of
    latitude, longitude and altitude error (its ``lat``, ``lon``, ``alt``; null if absent).
    """
    timed: dict[str, dict[str, Any]] = {}
    untimed: list[list[float]] = []
    pending: list[float] | None = None  # an untimed position not yet known to be an epoch
    gst: dict[str, list[float | None]] = {}
    for r in reports:
        if r.get("class") == "GST" and "time" in r:
            gst.setdefault(r["time"], [r.get("lat"), r.get("lon"), r.get("alt")])
        if r.get("class") != "TPV" or r.get("mode", 0) < 2 or "lat" not in r or "lon" not in r:
            continue
        pos = [r["lat"], r["lon"]]
        if "time" not in r:
            if pending is not None and pending != pos and pending not in untimed:
                untimed.append(pending)
            pending = pos
            continue
        # A GGA before the epoch's RMC: gpsd reports the position untimed, then again
        # with the RMC's date.  One epoch, not two.
        if pending is not None and pending != pos and pending not in untimed:
            untimed.append(pending)
        pending = None
        e = timed.setdefault(r["time"], {"time": r["time"], "mode": 0, "positions": [], "heights": []})
        e["mode"] = max(e["mode"], r["mode"])
        if pos not in e["positions"]:
            e["positions"].append(pos)
        if r["mode"] >= 3 and "altHAE" in r:
            h = [r["altHAE"], r.get("altMSL")]
            if h not in e["heights"]:
                e["heights"].append(h)
    if pending is not None and pending not in untimed:
        untimed.append(pending)
    for e in timed.values():
        if e["time"] in gst:
            e["gst"] = gst[e["time"]]
    release = next((r.get("release") for r in reports if r.get("class") == "VERSION"), None)
    return {"gpsd": release, "epochs": list(timed.values()), "untimed": untimed}


def dump(result: dict[str, Any]) -> str:
    """The stored form: one epoch per line, so a regenerated file diffs line by line."""
    head = {k: v for k, v in result.items() if k != "epochs"}
    lines = [json.dumps(e, sort_keys=True) for e in result["epochs"]]
    body = ",\n".join(lines)
    return json.dumps(head, sort_keys=True)[:-1] + ', "epochs": [\n' + body + "\n]}\n"


# gpsd 3.22 moves every date before 2017 forward by 1024 GPS weeks (gpsd/timebase.c,
# gpsd_utc_resolve: its build's leap-second count, 18, "cannot" go with an older date).
# Its regression logs were all recorded before its release (2021-01-08), so a time it
# reports after that is one it moved: undone here to get the time the receiver sent.
GPS_ROLLOVER_S = 1024 * 7 * 86400
GPSD_RELEASE = datetime.datetime(2021, 1, 8, tzinfo=datetime.UTC).timestamp()


def receiver_time(iso: str, corpus: bool = True) -> float:
    """gpsd's TPV time → unix seconds as the receiver sent it (see GPS_ROLLOVER_S).

    ``corpus=False`` for recordings made now (the simulator's), which gpsd leaves alone.
    """
    t = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    return t - GPS_ROLLOVER_S if corpus and t > GPSD_RELEASE else t


@dataclass
class Comparison:
    """sepmon's fixes of one file against gpsd's epochs."""

    gpsd: int = 0  # gpsd's epochs: timed ones plus untimed positions
    matched: int = 0  # gpsd epochs sepmon has, at the same time (or position, for untimed)
    missing: list[str] = field(default_factory=list)  # gpsd times sepmon lacks
    extra: list[float] = field(default_factory=list)  # sepmon times gpsd has no epoch for
    bad_position: list[str] = field(default_factory=list)
    bad_height: list[str] = field(default_factory=list)
    untimed_left: int = 0  # positions gpsd reported without a time that sepmon has no fix at


def compare(expected: dict[str, Any], rows: list[dict[str, str]], corpus: bool = True) -> Comparison:
    """Compare ``sepmon analyze --tracks`` rows of one source with gpsd's stored epochs.

    Same epochs: every gpsd time is a sepmon fix time.  Positions within 1e-6 degrees of
    one gpsd reported for that time.  Heights within 0.1 m: sepmon's ``alt_m`` is the
    ellipsoid height, GGA altitude + the receiver's geoid separation, which is gpsd's
    ``altHAE``; a receiver that sends no separation gets one from gpsd's own geoid
    model while sepmon counts 0 (docs/design.md), so there sepmon's height is gpsd's
    ``altMSL``.  A sepmon fix at a time gpsd has none for counts as matched when its
    position is one gpsd reported without a time (gpsd had no date yet).
    """
    c = Comparison()
    fixes: dict[float, dict[str, str]] = {}
    for r in rows:
        t = float(r["t"])
        if t in fixes:
            c.extra.append(t)  # a second fix at one time (the receiver's time stepped back)
        else:
            fixes[t] = r
    untimed = [tuple(p) for p in expected["untimed"]]
    c.gpsd = len(expected["epochs"]) + len(untimed)
    seen: set[float] = set()
    for e in expected["epochs"]:
        t = receiver_time(e["time"], corpus)
        r = fixes.get(round(t, 3))
        if r is None:
            c.missing.append(e["time"])
            continue
        seen.add(round(t, 3))
        c.matched += 1
        lat, lon = float(r["lat"]), float(r["lon"])
        if not any(abs(lat - a) <= 1e-6 and abs(lon - b) <= 1e-6 for a, b in e["positions"]):
            c.bad_position.append(e["time"])
        if r["alt_m"] and e["heights"]:
            h = float(r["alt_m"])
            if not any(abs(h - v) <= 0.1 for pair in e["heights"] for v in pair if v is not None):
                c.bad_height.append(e["time"])
    for t, r in fixes.items():
        if t in seen:
            continue
        pos = (float(r["lat"]), float(r["lon"]))
        hit = next((u for u in untimed if abs(u[0] - pos[0]) <= 1e-6 and abs(u[1] - pos[1]) <= 1e-6), None)
        if hit is not None:
            untimed.remove(hit)
            c.matched += 1
        else:
            c.extra.append(t)
    c.untimed_left = len(untimed)
    return c


def find_tools() -> tuple[str, str] | None:
    """(gpsfake, gpsd) as the gpsd integration tests find them, or None when missing."""
    try:
        return _tools()
    except pytest.skip.Exception:
        return None


def run_oracle(files: list[Path], gpsfake: str, gpsd: str, jobs: int = 2) -> dict[str, dict[str, Any]]:
    """gpsd's epochs for each file (by file name), ``jobs`` gpsd instances at a time."""

    def one(path: Path) -> tuple[str, dict[str, Any]]:
        # gpsfake gives up when gpsd is slow to listen (a loaded machine) or a port was
        # taken meanwhile: then again, on a new port.
        for attempt in range(3):
            try:
                return path.name, epochs(gpsd_reports(path, gpsfake, gpsd, _free_port()))
            except RuntimeError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(jobs) as pool:
        return dict(pool.map(one, files))


def main(argv: list[str]) -> int:
    tools = find_tools()
    if tools is None:
        print("gpsd and gpsfake (Debian packages gpsd, gpsd-clients) are not installed", file=sys.stderr)
        return 2
    files = [Path(a).resolve() for a in argv] or corpus_files()
    EXPECTED.mkdir(exist_ok=True)
    for name, result in sorted(run_oracle(files, *tools).items()):
        out = EXPECTED / (Path(name).stem + ".json")
        out.write_text(dump(result), encoding="utf-8")
        print(f"{name}: {len(result['epochs'])} epochs, {len(result['untimed'])} untimed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
