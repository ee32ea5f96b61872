"""Heap: after warm-up, forwarding GPS lines (and the 1 s status, the 10 s identity) allocates nothing.

Measured inside MicroPython with the heap locked (``micropython.heap_lock``):
any allocation would raise MemoryError inside ``step``, which counts it in
``errors``; ``gc.mem_free()`` before and after must be equal.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import scenarios

HERE = Path(__file__).resolve().parent


def test_forwarding_allocates_nothing_in_micropython() -> None:
    mpguest = pytest.importorskip("mpguest")
    g = mpguest.Guest()
    try:
        for path, data in mpguest.firmware_files(include_main=False).items():
            g.put(path, data)
        g.put("heap_probe.py", (HERE / "heap_probe.py").read_bytes())
        free_boot = int(g.run("import gc; print(gc.mem_free())"))
        g.run("import sepmon_fw.app")
        free_imported = int(g.run("print(gc.mem_free())"))
        block = scenarios.GGA + scenarios.RMC
        out = g.run(f"import heap_probe\nprint(repr(heap_probe.measure({block!r}, 20, 200)))")
        r = ast.literal_eval(out.strip())
    finally:
        g.close()
    print(
        f"\nMicroPython heap: firmware import (compiled from source) {free_boot - free_imported} bytes; "
        f"one Board {r['board_bytes']} bytes; "
        f"{r['lines']} lines forwarded over {r['uptime'] // 1000} s with the heap locked: "
        f"{r['free_before'] - r['free_after']} bytes allocated"
    )
    assert r["errors"] == 0, "something allocated with the heap locked"
    assert r["lines"] == 400
    # status (1 s) and identity (10 s) sentences went out in the locked window too
    assert r["uptime"] > 20_000
    assert r["bytes_out"] >= 200 * len(scenarios.GGA + scenarios.RMC) + 20 * 30
    assert r["errors"] == 0 and r["dropped"] == 0
    assert r["free_before"] == r["free_after"]


def test_heap_lock_really_catches_allocation() -> None:
    """The probe would notice: an allocating step under heap_lock shows up as an error."""
    mpguest = pytest.importorskip("mpguest")
    g = mpguest.Guest()
    try:
        for path, data in mpguest.firmware_files(include_main=False).items():
            g.put(path, data)
        g.put("heap_probe.py", (HERE / "heap_probe.py").read_bytes())
        block = scenarios.GGA
        out = g.run(
            "import heap_probe\n"
            "from sepmon_fw import app\n"
            "_orig = app.Board.on_gps_line\n"
            "def _alloc(self, buf, n):\n"
            "    self.junk = bytes(buf[:n])\n"
            "    _orig(self, buf, n)\n"
            "app.Board.on_gps_line = _alloc\n"
            f"print(repr(heap_probe.measure({block!r}, 2, 5)))"
        )
        r = ast.literal_eval(out.strip())
    finally:
        g.close()
    assert r["errors"] > 0
