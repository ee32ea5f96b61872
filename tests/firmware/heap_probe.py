"""Runs inside MicroPython (and CPython): heap use of the firmware's forwarding and command paths.

``measure(block, warm_blocks, blocks, warm_cmds, cmds)`` warms a Board up on
allocation-free fake hardware, then forwards ``block`` ``blocks`` times with
the heap locked (any allocation would raise MemoryError inside ``step`` and be
counted in ``errors``), and reports ``gc.mem_free()`` before and after. Host
commands (``$PSEPA``/``$PSEPT`` lines, one every ``cmd_every`` ms) go in over
the USB side: ``warm_cmds`` during the warm-up, ``cmds`` while locked.
"""

import gc

try:
    import micropython
except ImportError:
    micropython = None

from sepmon_fw.app import Board
from sepmon_fw.compat import ticks_add, ticks_diff
from sepmon_fw.patterns import PATTERNS


class QuietHW:
    def __init__(self, data, cmds=(), cmd_every=1000):
        self.data = data
        self.pos = 0
        self.now = 0
        self.written = 0
        self.feeds = 0
        self.cmds = cmds
        self.cmd_every = cmd_every
        self.ci = 0  # command being sent
        self.cpos = 0  # bytes of it sent
        self.next_cmd = 0
        self.gps_tx = 0  # bytes sent to the GPS (receiver set-up)
        self.bauds = 0  # UART baud changes

    def uart_read(self, buf):
        n = len(self.data) - self.pos
        if n > len(buf):
            n = len(buf)
        i = 0
        p = self.pos
        while i < n:
            buf[i] = self.data[p + i]
            i += 1
        self.pos = p + n
        return n

    def usb_read(self, buf):
        if self.ci >= len(self.cmds) or ticks_diff(self.now, self.next_cmd) < 0:
            return 0
        c = self.cmds[self.ci]
        n = len(c) - self.cpos
        if n > len(buf):
            n = len(buf)
        i = 0
        p = self.cpos
        while i < n:
            buf[i] = c[p + i]
            i += 1
        self.cpos = p + n
        if self.cpos == len(c):
            self.ci += 1
            self.cpos = 0
            self.next_cmd = ticks_add(self.now, self.cmd_every)
        return n

    def usb_write(self, buf, n):
        self.written += n
        return n

    def uart_write(self, buf):
        self.gps_tx += len(buf)
        return len(buf)

    def uart_baud(self, baud):
        self.bauds += 1

    def buzzer(self, freq, duty):
        pass

    def led(self, on):
        pass

    def ticks_ms(self):
        return self.now

    def mem_free(self):
        return 1000

    def wdt_feed(self):
        self.feeds += 1

    def board_id(self):
        return "heap"


def free():
    f = getattr(gc, "mem_free", None)
    return f() if f else 0


def measure(
    block, warm_blocks, blocks, warm_cmds=(), cmds=(), cmd_every=1000, start_ms=0, uptime_s=0, gnss=""
):
    """``start_ms``: the clock at boot (ticks wrap at 2**30); ``uptime_s``: uptime set after the
    warm-up; ``gnss``: a receiver set-up preset, started again when the heap is locked."""
    hw = QuietHW(block * (warm_blocks + blocks), warm_cmds, 50)
    hw.now = start_ms
    f_start = free()
    b = Board(hw, "pico", gnss=gnss)
    f_board = free()
    step = b.step
    # warm-up: every code path of forwarding, status and identity (and the commands) runs once
    while hw.pos < len(block) * warm_blocks or hw.ci < len(hw.cmds) or (b.gnss is not None and b.gnss.i >= 0):
        hw.now = ticks_add(hw.now, 50)
        step(hw.now)
    hw.cmds = cmds
    hw.cmd_every = cmd_every
    hw.ci = 0
    hw.next_cmd = hw.now
    fwd0 = b.lines_fwd
    sent0 = hw.written
    ok0 = b.cmds_ok
    bad0 = b.cmds_ignored
    seen = {}
    for name in PATTERNS:
        seen[name] = 0
    last = b.pattern
    if uptime_s:
        b.uptime_s = uptime_s
    gnss_runs = 0
    gps_tx0 = hw.gps_tx
    if b.gnss is not None:
        gnss_runs = b.gnss.runs
        b.gnss.start(hw.now)
    now0 = hw.now
    f0 = free()
    if micropython is not None:
        micropython.heap_lock()
    try:
        while hw.pos < len(hw.data):
            hw.now = ticks_add(hw.now, 50)
            step(hw.now)
            if b.pattern is not last:
                last = b.pattern
                seen[last] += 1
    finally:
        if micropython is not None:
            micropython.heap_unlock()
    f1 = free()
    return {
        "board_bytes": f_start - f_board,
        "lines": b.lines_fwd - fwd0,
        "free_before": f0,
        "free_after": f1,
        "errors": b.errors,
        "dropped": b.lines_dropped,
        "uptime": b.uptime,
        "uptime_s": b.uptime_s,
        "clock": [now0, hw.now],
        "gnss_runs": (b.gnss.runs - gnss_runs) if b.gnss is not None else 0,
        "gps_tx": hw.gps_tx - gps_tx0,
        "bytes_out": hw.written - sent0,
        "cmds_sent": hw.ci,
        "cmds_ok": b.cmds_ok - ok0,
        "cmds_ignored": b.cmds_ignored - bad0,
        "patterns": [k for k in PATTERNS if seen[k]],
    }
