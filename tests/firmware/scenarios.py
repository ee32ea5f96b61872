"""Firmware scenarios that run unchanged under CPython and inside MicroPython.

Each ``scn_*`` function drives a fresh Board on FakeHardware with a fake clock
and returns plain data (ints, strings, bytes, lists, dicts) that tests assert
on; the MicroPython tests run the same functions in a real interpreter and
check the results are identical. Kept to syntax and library MicroPython has.
"""

from sepmon_fw import pmu
from sepmon_fw.app import Board
from sepmon_fw.compat import ticks_add
from sepmon_fw.hal import FakeHardware
from sepmon_fw.patterns import ORDER


def nmea(body):
    c = 0
    for b in body.encode():
        c ^= b
    return f"${body}*{c:02X}\r\n".encode()


GGA = nmea("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")
RMC = nmea("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W")


class R:
    def __init__(self, gnss="", start_ms=0):
        self.hw = FakeHardware("e6614103e7", 123456)
        self.hw.now = start_ms
        self.b = Board(self.hw, "pico", gnss=gnss)
        self.out = bytearray()

    def run(self, ms, every=10, gps=None, gps_every=0):
        t = 0
        nxt = 0
        while t < ms:
            if gps is not None and t >= nxt:
                self.hw.gps_in(gps)
                nxt += gps_every
            self.hw.now = ticks_add(self.hw.now, every)
            self.b.step(self.hw.now)
            t += every
        o = self.hw.take_output()
        self.out.extend(o)
        return o

    def send(self, body):
        self.hw.host_in(nmea(body))
        return self.run(1, 1)


def tags(out, tag):
    r = []
    for ln in out.split(b"\r\n"):
        if ln.startswith(b"$" + tag):
            r.append(ln)
    return r


def scn_forwarding():
    r = R()
    r.hw.gps_in(GGA + b"\x00\x00$GPGGA,1*00\r\n" + RMC + b'{"json":1}\n')
    out = r.run(300)
    lines = [ln + b"\r\n" for ln in out.split(b"\r\n") if ln.startswith(b"$GP")]
    return {"lines": lines, "fwd": r.b.lines_fwd, "dropped": r.b.lines_dropped}


def scn_cadence():
    r = R()
    out = r.run(35000, 50)
    ident = tags(out, b"PSEPI")
    status = tags(out, b"PSEPS")
    return {"ident": len(ident), "ident0": ident[0] + b"\r\n", "status": len(status), "status0": status[0]}


def scn_ack_and_reject():
    r = R()
    r.run(100)
    bad = nmea("PSEPA,9,3,10,100,2000")
    r.hw.host_in(bad[:-4] + b"00\r\n")
    r.hw.host_in(nmea("PSEPA,9,7,10,100,2000"))
    o1 = r.run(50)
    p1 = r.b.pattern
    o2 = r.send("PSEPA,10,3,271,850,2000")
    return {
        "rejected_out": tags(o1, b"PSEPK"),
        "pattern_after_reject": p1,
        "ignored": r.b.cmds_ignored,
        "ack": tags(o2, b"PSEPK"),
        "pattern": r.b.pattern,
        "alert": [r.b.level, r.b.bearing, r.b.range_m],
    }


def scn_failsafes():
    r = R()
    res = {}
    r.run(2000, gps=GGA, gps_every=500)
    res["boot"] = r.b.pattern
    r.send("PSEPA,1,0,,,1500")
    r.run(1000, gps=GGA, gps_every=500)
    res["clear"] = r.b.pattern
    r.run(600, gps=GGA, gps_every=500)
    res["after_ttl"] = r.b.pattern
    r.send("PSEPA,2,1,45,2000,60000")
    r.run(2900)
    res["gps_2_9s"] = r.b.pattern
    r.run(300)
    res["gps_3_2s"] = r.b.pattern
    return res


def scn_patterns():
    sig = {}
    for name in ORDER:
        r = R()
        r.send("PSEPT," + name)
        beeps = 0
        led_ms = 0
        tone = 0
        on = False
        for _ in range(290):
            r.run(10)
            if r.hw.buzzer_duty and not on:
                beeps += 1
                tone = r.hw.buzzer_freq
            on = r.hw.buzzer_duty > 0
            if r.hw.led_state:
                led_ms += 10
        sig[name] = [tone, beeps, led_ms]
    return sig


def scn_degraded():
    r = R()
    res = {}
    r.run(100, gps=GGA, gps_every=50)
    for flags in ("N", "", "L", "NL", "Q", "LN"):
        o = r.send("PSEPA,1,0,,,60000," + flags)
        res["flags_" + flags] = [r.b.pattern, r.b.flags, len(tags(o, b"PSEPK"))]
    r.send("PSEPA,2,0,,,60000")
    res["five_fields"] = r.b.pattern
    r.send("PSEPA,3,1,10,5000,60000,N")
    res["advisory_N"] = r.b.pattern
    r.send("PSEPA,4,0,,,60000,N")
    # what degraded sounds and looks like: beeps in its 10 s period, LED blinks in its 4 s one
    beeps = 0
    blinks_4s = 0
    tone = 0
    on = False
    led = False
    t = 0
    while t < 9900:
        r.run(10, gps=GGA if t % 1000 == 0 else None)
        if r.hw.buzzer_duty and not on:
            beeps += 1
            tone = r.hw.buzzer_freq
        on = r.hw.buzzer_duty > 0
        if r.hw.led_state and not led and t < 3900:
            blinks_4s += 1
        led = r.hw.led_state
        t += 10
    res["sound"] = [r.b.pattern, tone, beeps, blinks_4s]
    r.run(3100)  # own GPS silent
    res["nogps"] = r.b.pattern
    return res


