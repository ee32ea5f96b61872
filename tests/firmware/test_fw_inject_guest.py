"""GPS injection scenarios that run unchanged under CPython and inside MicroPython (no tests here).

``test_fw_inject.py`` runs each ``scn_*`` in both interpreters and asserts on the
plain data they return. Kept to syntax and library MicroPython has (no typing, no
f-string debugging, no pytest): this file is copied into the guest as it is.
"""

from sepmon_fw.app import Board
from sepmon_fw.compat import ticks_add
from sepmon_fw.hal import FakeHardware


def nmea(body):
    c = 0
    for b in body.encode():
        c ^= b
    return f"${body}*{c:02X}\r\n".encode()


# the desk: the board's own receiver, somewhere else than any recording
DESK = nmea("GPGGA,120000.00,5200.000,N,00500.000,E,1,08,0.9,10.0,M,46.9,M,,")
# injected: two positions of a recorded vehicle
INJ1 = nmea("GPRMC,100000.00,A,4714.93589,N,01118.31792,E,116.633,69.99,150324,,,A")
INJ2 = nmea("GPGGA,100000.00,4714.93589,N,01118.31792,E,1,10,1.10,1452.6,M,47.0,M,,")


class R:
    """A Board on FakeHardware, stepped every ``every`` ms; ``out`` keeps everything it sent."""

    def __init__(self):
        self.hw = FakeHardware("e6614103e7", 123456)
        self.b = Board(self.hw, "pico")
        self.out = bytearray()

    def run(self, ms, every=10, desk_every=0):
        t = 0
        nxt = 0
        o = bytearray()
        while t < ms:
            if desk_every and t >= nxt:
                self.hw.gps_in(DESK)
                nxt += desk_every
            self.hw.now = ticks_add(self.hw.now, every)
            self.b.step(self.hw.now)
            t += every
            o.extend(self.hw.take_output())
        self.out.extend(o)
        return bytes(o)

    def host(self, data):
        """Send ``data`` from the host and step (1 ms each) until the board has read all of it."""
        self.hw.host_in(data)
        o = bytearray(self.run(1, 1))
        k = 0
        while self.hw.host and k < 100:
            o.extend(self.run(1, 1))
            k += 1
        return bytes(o)


def lines(out, prefix):
    r = []
    for ln in out.split(b"\r\n"):
        if ln.startswith(prefix):
            r.append(ln)
    return r


def scn_enter_use_leave():
    """Desk GPS running; enter, inject, alert at every level, leave by $PSEPG,OFF."""
    r = R()
    res = {}
    r.run(500, desk_every=100)
    o = r.host(nmea("PSEPA,1,0,,,60000"))
    res["before"] = [r.b.pattern, lines(o, b"$PSEPK")]
    r.run(500, desk_every=100)
    # the enter command and the first injected lines arrive in one write (one USB chunk)
    o = r.host(nmea("PSEPG,ON,5000") + INJ1 + INJ2)
    o += r.run(500, desk_every=100)
    res["fwd_in_mode"] = lines(o, b"$GP")
    res["mode"] = [r.b.injecting, r.b.inject_ms, r.b.lines_injected, r.b.uart_ignored > 0]
    res["pattern_in_mode"] = r.b.pattern
    acks = []
    for body in ("2,0,,,60000", "3,1,90,1500,60000", "4,2,90,900,60000"):
        o = r.host(nmea("PSEPA," + body))
        acks.append([lines(o, b"$PSEPK"), r.b.pattern])
    o = r.host(nmea("PSEPA,5,3,90,300,60000") + INJ1)
    acks.append([lines(o, b"$PSEPK"), r.b.pattern])
    o = r.host(nmea("PSEPA,6,0,,,60000,N") + INJ2)
    acks.append([lines(o, b"$PSEPK"), r.b.pattern])
    res["acks"] = acks
    # a self-test still plays in the mode; the ack tells what is shown (the test pattern)
    r.host(nmea("PSEPT,warning"))
    o = r.host(nmea("PSEPA,7,0,,,60000"))
    res["ack_during_selftest"] = lines(o, b"$PSEPK")
    r.run(3100)
    o = r.host(INJ1 + nmea("PSEPA,8,0,,,60000"))
    res["ack_level0"] = lines(o, b"$PSEPK")
    # leave: the next chunk's NMEA is a host line again (ignored), the desk GPS is forwarded
    ign = r.b.cmds_ignored
    o = r.host(nmea("PSEPG,OFF") + INJ2)
    o += r.run(300, desk_every=100)
    res["after_off"] = [r.b.injecting, r.b.inject_ends, r.b.cmds_ignored - ign, lines(o, b"$GP")]
    o = r.host(nmea("PSEPA,9,0,,,60000"))
    res["ack_after"] = [lines(o, b"$PSEPK"), r.b.pattern]
    res["errors"] = r.b.errors
    return res


