"""Heap: after warm-up, forwarding GPS lines (and the 1 s status, the 10 s identity) allocates nothing,
and neither do the host's commands (``$PSEPA`` with and without flags, ``$PSEPT``, rejected lines).

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


def _commands() -> tuple[tuple[bytes, ...], tuple[bytes, ...], int, int]:
    """(warm-up commands, locked-window commands, how many the board takes, how many it ignores)."""
    nmea = scenarios.nmea
    flags = (None, "", "N", "L", "NL", "QX", "LN")  # None: the 5-field form
    levels = (0, 0, 1, 0, 2, 0, 3, 0)
    alerts = []
    for i in range(21):
        lv = levels[i % len(levels)]
        f = flags[i % len(flags)]
        where = ",," if lv == 0 else ",90,1500.5"
        alerts.append(nmea(f"PSEPA,{60000 + i},{lv}{where},3000" + ("" if f is None else "," + f)))
    bad = nmea("PSEPA,7,0,,,3000,N")
    rejected = [bad[:-4] + b"00\r\n", nmea("PSEPT,disco"), nmea("PSEPA,7,0,,,3000,n")]
    tests = [nmea("PSEPT,degraded"), nmea("PSEPT,all")]
    warm = (*alerts[:7], *rejected, tests[0], nmea("PSEPT,all"), nmea("PSEPT,clear"))
    locked = alerts[:10] + rejected[:2] + tests[:1] + alerts[10:] + rejected[2:] + tests[1:]
    return warm, tuple(locked), len(alerts) + len(tests), len(rejected)


def test_commands_allocate_nothing_in_micropython() -> None:
    mpguest = pytest.importorskip("mpguest")
    warm, locked, n_ok, n_bad = _commands()
    g = mpguest.Guest()
    try:
        for path, data in mpguest.firmware_files(include_main=False).items():
            g.put(path, data)
        g.put("heap_probe.py", (HERE / "heap_probe.py").read_bytes())
        block = scenarios.GGA + scenarios.RMC
        call = f"heap_probe.measure({block!r}, 20, 200, {warm!r}, {locked!r}, 700)"
        out = g.run(f"import heap_probe\nprint(repr({call}))")
        r = ast.literal_eval(out.strip())
    finally:
        g.close()
    print(
        f"\nMicroPython heap: {r['cmds_sent']} host commands ($PSEPA with flags, $PSEPT, rejected "
        f"lines) and {r['lines']} GPS lines with the heap locked: "
        f"{r['free_before'] - r['free_after']} bytes allocated"
    )
    assert r["errors"] == 0, "something allocated with the heap locked"
    assert r["cmds_sent"] == len(locked)
    assert (r["cmds_ok"], r["cmds_ignored"]) == (n_ok, n_bad)
    # every pattern the commands lead to was switched to with the heap locked
    assert set(r["patterns"]) >= {"clear", "advisory", "caution", "warning", "degraded"}
    assert r["lines"] == 400 and r["dropped"] == 0
    assert r["free_before"] == r["free_after"]


def test_command_probe_in_cpython() -> None:
    """The same probe under CPython (no heap lock): the commands do what the heap test assumes."""
    import heap_probe

    warm, locked, n_ok, n_bad = _commands()
    r = heap_probe.measure(scenarios.GGA + scenarios.RMC, 20, 200, warm, locked, 700)
    assert r["errors"] == 0 and r["cmds_sent"] == len(locked)
    assert (r["cmds_ok"], r["cmds_ignored"]) == (n_ok, n_bad)
    assert set(r["patterns"]) >= {"clear", "advisory", "caution", "warning", "degraded"}


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


def test_heap_lock_sees_the_command_path() -> None:
    """Commands really run in the locked window: the allocating decoder there shows up as errors."""
    mpguest = pytest.importorskip("mpguest")
    warm, locked, _, _ = _commands()
    g = mpguest.Guest()
    try:
        for path, data in mpguest.firmware_files(include_main=False).items():
            g.put(path, data)
        g.put("heap_probe.py", (HERE / "heap_probe.py").read_bytes())
        block = scenarios.GGA + scenarios.RMC
        out = g.run(
            "import heap_probe\n"
            "from sepmon_fw import app, nmea\n"
            "def _tuple_parse(buf, n, out):\n"
            "    r = nmea.decode_command(buf, n)\n"  # builds a list and a tuple per command
            "    return nmea.parse_command(buf, n, out)\n"
            "app.parse_command = _tuple_parse\n"
            f"print(repr(heap_probe.measure({block!r}, 2, 20, {warm!r}, {locked[:3]!r}, 100)))"
        )
        r = ast.literal_eval(out.strip())
    finally:
        g.close()
    assert r["errors"] == 3


def test_past_the_wraps_and_gps_setup_allocate_nothing_in_micropython() -> None:
    """Issue 16 items 4 and 8: the loop runs past 2**30 ms of uptime (where the old counter became
    a long integer: every step allocated) and past the ticks_ms wrap, and sends the whole
    receiver set-up (u-blox, 5 Hz airborne: 11 UBX messages, three baud changes), all with the
    heap locked.

    Oracle: MicroPython's heap lock (any allocation raises MemoryError) and gc.mem_free();
    the wrap points are MicroPython's: small ints end at 2**30 - 1, ticks wrap at 2**30.
    """
    mpguest = pytest.importorskip("mpguest")
    g = mpguest.Guest()
    try:
        for path, data in mpguest.firmware_files(include_main=False).items():
            g.put(path, data)
        g.put("heap_probe.py", (HERE / "heap_probe.py").read_bytes())
        block = scenarios.GGA + scenarios.RMC
        # boot 20 s before the ticks wrap; uptime set to 1 073 735 000 ms (6.8 s below 2**30)
        # when the heap is locked; 400 blocks at 50 ms: 20 s locked
        call = (
            f"heap_probe.measure({block!r}, 20, 400, start_ms={(1 << 30) - 20_000}, "
            "uptime_s=1073735, gnss='ublox-airborne-5hz')"
        )
        out = g.run(f"import heap_probe\nprint(repr({call}))")
        r = ast.literal_eval(out.strip())
        # the old code allocated here: its uptime counter crossed 2**30 in the locked window
        g2 = mpguest.Guest()
        try:
            for path, data in mpguest.firmware_files(include_main=False).items():
                g2.put(path, data)
            g2.put("heap_probe.py", (HERE / "heap_probe.py").read_bytes())
            old = g2.run(
                "import heap_probe\nfrom sepmon_fw import app\n"
                "class Old(app.Board):\n"
                "    def send_status(self):\n"
                "        self.old_uptime = self.uptime_s * 1000 + self.uptime_ms\n"  # one ms counter
                "        app.Board.send_status(self)\n"
                "heap_probe.Board = Old\n"
                f"print(repr({call}))"
            )
            r_old = ast.literal_eval(old.strip())
        finally:
            g2.close()
    finally:
        g.close()
    print(
        f"\nMicroPython heap: {r['lines']} lines over the uptime and ticks wraps with the receiver "
        f"set-up ({r['gps_tx']} bytes to the GPS), heap locked: {r['free_before'] - r['free_after']} bytes"
    )
    assert r["errors"] == 0, "something allocated with the heap locked"
    assert r["lines"] == 800 and r["dropped"] == 0
    assert r["uptime"] > 1 << 30  # past the small-int end
    c0, c1 = r["clock"]
    assert c0 > c1  # ticks wrapped inside the locked window
    # CFG-PRT x3, CFG-MSG x6, CFG-RATE, CFG-NAV5 (frame = 8 bytes + payload)
    assert r["gnss_runs"] == 1 and r["gps_tx"] == 28 * 3 + 16 * 6 + 14 + 44
    assert r["free_before"] == r["free_after"]
    assert r_old["errors"] > 0  # control: a ms counter past 2**30 allocates, and the lock sees it
