"""Common atheris entry point: instrument sepmon + firmware, run one target, record RSS.

A target script calls :func:`main` with its name; ``fuzz/run.py`` starts each
target script as its own process with libFuzzer flags (time budget, corpus
directories, dictionary) and reads the RSS samples written to the file named by
``SEPMON_FUZZ_STATS``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import atheris

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

RSS_EVERY = 20_000
INSTRUMENT = {
    "ingest": [
        "sepmon.core.framing",
        "sepmon.core.ingest",
        "sepmon.core.epoch",
        "sepmon.core.nmea",
        "sepmon.core.tagblock",
    ],
    "protocol": ["sepmon.boardlink.protocol", "sepmon.core.checksum", "sepmon_fw"],
    "config": ["sepmon.core.config", "sepmon.links.sources"],
    "mqtt": ["sepmon.core.mqttcodec"],
}
"""The modules whose coverage guides each target (instrumenting less keeps the harness fast)."""


def vm_status() -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of this process in kB, from /proc/self/status."""
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    return out


def main(target: str) -> None:
    """Fuzz ``fuzzlib.ONE[target]`` with atheris; libFuzzer flags come from sys.argv."""
    with atheris.instrument_imports(include=INSTRUMENT[target]):
        import fuzzlib
    one: Callable[[bytes], None] = fuzzlib.ONE[target]
    stats_path = os.environ.get("SEPMON_FUZZ_STATS")
    samples: list[dict[str, int]] = []
    count = 0

    def record() -> None:
        s = vm_status()
        s["inputs"] = count
        samples.append(s)
        if stats_path:
            Path(stats_path).write_text(json.dumps({"target": target, "samples": samples}))

    def test_one_input(data: bytes) -> None:
        nonlocal count
        count += 1
        if count == 1 or count % RSS_EVERY == 0:
            record()
        one(data)

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
