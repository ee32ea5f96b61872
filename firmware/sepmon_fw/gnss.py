"""Receiver set-up: u-blox UBX and MediaTek PMTK messages, built once, sent from the main loop.

A preset (``SPECS``, built by ``preset(name)``) is a target baud rate and a tuple of
steps ``(baud, message)``:
the board's UART is switched to ``baud`` (when it differs), then ``message`` is written.
``GnssSetup`` sends one step per ``GAP_MS`` from ``Board.step`` (never blocking,
nothing allocated: the messages are bytes built at import), at boot and again
whenever the receiver has been silent for ``RECOVER_MS`` (at most every
``RETRY_MS``).

Recovery first: the port set-up (UBX-CFG-PRT: NMEA out, UBX+NMEA in, the target
baud; PMTK251 for MediaTek) is sent at every baud rate a module may have been left
at (``CANDIDATE_BAUDS``), so a u-blox module that earlier firmware left in UBX-only
output, or at another baud rate, talks NMEA at the target rate again. Nothing is
saved in the module (no UBX-CFG-CFG, no PMTK save): after a power cycle it is back
at its defaults and the board sets it up again.

Message layouts: u-blox 6/M8 Receiver Description and Protocol Specification
(UBX-CFG-PRT 0x06 0x00, UBX-CFG-MSG 0x06 0x01, UBX-CFG-RATE 0x06 0x08,
UBX-CFG-NAV5 0x06 0x24; checksum: 8-bit Fletcher over class, id, length, payload);
MediaTek "PMTK command packet" (MT3339): PMTK251 baud rate, PMTK220 fix interval,
PMTK314 sentence output, PMTK886 navigation mode (0 normal, 1 fitness, 2 aviation,
3 balloon). The tests check the UBX bytes against pyubx2.
"""

try:
    from micropython import const
except ImportError:
    from sepmon_fw.compat import const

from sepmon_fw.compat import ticks_add, ticks_diff

GAP_MS = const(150)  # between two steps: the longest message (44 bytes) takes 46 ms at 9600 baud
RECOVER_MS = const(10000)  # receiver silent this long: run the set-up again
RETRY_MS = const(30000)  # but not more often than this

CANDIDATE_BAUDS = (9600, 38400, 115200)

# NMEA message ids in class 0xF0 (UBX-CFG-MSG)
NMEA_GGA = const(0x00)
NMEA_GLL = const(0x01)
NMEA_GSA = const(0x02)
NMEA_GSV = const(0x03)
NMEA_RMC = const(0x04)
NMEA_VTG = const(0x05)

DYN_PORTABLE = const(0)
DYN_AIRBORNE_2G = const(7)  # u-blox: "recommended for typical airborne environments"


def _le(v, n):
    out = bytearray(n)
    i = 0
    while i < n:
        out[i] = (v >> (8 * i)) & 0xFF
        i += 1
    return out


def ubx(cls, mid, payload):
    """One UBX frame: sync ``B5 62``, class, id, little-endian length, payload, Fletcher-8 checksum."""
    body = bytearray((cls, mid)) + _le(len(payload), 2) + bytearray(payload)
    a = 0
    b = 0
    for x in body:
        a = (a + x) & 0xFF
        b = (b + a) & 0xFF
    return bytes(bytearray((0xB5, 0x62)) + body + bytearray((a, b)))


def cfg_prt_uart1(baud):
    """UBX-CFG-PRT for UART1: 8N1 at ``baud``, input UBX+NMEA, output NMEA only."""
    p = bytearray((1, 0, 0, 0))  # portID 1, reserved, txReady off
    p += _le(0x000008D0, 4)  # mode: 8 bits, no parity, 1 stop (bit 4: reserved, 1 as u-blox advises)
    p += _le(baud, 4)
    p += _le(0x0003, 2)  # inProtoMask: UBX | NMEA
    p += _le(0x0002, 2)  # outProtoMask: NMEA
    p += _le(0, 4)  # flags, reserved
    return ubx(0x06, 0x00, p)


def cfg_msg(msg_id, rate):
    """UBX-CFG-MSG for NMEA sentence ``msg_id``: ``rate`` per epoch on UART1, off on the other ports."""
    return ubx(0x06, 0x01, bytearray((0xF0, msg_id, 0, rate, 0, 0, 0, 0)))


def cfg_rate(meas_ms):
    """UBX-CFG-RATE: one measurement every ``meas_ms``, one solution per measurement, GPS time."""
    return ubx(0x06, 0x08, _le(meas_ms, 2) + _le(1, 2) + _le(1, 2))


def cfg_nav5(dyn_model):
    """UBX-CFG-NAV5 changing only the dynamic platform model (mask bit 0)."""
    p = _le(0x0001, 2) + bytearray((dyn_model,)) + bytearray(33)
    return ubx(0x06, 0x24, p)