def scn_watchdog():
    r = R()
    r.run(1000)
    a = r.hw.wdt_feeds
    r.hw.uart_error = OSError(5)
    r.run(1000)
    b = r.hw.wdt_feeds
    r.hw.uart_error = None
    r.run(500)
    c = r.hw.wdt_feeds
    r.hw.usb_accept = False
    r.run(8000)
    d = r.hw.wdt_feeds
    return [a, b, c, d, r.b.errors, r.b.healthy]


def scn_retone():
    """The pattern changes while a tone sounds: the new pattern's pitch at that very step."""
    r = R()
    r.run(100, gps=GGA, gps_every=50)
    r.send("PSEPA,1,3,90,500,1000")  # warning: 100 ms on / 100 ms off
    r.run(200, gps=GGA, gps_every=50)  # 201 ms into warning: a beep is sounding
    before = [r.b.pattern, r.hw.buzzer_freq, r.hw.buzzer_duty]
    r.send("PSEPA,2,2,90,900,1000")  # caution: its cadence starts with a 150 ms beep
    after = [r.b.pattern, r.hw.buzzer_freq, r.hw.buzzer_duty]
    r.send("PSEPA,3,3,90,500,400")  # warning again, ttl 0.4 s
    r.run(300, gps=GGA, gps_every=50)
    mid = [r.b.pattern, r.hw.buzzer_freq, r.hw.buzzer_duty]
    r.run(100, gps=GGA, gps_every=50)  # ttl runs out in a beep: offline's long tone at once
    last = [r.b.pattern, r.hw.buzzer_freq, r.hw.buzzer_duty]
    return {"before": before, "after": after, "mid": mid, "offline": last}


def scn_uptime_wrap():
    """Past MicroPython's small-int end (2**30 ms of uptime) and the ticks_ms wrap, together."""
    r = R(start_ms=(1 << 30) - 1500)  # ticks_ms wraps 1.5 s after boot
    r.run(10, gps=GGA)
    r.send("PSEPA,1,1,90,500,60000")  # advisory for a minute
    r.b.uptime_s = 1073741  # 1 073 741 000 ms: 824 ms below 2**30
    r.b.uptime_ms = 0
    out = r.run(4000, 10, gps=GGA, gps_every=500)
    ups = []
    for ln in tags(out, b"PSEPS"):
        ups.append(int(ln.split(b",")[1]))
    pat = r.b.pattern
    r.run(3100)  # GPS silent across nothing special: nogps still trips on time after the wrap
    return {"uptimes": ups, "now": r.hw.now, "pattern": pat, "silent": r.b.pattern, "errors": r.b.errors}


def scn_gnss():
    """The receiver set-up: what goes to the GPS, at which baud, and when it is repeated."""
    r = R(gnss="ublox-airborne-5hz")
    r.run(3000, gps=GGA, gps_every=200)
    first = []
    for baud, msg in r.hw.gps_tx:
        first.append([baud, msg])
    n1 = len(r.hw.gps_tx)
    r.run(20000, gps=GGA, gps_every=200)  # receiver talking: nothing more is sent
    n2 = len(r.hw.gps_tx)
    r.run(45000)  # silent: after 10 s, and again 30 s later, the set-up is repeated
    n3 = len(r.hw.gps_tx)
    m = R(gnss="mtk-airborne-5hz")
    m.run(2000, gps=GGA, gps_every=200)
    mtk = []
    for baud, msg in m.hw.gps_tx:
        mtk.append([baud, msg])
    return {
        "ublox": first,
        "counts": [n1, n2, n3],
        "runs": r.b.gnss.runs,
        "uart": r.hw.uart_rate,
        "mtk": mtk,
        "fwd": r.b.lines_fwd,
        "errors": r.b.errors + m.b.errors,
    }


class AxpBus:
    """An I2C bus with one power chip: register file, reads and writes recorded."""

    def __init__(self, chip_id, regs):
        self.regs = {3: chip_id}
        for k in regs:
            self.regs[k] = regs[k]
        self.writes = []
        self.reads = []

    def readfrom_mem(self, addr, reg, n):
        if addr != 0x34:
            raise OSError(19)  # ENODEV: no ACK
        self.reads.append(reg)
        return bytes((self.regs.get(reg, 0),))

    def writeto_mem(self, addr, reg, buf):
        if addr != 0x34:
            raise OSError(19)
        self.writes.append([reg, buf[0]])
        self.regs[reg] = buf[0]


def scn_pmu():
    res = {}
    # power-on states with the GPS rail off and other rails on (they must stay on)
    a = AxpBus(0x03, {0x12: 0x43, 0x28: 0xC0})
    res["axp192"] = [list(pmu.power_gps(a)), a.writes]
    b = AxpBus(0x4A, {0x90: 0x0B, 0x94: 0xAD})
    res["axp2101"] = [list(pmu.power_gps(b)), b.writes]
    c = AxpBus(0x55, {})
    res["unknown"] = [list(pmu.power_gps(c)), c.writes]
    try:
        pmu.power_gps(a, addr=0x35)
        res["absent"] = "no error"
    except OSError as e:
        res["absent"] = e.args[0]
    return res


ALL = (
    "scn_forwarding",
    "scn_cadence",
    "scn_ack_and_reject",
    "scn_failsafes",
    "scn_patterns",
    "scn_degraded",
    "scn_watchdog",
    "scn_retone",
    "scn_uptime_wrap",
    "scn_gnss",
    "scn_pmu",
)
