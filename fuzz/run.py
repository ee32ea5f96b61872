"""Run every fuzz target for a time budget; report inputs, crashes, hangs and peak RSS.

Usage::

    python fuzz/run.py                      # all targets, 300 s each (about 20 min)
    python fuzz/run.py --time 30 ingest     # one target, 30 s
    python fuzz/run.py --engine random      # without atheris: seeded random mutation

Each target runs as its own atheris/libFuzzer process (``fuzz/fuzz_<target>.py``)
at lowered priority, seeded with ``fuzzlib.seeds(target)`` plus the saved
crashers in ``tests/data/fuzz/<target>/``; its working corpus and artifacts live
under ``out/fuzz/<target>/``.  A crash or a hang (an input running longer than
``--hang`` seconds) stops that target; the input is minimized and written to
``out/fuzz/<target>/minimized-*`` (copy it to ``tests/data/fuzz/<target>/`` to make it
a regression case of the bounded tests).  Memory: each harness samples VmRSS every
20,000 inputs; the run fails when RSS grows by more than ``--rss-growth-mb`` after
warm-up or the peak passes ``--rss-limit-mb``.

Exit status 0 only when no target crashed, hung or grew; the summary goes to
stdout and ``out/fuzz/summary.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fuzzlib  # noqa: E402

TARGETS = ("ingest", "protocol", "config", "mqtt")
MAX_LEN = {"ingest": 2048, "protocol": 256, "config": 2048, "mqtt": 1024}
OUT = fuzzlib.ROOT / "out" / "fuzz"


def _write_seeds(target: str, d: Path) -> int:
    d.mkdir(parents=True, exist_ok=True)
    items = fuzzlib.seeds(target) + fuzzlib.crashers(target)
    for data in items:
        (d / hashlib.sha1(data).hexdigest()).write_bytes(data)
    return len(items)


def _fails(one: Callable[[bytes], None], data: bytes) -> str | None:
    """The exception type and innermost frame ``one(data)`` fails with, None when it passes."""
    try:
        one(data)
    except Exception as exc:
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        return f"{type(exc).__name__} at {Path(tb.filename).name}:{tb.lineno}"
    return None


def minimize(one: Callable[[bytes], None], data: bytes, budget_s: float = 30.0) -> bytes:
    """Shrink ``data`` while ``one`` still fails the same way (delta debugging on bytes)."""
    sig = _fails(one, data)
    if sig is None:
        return data
    deadline = time.monotonic() + budget_s
    n = 2
    while len(data) >= 2 and time.monotonic() < deadline:
        step = max(1, len(data) // n)
        for i in range(0, len(data), step):
            cand = data[:i] + data[i + step :]
            if _fails(one, cand) == sig:
                data, n = cand, max(n - 1, 2)
                break
        else:
            if step == 1:
                break
            n = min(n * 2, len(data))
    return data


def _rss(stats_file: Path) -> dict[str, object]:
    if not stats_file.exists():
        return {}
    samples = json.loads(stats_file.read_text())["samples"]
    rss = [s["VmRSS"] // 1024 for s in samples]
    warm = rss[min(2, len(rss) - 1)] if rss else 0
    return {
        "rss_first_mb": rss[0] if rss else 0,
        "rss_last_mb": rss[-1] if rss else 0,
        "rss_peak_mb": max(s["VmHWM"] for s in samples) // 1024 if samples else 0,
        "rss_growth_mb": (rss[-1] - warm) if rss else 0,
        "samples": len(samples),
    }


def run_atheris(target: str, budget: int, args: argparse.Namespace) -> dict[str, object]:
    """One libFuzzer process for ``target``; parses its final statistics."""
    base = OUT / target
    corpus, seeds, artifacts = base / "corpus", base / "seeds", base / "artifacts"
    for d in (corpus, artifacts):
        d.mkdir(parents=True, exist_ok=True)
    n_seeds = _write_seeds(target, seeds)
    stats_file = base / "rss.json"
    stats_file.unlink(missing_ok=True)
    log = base / "libfuzzer.log"
    cmd = [
        sys.executable,
        str(HERE / f"fuzz_{target}.py"),
        f"-max_total_time={budget}",
        f"-timeout={args.hang}",
        f"-rss_limit_mb={args.rss_limit_mb}",
        f"-max_len={MAX_LEN[target]}",
        f"-dict={HERE / 'nmea.dict'}",
        f"-artifact_prefix={artifacts}/",
        f"-seed={args.seed}",
        "-print_final_stats=1",
        str(corpus),
        str(seeds),
    ]
    env = dict(os.environ, SEPMON_FUZZ_STATS=str(stats_file))
    before = set(artifacts.iterdir())
    t0 = time.monotonic()
    with log.open("w") as fh:
        rc = subprocess.call(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, preexec_fn=lambda: os.nice(args.nice)
        )
    elapsed = time.monotonic() - t0
    text = log.read_text(errors="replace")
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", text) or re.search(r"Done (\d+) runs", text)
    runs = int(m.group(1)) if m else 0
    if not m:  # stopped by a crash: the last status line has the count
        counts = re.findall(r"^#(\d+)\s", text, re.M)
        runs = int(counts[-1]) if counts else 0
    new = sorted(set(artifacts.iterdir()) - before)
    result: dict[str, object] = {
        "target": target,
        "engine": "atheris",
        "inputs": runs,
        "seconds": round(elapsed, 1),
        "seeds": n_seeds,
        "corpus": len(list(corpus.iterdir())),
        "exit": rc,
        "crashes": [p.name for p in new if p.name.startswith(("crash-", "oom-"))],
        "hangs": [p.name for p in new if p.name.startswith(("timeout-", "slow-unit-"))],
    }
    result.update(_rss(stats_file))
    for p in new:
        if p.name.startswith("crash-"):
            small = minimize(fuzzlib.ONE[target], p.read_bytes())
            dest = base / f"minimized-{hashlib.sha1(small).hexdigest()[:12]}"
            dest.write_bytes(small)
            result.setdefault("minimized", []).append(  # type: ignore[union-attr]
                {"file": str(dest.relative_to(fuzzlib.ROOT)), "why": _fails(fuzzlib.ONE[target], small)}
            )
    return result


def _mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        pos = rng.randint(0, len(buf))
        op = rng.randrange(6)
        if op == 0:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op == 1:
            del buf[pos : pos + rng.randint(1, 40)]
        elif op == 2 and pos < len(buf):
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == 3:
            other = rng.choice(pool)
            a = rng.randint(0, len(other))
            buf[pos:pos] = other[a : a + rng.randint(1, 200)]
        elif op == 4:
            buf[pos:pos] = rng.choice((b"\x00", b"$", b"*", b"\\", b"\r\n", b",", b"\xff")) * rng.randint(
                1, 3
            )
        else:
            buf[pos:pos] = buf[pos : pos + rng.randint(1, 64)] * rng.randint(2, 20)
    return bytes(buf[:MAX_LEN_RANDOM])


MAX_LEN_RANDOM = 4096


def run_random(target: str, budget: int, args: argparse.Namespace) -> dict[str, object]:
    """Fallback engine without atheris: seeded mutation of the seed corpus, in process."""
    one = fuzzlib.ONE[target]
    pool = fuzzlib.seeds(target) + fuzzlib.crashers(target)
    rng = random.Random(f"{args.seed}:{target}")
    t0 = time.monotonic()
    runs, crashes = 0, []
    rss0 = None
    while time.monotonic() - t0 < budget:
        data = _mutate(rng, rng.choice(pool), pool)
        runs += 1
        if _fails(one, data) is not None:
            small = minimize(one, data)
            dest = OUT / target / f"minimized-{hashlib.sha1(small).hexdigest()[:12]}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(small)
            crashes.append({"file": str(dest.relative_to(fuzzlib.ROOT)), "why": _fails(one, small)})
            break
        if runs % 20_000 == 0 and rss0 is None:
            rss0 = _vm()["VmRSS"]
    vm = _vm()
    return {
        "target": target,
        "engine": "random",
        "inputs": runs,
        "seconds": round(time.monotonic() - t0, 1),
        "crashes": [c["file"] for c in crashes],
        "minimized": crashes,
        "hangs": [],
        "rss_last_mb": vm["VmRSS"] // 1024,
        "rss_peak_mb": vm["VmHWM"] // 1024,
        "rss_growth_mb": (vm["VmRSS"] - (rss0 or vm["VmRSS"])) // 1024,
    }


def _vm() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the campaign; 0 when nothing crashed, hung or grew."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="*", help=f"some of {', '.join(TARGETS)} (default: all)")
    ap.add_argument("--time", type=int, default=300, help="seconds per target (default 300)")
    ap.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hang", type=int, default=10, help="seconds for one input to count as a hang")
    ap.add_argument("--nice", type=int, default=10)
    ap.add_argument("--rss-limit-mb", type=int, default=1024)
    ap.add_argument("--rss-growth-mb", type=int, default=128)
    ap.add_argument("--min-total", type=int, default=0, help="fail when fewer inputs ran in total")
    args = ap.parse_args(argv)
    args.targets = args.targets or list(TARGETS)
    for t in args.targets:
        if t not in TARGETS:
            ap.error(f"unknown target {t!r}")
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
        except ImportError:
            print("atheris is not installed: falling back to seeded random mutation", file=sys.stderr)
            engine = "random"
        else:
            engine = "atheris"
    if engine == "random":
        os.nice(args.nice)
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for target in args.targets:
        print(f"fuzz {target}: {args.time} s ({engine})", flush=True)
        r = (run_atheris if engine == "atheris" else run_random)(target, args.time, args)
        results.append(r)
        print(
            f"  {r['inputs']:>10,} inputs  {len(r['crashes'])} crashes  {len(r['hangs'])} hangs  "  # type: ignore[arg-type]
            f"RSS peak {r.get('rss_peak_mb', '?')} MB, growth {r.get('rss_growth_mb', '?')} MB",
            flush=True,
        )
        for m in r.get("minimized", []):  # type: ignore[attr-defined]
            print(f"  crasher {m['file']}: {m['why']}", flush=True)
    total = sum(int(r["inputs"]) for r in results)  # type: ignore[call-overload]
    bad = [
        r["target"]
        for r in results
        if r["crashes"]
        or r["hangs"]
        or int(r.get("rss_growth_mb", 0)) > args.rss_growth_mb  # type: ignore[call-overload]
        or int(r.get("rss_peak_mb", 0)) > args.rss_limit_mb  # type: ignore[call-overload]
    ]
    summary = {"engine": engine, "total_inputs": total, "failed": bad, "targets": results}
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"total {total:,} inputs; {'FAILED: ' + ', '.join(bad) if bad else 'no crash, hang or growth'}")
    if args.min_total and total < args.min_total:
        print(f"fewer than {args.min_total:,} inputs", file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
