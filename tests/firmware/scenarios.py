"""Firmware scenarios that run unchanged under CPython and inside MicroPython.

Each ``scn_*`` function drives a fresh Board on FakeHardware with a fake clock
and returns plain data (ints, strings, bytes, lists, dicts) that tests assert
on; the MicroPython tests run the same functions in a real interpreter and
check the results are identical. Kept to syntax and library MicroPython has.
"""

from sepmon_fw.app import Board
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
    def __init__(self):
        self.hw = FakeHardware("e6614103e7", 123456)
        self.b = Board(self.hw, "pico")
        self.out = bytearray()

    def run(self, ms, every=10, gps=None, gps_every=0):
        t = 0
        nxt = 0
        while t < ms:
            if gps is not None and t >= nxt:
                self.hw.gps_in(gps)
                nxt += gps_every
            self.hw.advance(every)
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


ALL = (
    "scn_forwarding",
    "scn_cadence",
    "scn_ack_and_reject",
    "scn_failsafes",
    "scn_patterns",
    "scn_degraded",
    "scn_watchdog",
)
