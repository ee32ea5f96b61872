"""Run every benchmark (each in its own process) and print one table.

Each runs single-core and single-threaded, except latency and web: the real daemon on the machine's cores.

    python bench/run.py                 # core, ingest, memory, latency, fw_heap (~9 min; corpus cached)
    python bench/run.py core memory     # only some
    python bench/run.py --memory-minutes=60   # the full accelerated hour (about half an hour here)

Absolute times depend on what else the shared machine is doing: read the ratios.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import THREAD_VARS, Row, print_table

HERE = Path(__file__).resolve().parent
BENCHES = ("core", "ingest", "memory", "latency", "fw_heap", "web")


def run(name: str, extra: list[str]) -> list[Row]:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = "1"  # before numpy is imported in the child
    cmd = [sys.executable, str(HERE / f"{name}.py"), "--json", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=False)
    print(f"[{name}: {time.perf_counter() - t0:.0f} s]", file=sys.stderr, flush=True)
    if proc.returncode != 0:
        return [Row(metric=f"{name} benchmark", value=f"FAILED (exit {proc.returncode})", met=False)]
    return [Row(**json.loads(line[4:])) for line in proc.stdout.splitlines() if line.startswith("ROW ")]


def main() -> int:
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or list(BENCHES)
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    extra = {
        "memory": [
            f"--minutes={a.split('=', 1)[1]}" for a in sys.argv[1:] if a.startswith("--memory-minutes=")
        ]
    }
    rows: list[Row] = []
    load0 = os.getloadavg()[0]
    for name in names:
        rows += run(name, extra.get(name, []))
    print()
    print_table(rows)
    # Other processes on the pinned core slow every figure: say how busy the machine was.
    print(f"\nload average (1 min): {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end")
    return 1 if any(r.met is False and r.value.startswith("FAILED") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