def pmtk(body):
    """``$<body>*hh\\r\\n`` (NMEA checksum: XOR of the body)."""
    c = 0
    for x in body:
        c ^= x
    h = b"0123456789ABCDEF"
    return b"$" + body + b"*" + bytes((h[c >> 4], h[c & 15])) + b"\r\n"


def _ublox(baud, meas_ms, dyn_model):
    steps = []
    prt = cfg_prt_uart1(baud)
    for b in CANDIDATE_BAUDS:  # recovery: whatever baud and protocol the module was left at
        steps.append((b, prt))
    for mid, rate in (
        (NMEA_GGA, 1),
        (NMEA_RMC, 1),
        (NMEA_GSA, 1),
        (NMEA_GSV, 0),
        (NMEA_GLL, 0),
        (NMEA_VTG, 0),
    ):
        steps.append((baud, cfg_msg(mid, rate)))
    steps.append((baud, cfg_rate(meas_ms)))
    if dyn_model is not None:
        steps.append((baud, cfg_nav5(dyn_model)))
    return (baud, tuple(steps))


# PMTK314 fields: GLL, RMC, VTG, GGA, GSA, GSV, then 12 reserved/other, ZDA, MCHN (0 = off)
_PMTK314_GGA_RMC_GSA = b"PMTK314,0,1,0,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0"


def _mtk(baud, fix_ms, fr_mode):
    steps = []
    setbaud = pmtk(b"PMTK251," + str(baud).encode())
    for b in CANDIDATE_BAUDS:
        steps.append((b, setbaud))
    steps.append((baud, pmtk(_PMTK314_GGA_RMC_GSA)))
    steps.append((baud, pmtk(b"PMTK220," + str(fix_ms).encode())))
    if fr_mode is not None:
        steps.append((baud, pmtk(b"PMTK886," + str(fr_mode).encode())))
    return (baud, tuple(steps))


# name: (family, baud, fix interval ms, dynamic model / navigation mode or None = leave as is)
SPECS = {
    # u-blox NEO-6M / NEO-M8N: GGA+RMC+GSA only (GSV, GLL, VTG off: the default set fills
    # 77-85 % of 9600 baud at 1 Hz); "ublox" leaves the dynamic model as it is (portable)
    "ublox": ("ublox", 9600, 1000, None),
    "ublox-airborne": ("ublox", 9600, 1000, DYN_AIRBORNE_2G),
    "ublox-airborne-5hz": ("ublox", 38400, 200, DYN_AIRBORNE_2G),
    # MediaTek MT3339 family (e.g. GlobalTop PA6H, Quectel L80): PMTK886 2 = aviation mode
    "mtk": ("mtk", 9600, 1000, None),
    "mtk-airborne": ("mtk", 9600, 1000, 2),
    "mtk-airborne-5hz": ("mtk", 38400, 200, 2),
}
NAMES = tuple(sorted(SPECS))


def preset(name):
    """``(target_baud, steps)`` of preset ``name``; built on demand (only the chosen one uses heap)."""
    family, baud, fix_ms, mode = SPECS[name]
    if family == "ublox":
        return _ublox(baud, fix_ms, mode)
    return _mtk(baud, fix_ms, mode)


class GnssSetup:
    """Sends a preset's steps from the main loop, one per ``GAP_MS``; ``step(now, gps_silent_ms)``.

    ``hw.uart_baud(baud)`` switches the board's GPS UART, ``hw.uart_write(buf)`` sends.
    ``runs`` counts completed set-ups, ``baud`` is the UART's current rate.
    """

    def __init__(self, hw, name, baud):
        self.hw = hw
        self.name = name
        self.target, self.steps = preset(name)
        self.baud = baud
        self.i = -1  # next step; -1: idle
        self.due = 0
        self.started = 0
        self.runs = 0
        self.sent = 0
        self.ever = False

    def start(self, now):
        self.i = 0
        self.due = now
        self.started = now
        self.ever = True

    def step(self, now, gps_silent_ms):
        if self.i < 0:
            if not self.ever or (gps_silent_ms >= RECOVER_MS and ticks_diff(now, self.started) >= RETRY_MS):
                self.start(now)
            else:
                return
        if ticks_diff(now, self.due) < 0:
            return
        st = self.steps[self.i]
        if st[0] != self.baud:
            self.baud = st[0]
            self.hw.uart_baud(st[0])
        self.hw.uart_write(st[1])
        self.sent += 1
        self.i += 1
        self.due = ticks_add(now, GAP_MS)
        if self.i >= len(self.steps):
            self.i = -1
            self.runs += 1
