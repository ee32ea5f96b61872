"""The board's main loop as a poll step: GPS → USB forwarding, host commands, alerts, watchdog.

GPS injection mode (a desk test, entered only by ``$PSEPG,ON,<timeout_ms>`` from the
host; ``$PSEPG,KEEP,<timeout_ms>`` re-arms it but never enters it): the USB input goes
through the GPS framer and its lines are forwarded as if the GPS UART had sent them;
``$PSEP`` lines among them are still the host's commands. The real UART's bytes are
read and thrown away meanwhile (``uart_ignored``): a desk receiver's position mixed
into a recorded encounter would be a second, jumping vehicle under the same source.
The mode ends on ``$PSEPG,OFF``, when neither an injected line nor a re-arm came for
``timeout_ms``, and on reset (it lives in this object only; nothing is written to
flash). At level 0 without flags the board shows "inject" instead of "clear", and
every ``$PSEPK`` carries the pattern shown.

``Board(hw, profile, board_id)`` owns all state; ``step(now_ms)`` does one
round of work and never blocks, so the same object runs on the board
(``run()``), in tests with a fake clock, and in the host's virtual board.
See ``sepmon_fw.hal`` for the hardware object ``hw``.
"""

try:
    from micropython import const
except ImportError:
    from sepmon_fw.compat import const

from sepmon_fw import FW_VERSION, PROTO_VERSION
from sepmon_fw.compat import ticks_add, ticks_diff
from sepmon_fw.framer import LineFramer
from sepmon_fw.gnss import GnssSetup
from sepmon_fw.nmea import (
    CMD_ALERT,
    CMD_INJECT,
    CMD_TEST,
    Writer,
    encode_ack,
    encode_identity,
    encode_status,
    match,
    parse_command,
)
from sepmon_fw.patterns import LEVEL_NAMES, NAME_BYTES, ORDER, ORDER_BYTES, SINGLES, Annunciator

IDENT_PERIOD_MS = const(10000)
STATUS_PERIOD_MS = const(1000)
GPS_SILENT_MS = const(3000)
SELFTEST_MS = const(3000)  # one pattern of a $PSEPT self-test
USB_STALL_MS = const(5000)  # no USB write progress for this long: stop feeding the watchdog
# Ages kept below this: ticks_diff is only right within 2**29 ms (6.2 days), so an older
# time stamp is moved up to stay this old (a GPS silent for a week stays "silent").
AGE_CAP_MS = const(86400000)
UPTIME_S_WRAP = const(1000000000)  # uptime seconds wrap here (31.7 years): small ints only

UART_CHUNK = const(64)
USB_CHUNK = const(32)

_ALL = (b"all",)