def scn_timeout():
    """Enter with a 2 s timeout; re-arms keep it; silence ends it: nogps (host on), offline (host gone)."""
    r = R()
    res = {}
    r.host(nmea("PSEPA,1,0,,,60000"))
    r.host(nmea("PSEPG,ON,2000") + INJ1)
    r.run(1500)
    r.host(nmea("PSEPG,KEEP,2000"))  # re-arm without a line (a gap in the recording)
    r.run(1900)
    res["rearmed"] = [r.b.injecting, r.b.pattern]
    r.run(200)
    res["timed_out"] = [r.b.injecting, r.b.inject_ends, r.b.pattern]
    # the last injected line was 3.4 s ago: the GPS is silent, as it is on the desk now
    res["then"] = r.b.pattern
    # the desk GPS is forwarded again
    o = r.run(300, desk_every=100)
    res["desk_fwd"] = len(lines(o, b"$GPGGA"))
    o = r.host(nmea("PSEPA,2,0,,,60000"))
    res["ack"] = [lines(o, b"$PSEPK"), r.b.pattern]
    # host gone, mode timed out: offline
    r2 = R()
    r2.host(nmea("PSEPA,1,0,,,1500"))
    r2.host(nmea("PSEPG,ON,1000") + INJ1)
    r2.run(1100)
    res["no_host"] = [r2.b.injecting, r2.b.pattern]
    r2.run(500)
    res["no_host_later"] = [r2.b.injecting, r2.b.pattern]
    return res


def scn_reset():
    """A reset (a new Board on the same hardware, as main.py builds it at boot) is outside the mode."""
    r = R()
    r.host(nmea("PSEPA,1,0,,,60000"))
    r.host(nmea("PSEPG,ON,60000") + INJ1)
    before = [r.b.injecting, r.b.lines_injected]
    r.b = Board(r.hw, "pico")
    r.hw.take_output()
    o = r.host(nmea("PSEPG,KEEP,60000") + INJ1 + INJ2)  # the host's keep-alive never re-enters
    o += r.run(300, desk_every=100)
    return {
        "before": before,
        "after": [r.b.injecting, r.b.lines_injected, r.b.cmds_ignored],
        "fwd": lines(o, b"$GP"),
    }


def scn_without_enter():
    """NMEA over USB without $PSEPG,ON: host noise, never GPS (and a malformed ON does not enter)."""
    r = R()
    r.host(nmea("PSEPA,1,0,,,60000"))
    o = bytearray()
    bad_on = (
        nmea("PSEPG,ON,0"),
        nmea("PSEPG,ON,60001"),
        nmea("PSEPG,ON,5000.5"),
        nmea("PSEPG,ON,5000,1"),
        nmea("PSEPG,ON,"),
        nmea("PSEPG,on,5000"),
        nmea("PSEPG,OFFX"),
        b"$PSEPG,ON,5000\r\n",  # no checksum
        nmea("PSEPG,ON,5000")[:-4] + b"00\r\n",  # wrong checksum
    )
    for k in range(40):
        if k < len(bad_on):
            r.hw.host_in(bad_on[k])
        r.hw.host_in(INJ1 + INJ2)
        o.extend(r.run(100))
    return {
        "fwd": len(lines(bytes(o), b"$GP")),
        "ignored": r.b.cmds_ignored,
        "injecting": r.b.injecting,
        "lines_fwd": r.b.lines_fwd,
        "pattern": r.b.pattern,
    }


def scn_same_as_uart(recorded, alerts, ms):
    """Two boards on one clock, the same recorded lines and host commands: one gets the lines on
    its GPS UART, the other over USB in injection mode. Pattern per 10 ms step and output.

    ``recorded``: [(t_ms, line bytes)]; ``alerts``: [(t_ms, body of a $PSEPA)].
    """
    u = R()
    j = R()
    j.hw.host_in(nmea("PSEPG,ON,5000"))
    pu = []
    pj = []
    ri = 0
    ai = 0
    t = 0
    rearm = 1000
    while t < ms:
        while ri < len(recorded) and recorded[ri][0] <= t:
            u.hw.gps_in(recorded[ri][1])
            j.hw.host_in(recorded[ri][1])
            ri += 1
        while ai < len(alerts) and alerts[ai][0] <= t:
            a = nmea("PSEPA," + alerts[ai][1])
            u.hw.host_in(a)
            j.hw.host_in(a)
            ai += 1
        if t >= rearm:
            j.hw.host_in(nmea("PSEPG,KEEP,5000"))  # as the host's injector does every second
            rearm += 1000
        u.run(10)
        j.run(10)
        if not pu or pu[-1][1] != u.b.pattern:
            pu.append([t, u.b.pattern])
        if not pj or pj[-1][1] != j.b.pattern:
            pj.append([t, j.b.pattern])
        t += 10
    return {
        "uart": pu,
        "inject": pj,
        "fwd_uart": lines(bytes(u.out), b"$G"),
        "fwd_inject": lines(bytes(j.out), b"$G"),
        "acks_inject": lines(bytes(j.out), b"$PSEPK"),
        "counts": [u.b.lines_fwd, j.b.lines_fwd, u.b.lines_dropped, j.b.lines_dropped, j.b.errors],
        "still": j.b.injecting,
    }


