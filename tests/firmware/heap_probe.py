"""Runs inside MicroPython (and CPython): heap use of the firmware's forwarding path.

``measure(lines, steps)`` warms a Board up on allocation-free fake hardware,
then forwards ``lines`` with the heap locked (any allocation would raise
MemoryError inside ``step`` and be counted in ``errors``), and reports
``gc.mem_free()`` before and after.
"""

import gc

try:
    import micropython
except ImportError:
    micropython = None

from sepmon_fw.app import Board


class QuietHW:
    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.now = 0
        self.written = 0
        self.feeds = 0

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
        return 0

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
        return 1000

    def wdt_feed(self):
        self.feeds += 1

    def board_id(self):
        return "heap"


def free():
    f = getattr(gc, "mem_free", None)
    return f() if f else 0


def measure(block, warm_blocks, blocks):
    hw = QuietHW(block * (warm_blocks + blocks))
    f_start = free()
    b = Board(hw, "pico")
    f_board = free()
    step = b.step
    # warm-up: every code path of forwarding, status and identity runs once
    while hw.pos < len(block) * warm_blocks:
        hw.now += 50
        step(hw.now)
    fwd0 = b.lines_fwd
    sent0 = hw.written
    f0 = free()
    if micropython is not None:
        micropython.heap_lock()
    try:
        while hw.pos < len(hw.data):
            hw.now += 50
            step(hw.now)
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
        "bytes_out": hw.written - sent0,
    }