class Board:
    """All of the firmware's state. Read-only attributes for tests and the virtual board:

    ``pattern`` (name of the pattern shown: clear, advisory, caution, warning,
    offline, nogps, degraded), ``level`` (last level from the host, -1 before any),
    ``flags`` (the last ``$PSEPA``'s flags, a bitmask of ``nmea.FLAG_*``),
    ``lines_fwd``, ``lines_dropped``, ``cmds_ok``, ``cmds_ignored``,
    ``errors`` (exceptions caught in ``step``), ``last_error``, ``healthy``
    (whether the last step fed the watchdog), ``ann`` (the Annunciator with
    ``buzzer_on``/``led_on``), ``gnss`` (the receiver set-up, None without a preset),
    ``uptime_s``/``uptime_ms`` (``uptime`` is their sum in ms), ``injecting`` (GPS injection
    mode on), ``inject_ms`` (its timeout), ``lines_injected``, ``uart_ignored`` (bytes of the
    real GPS thrown away in the mode), ``inject_ends`` (times the mode ended, any way).

    ``gnss``: name of a receiver set-up preset (``sepmon_fw.gnss.NAMES``) or "" for none;
    it needs ``hw.uart_write``/``hw.uart_baud``; ``gps_baud`` is the UART's rate at boot.
    """

    def __init__(self, hw, profile="generic", board_id=None, fw_version=FW_VERSION, gnss="", gps_baud=9600):
        self.hw = hw
        self.profile = profile
        self.board_id = board_id if board_id is not None else hw.board_id()
        self.fw_version = fw_version
        # encoded once: the 10 s identity then allocates nothing
        self._id_fields = (str(self.board_id).encode(), str(fw_version).encode(), str(profile).encode())
        self.uart_rx = bytearray(UART_CHUNK)
        self.usb_rx = bytearray(USB_CHUNK)
        self.out = Writer(128)
        self._cmd = [0, 0, 0, 0, 0, 0]  # parse_command fills it in place
        self._on_gps = self.on_gps_line  # bound once: no allocation per line
        self._on_cmd = self.on_cmd_line
        self.gps = LineFramer(self._on_gps)
        self.cmd = LineFramer(self._on_cmd)
        self.ann = Annunciator(hw)
        self.started = False
        self.now = 0
        self.last_now = 0
        self.uptime_s = 0
        self.uptime_ms = 0  # 0..999: uptime as seconds + ms, never a long integer
        self.next_ident = 0
        self.next_status = 0
        self.last_gps = 0
        self.last_usb_ok = 0
        self.lines_fwd = 0
        self.usb_short = 0
        self.cmds_ok = 0
        self.cmds_bad = 0
        self.level = -1
        self.bearing = -1
        self.range_m = -1
        self.flags = 0
        self.last_seq = -1
        self.alert_until = 0
        self.alert_valid = False
        self.test_names = ()  # type: tuple[str, ...]
        self.test_start = 0
        self.injecting = False  # never persisted: a reset always starts outside the mode
        self.inject_ms = 0
        self.inject_last = 0
        self.lines_injected = 0
        self.uart_ignored = 0
        self.inject_ends = 0
        self.errors = 0
        self.last_error = None
        self.healthy = False
        self.pattern = "offline"
        self.ann.select("offline", 0)
        self.gnss = GnssSetup(hw, gnss, gps_baud) if gnss else None

    @property
    def uptime(self):
        """Milliseconds since the first step (for tests; may be a long integer)."""
        return self.uptime_s * 1000 + self.uptime_ms

    # ---- counters as reported in $PSEPS
    @property
    def lines_dropped(self):
        return self.gps.dropped

    @property
    def cmds_ignored(self):
        """Host input that was not a valid command: framing/checksum errors and rejected sentences."""
        return self.cmd.dropped + self.cmds_bad

    # ---- output
    def _write(self, buf, n):
        w = self.hw.usb_write(buf, n)
        if w is None or w == n:
            self.last_usb_ok = self.now
        else:
            self.usb_short += 1
        return w

    def on_gps_line(self, buf, n):
        if self.injecting:
            # the line came from USB: a $PSEP one is the host's command, the rest is injected GPS
            if n > 6 and buf[1] == 0x50 and buf[2] == 0x53 and buf[3] == 0x45 and buf[4] == 0x50:
                return self.on_cmd_line(buf, n)
            self.inject_last = self.now
            self.lines_injected += 1
        self.last_gps = self.now
        self.lines_fwd += 1
        self._write(buf, n + 2)

    def send_identity(self):
        w = self.out
        n = encode_identity(w, PROTO_VERSION, self._id_fields[0], self._id_fields[1], self._id_fields[2])
        self._write(w.buf, n)

    def send_status(self):
        w = self.out
        n = encode_status(
            w,
            self.uptime_ms,
            self.lines_fwd,
            self.gps.dropped,
            ticks_diff(self.now, self.last_gps),
            self.hw.mem_free(),
            self.uptime_s,
        )
        self._write(w.buf, n)

    # ---- input from the host
    def on_cmd_line(self, buf, n):
        """Take one host command; True when it switched GPS injection on or off (the framer
        that carried it stops there: the next bytes are the other framer's)."""
        c = self._cmd
        kind = parse_command(buf, n, c)  # allocates nothing: commands come every second
        if kind == CMD_ALERT:
            self.last_seq = c[0]
            self.level = c[1]
            self.bearing = c[2]
            self.range_m = c[3]
            self.alert_until = ticks_add(self.now, c[4])
            self.flags = c[5]
            self.alert_valid = True
            self.cmds_ok += 1
            w = self.out
            if self.injecting:
                # what the board shows with this command taken, not what it showed before
                p = self.choose_pattern(self.now)
                if p != self.pattern:
                    self.pattern = p
                    self.ann.select(p, self.now)
                self._write(w.buf, encode_ack(w, c[0], NAME_BYTES[p]))
            else:
                self._write(w.buf, encode_ack(w, c[0]))
            return False
        if kind == CMD_INJECT:
            self.cmds_ok += 1
            if c[0] == 0:
                return self.leave_injection()
            if self.injecting:
                self.inject_ms = c[0]
                self.inject_last = self.now
                return False  # re-armed
            if c[1]:
                return False  # KEEP never enters: a board reset mid-run stays out of the mode
            self.inject_ms = c[0]
            self.inject_last = self.now
            self.injecting = True
            self.gps.reset()  # a half-read line of the real GPS is not finished by injected bytes
            return True
        if kind == CMD_TEST:
            k = match(buf, c[0], c[1], ORDER_BYTES)
            if k >= 0:
                self.test_names = SINGLES[k]
            elif match(buf, c[0], c[1], _ALL) == 0:
                self.test_names = ORDER
            else:
                self.cmds_bad += 1
                return False
            self.cmds_ok += 1
            self.test_start = self.now
            return False
        self.cmds_bad += 1
        return False

    def leave_injection(self):
        """End GPS injection mode (explicit command or timeout); True if it was on."""
        if not self.injecting:
            return False
        self.injecting = False
        self.inject_ends += 1
        self.gps.reset()  # a half-injected line is not finished by the real GPS
        return True

    # ---- state
    def choose_pattern(self, now):
        """offline > warning > nogps > caution/advisory > degraded > clear/inject (a self-test first)."""
        if self.test_names:
            k = ticks_diff(now, self.test_start) // SELFTEST_MS
            if k < len(self.test_names):
                return self.test_names[k]
            self.test_names = ()
        if self.alert_valid and ticks_diff(self.alert_until, now) <= 0:
            self.alert_valid = False  # ttl ran out: the host is gone until it speaks again
        if not self.alert_valid:
            return "offline"
        if self.level == 3:
            return "warning"
        if ticks_diff(now, self.last_gps) >= GPS_SILENT_MS:
            return "nogps"
        if self.level == 0 and self.flags:
            return "degraded"  # the host is online but not really watching: never "clear"
        if self.level == 0 and self.injecting:
            return "inject"  # fed a recording: never looks clear and idle
        return LEVEL_NAMES[self.level]

    def step(self, now):
        """One round: read GPS and host bytes, send what is due, update buzzer/LED, feed the watchdog."""
        hw = self.hw
        ok = True
        try:
            if not self.started:
                self.started = True
                self.last_now = now
                self.last_gps = now
                self.last_usb_ok = now
                self.next_ident = now
                self.next_status = ticks_add(now, STATUS_PERIOD_MS)
            d = ticks_diff(now, self.last_now)
            if d > 0:
                ms = self.uptime_ms + d
                if ms >= 1000:
                    sec = ms // 1000
                    ms -= sec * 1000
                    sec += self.uptime_s
                    if sec >= UPTIME_S_WRAP:
                        sec -= UPTIME_S_WRAP
                    self.uptime_s = sec
                self.uptime_ms = ms
            self.last_now = now
            self.now = now
            if ticks_diff(now, self.last_gps) > AGE_CAP_MS:
                self.last_gps = ticks_add(now, -AGE_CAP_MS)
            if ticks_diff(now, self.last_usb_ok) > AGE_CAP_MS:
                self.last_usb_ok = ticks_add(now, -AGE_CAP_MS)
            if self.gnss is not None:
                self.gnss.step(now, ticks_diff(now, self.last_gps))
            if ticks_diff(now, self.next_ident) >= 0:
                self.send_identity()
                self.next_ident = ticks_add(self.next_ident, IDENT_PERIOD_MS)
                if ticks_diff(now, self.next_ident) >= 0:  # fell behind: resynchronise
                    self.next_ident = ticks_add(now, IDENT_PERIOD_MS)
            if self.injecting and ticks_diff(now, self.inject_last) >= self.inject_ms:
                self.leave_injection()
            n = hw.uart_read(self.uart_rx)
            if n:
                if self.injecting:
                    self.uart_ignored += n  # read anyway: stale sky bytes must not wait for the mode's end
                else:
                    self.gps.feed(self.uart_rx, n)
            n = hw.usb_read(self.usb_rx)
            i = 0
            while i < n:  # the framers stop where a command switches the mode
                framer = self.gps if self.injecting else self.cmd
                i = framer.feed(self.usb_rx, n, i)
            if ticks_diff(now, self.next_status) >= 0:
                self.send_status()
                self.next_status = ticks_add(self.next_status, STATUS_PERIOD_MS)
                if ticks_diff(now, self.next_status) >= 0:
                    self.next_status = ticks_add(now, STATUS_PERIOD_MS)
            p = self.choose_pattern(now)
            if p != self.pattern:
                self.pattern = p
                self.ann.select(p, now)
            self.ann.update(now)
        except Exception as e:  # keep running; the watchdog decides whether this is fatal
            ok = False
            self.errors += 1
            self.last_error = e
        if ok and ticks_diff(now, self.last_usb_ok) < USB_STALL_MS:
            self.healthy = True
            hw.wdt_feed()
        else:
            self.healthy = False


def run(hw, profile, board_id=None, idle=None, gnss="", gps_baud=9600):
    """The board's forever loop (``main.py`` calls this). Never returns on a board."""
    board = Board(hw, profile, board_id, gnss=gnss, gps_baud=gps_baud)
    ticks = hw.ticks_ms
    step = board.step
    while True:
        step(ticks())
        if idle is not None:
            idle()