class HeapHW:
    """Allocation-free fake hardware: the USB side serves ``usb`` (commands and injected lines)
    ``per_step`` bytes a step, the UART side the desk receiver (ignored in the mode)."""

    def __init__(self, usb, per_step):
        self.usb = usb
        self.pos = 0
        self.per_step = per_step
        self.now = 0
        self.written = 0
        self.dpos = 0

    def uart_read(self, buf):
        d = DESK
        n = len(buf)
        if n > 8:
            n = 8
        i = 0
        while i < n:
            buf[i] = d[self.dpos]
            self.dpos += 1
            if self.dpos == len(d):
                self.dpos = 0
            i += 1
        return n

    def usb_read(self, buf):
        n = len(self.usb) - self.pos
        if n > self.per_step:
            n = self.per_step
        i = 0
        p = self.pos
        while i < n:
            buf[i] = self.usb[p + i]
            i += 1
        self.pos = p + n
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
        return 1000

    def wdt_feed(self):
        pass

    def board_id(self):
        return "heap"


def heap_script(blocks):
    """USB bytes: enter, then ``blocks`` times two injected lines with $PSEPA at every level
    (with and without flags), re-arms, a self-test, and one leave-and-enter every 25 blocks."""
    alerts = (
        nmea("PSEPA,1,0,,,3000"),
        nmea("PSEPA,2,1,90,1500,3000"),
        nmea("PSEPA,3,2,90,900,3000"),
        nmea("PSEPA,4,3,90,300,3000"),
        nmea("PSEPA,5,0,,,3000,N"),
    )
    s = bytearray(nmea("PSEPG,ON,5000"))
    for k in range(blocks):
        s.extend(INJ1)
        s.extend(INJ2)
        s.extend(alerts[k % len(alerts)])
        if k % 10 == 5:
            s.extend(nmea("PSEPG,KEEP,5000"))
        if k % 25 == 20:
            s.extend(nmea("PSEPG,OFF"))
            s.extend(nmea("PSEPG,ON,5000"))
        if k == 30:
            s.extend(nmea("PSEPT,inject"))
    return bytes(s)


def heap_measure(warm_blocks, blocks, per_step=32):
    """Warm a board up in injection mode, then run ``blocks`` more with the heap locked.

    Returns lines injected in the locked window, errors, mem_free before/after, pattern names seen.
    """
    import gc

    try:
        import micropython
    except ImportError:
        micropython = None
    warm = heap_script(warm_blocks)
    locked = heap_script(blocks)[len(nmea("PSEPG,ON,5000")) :]
    hw = HeapHW(warm + locked, per_step)
    b = Board(hw, "pico")
    while hw.pos < len(warm):
        hw.now = ticks_add(hw.now, 20)
        b.step(hw.now)
    inj0 = b.lines_injected
    ends0 = b.inject_ends
    ign0 = b.uart_ignored
    seen = {"inject": 0, "clear": 0, "advisory": 0, "caution": 0, "warning": 0, "degraded": 0}
    last = b.pattern
    free = getattr(gc, "mem_free", None)
    f0 = free() if free else 0
    if micropython is not None:
        micropython.heap_lock()
    try:
        while hw.pos < len(hw.usb):
            hw.now = ticks_add(hw.now, 20)
            b.step(hw.now)
            if b.pattern is not last:
                last = b.pattern
                if last in seen:
                    seen[last] += 1
    finally:
        if micropython is not None:
            micropython.heap_unlock()
    f1 = free() if free else 0
    names = []
    for k in ("inject", "clear", "advisory", "caution", "warning", "degraded"):
        if seen[k]:
            names.append(k)
    return {
        "lines": b.lines_injected - inj0,
        "ends": b.inject_ends - ends0,
        "uart_ignored": b.uart_ignored - ign0,
        "errors": b.errors,
        "dropped": b.lines_dropped,
        "free_before": f0,
        "free_after": f1,
        "patterns": names,
        "injecting": b.injecting,
    }
