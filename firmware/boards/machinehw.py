"""The hardware object of ``sepmon_fw.hal`` built on MicroPython's ``machine`` module.

GPS on a hardware UART, host link on the USB serial REPL port (``sys.stdin``/
``sys.stdout``), a buzzer on a PWM pin, an LED on a GPIO, the hardware watchdog,
and (T-Beam) the power chip on I2C that switches the GPS on.

Never dark: whenever the main loop is not running — from ``boot.py`` until the
loop's first step, and after it stops for any reason (Ctrl-C, an exception, the
raw REPL of ``mpremote``/``sepmon flash``) — ``park()`` runs the *offline*
pattern on the buzzer and LED from a ``machine.Timer`` and feeds the watchdog
from it, until the board is reset or the loop runs again (its first watchdog feed
stops the park timer). ``boot.py`` runs on every soft reset, also the raw REPL's,
which does not run ``main.py``: so a soft reset never leaves a started watchdog
unfed, and the board never sits silent and dark.
"""

import gc
import select
import sys
import time
from binascii import hexlify

import machine

from sepmon_fw.patterns import Annunciator

PARK_PERIOD_MS = 50  # park timer: cadence resolution of the offline pattern

# One set of pins, one watchdog and one park per boot, shared by boot.py and main.py.
_ind = None
_wdt = None
_park = None  # (timer, annunciator, watchdog) while parked


class Indicators:
    """Buzzer (PWM) and LED of a profile: the ``buzzer``/``led`` half of the hardware interface."""

    def __init__(self, p):
        self._pwm = machine.PWM(machine.Pin(p["buzzer_pin"]), freq=2400, duty_u16=0)
        self._led = machine.Pin(p["led_pin"], machine.Pin.OUT, value=0)
        self._led_low = p["led_active_low"]
        self.led(False)

    def buzzer(self, freq, duty):
        if duty and freq:
            self._pwm.freq(freq)
            self._pwm.duty_u16(duty)
        else:
            self._pwm.duty_u16(0)

    def led(self, on):
        self._led.value(1 if bool(on) != self._led_low else 0)


def indicators(profile):
    global _ind
    if _ind is None:
        _ind = Indicators(profile)
    return _ind


def watchdog(profile):
    """The hardware watchdog (started on first use; it cannot be stopped again)."""
    global _wdt
    if _wdt is None:
        _wdt = machine.WDT(timeout=profile["wdt_ms"])
    return _wdt


def _park_tick(_t):
    p = _park
    if p is not None:
        p[1].update(time.ticks_ms())
        p[2].feed()


def park(profile):
    """Show the offline pattern and feed the watchdog from a timer until ``unpark()`` or a reset.

    Starts the watchdog if nobody has: after a soft reset this code cannot know whether
    one is running (it keeps running through a soft reset), so it must feed one.
    """
    global _park
    if _park is not None:
        return
    ann = Annunciator(indicators(profile))
    ann.select("offline", time.ticks_ms())
    wdt = watchdog(profile)
    ann.update(time.ticks_ms())
    wdt.feed()
    tim = machine.Timer(
        profile["park_timer"], period=PARK_PERIOD_MS, mode=machine.Timer.PERIODIC, callback=_park_tick
    )
    _park = (tim, ann, wdt)


def unpark():
    """Stop the park timer (the main loop drives buzzer, LED and watchdog from now on)."""
    global _park
    p = _park
    _park = None
    if p is not None and p[0] is not None:
        p[0].deinit()


def parked():
    return _park is not None


def power_gps(profile):
    """T-Beam: switch the GPS rail of the power chip on. A one-line report (printed at boot)."""
    from sepmon_fw import pmu

    i2c_id, sda, scl = profile["pmu_i2c"]
    try:
        bus = machine.I2C(i2c_id, scl=machine.Pin(scl), sda=machine.Pin(sda), freq=400000)
        chip, on = pmu.power_gps(bus)
    except OSError as e:
        return f"sepmon: no power chip answered at I2C 0x34 ({e!r}): GPS power not switched"
    if chip.startswith("unknown"):
        return f"sepmon: power chip {chip} not known: GPS power not switched"
    return f"sepmon: power chip {chip}, GPS rail {'on at 3.3 V' if on else 'did NOT switch on'}"


class MachineHardware:
    def __init__(self, profile):
        p = profile
        self.profile = p
        self.pmu_report = power_gps(p) if p.get("pmu_i2c") else ""
        if self.pmu_report:
            print(self.pmu_report)
        self._uart = machine.UART(
            p["gps_uart"],
            baudrate=p["gps_baud"],
            tx=machine.Pin(p["gps_tx_pin"]),
            rx=machine.Pin(p["gps_rx_pin"]),
            rxbuf=1024,
            timeout=0,
        )
        self._ind = indicators(p)
        self.buzzer = self._ind.buzzer
        self.led = self._ind.led
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._one = bytearray(1)
        self._wdt = None
        self.ticks_ms = time.ticks_ms
        self.mem_free = gc.mem_free
        self.idle = machine.idle

    def uart_read(self, buf):
        n = self._uart.any()
        if not n:
            return 0
        if n > len(buf):
            n = len(buf)
        got = self._uart.readinto(buf, n)
        return got or 0

    def uart_write(self, buf):
        return self._uart.write(buf)

    def uart_baud(self, baud):
        self._uart.init(baudrate=baud)

    def usb_read(self, buf):
        n = 0
        lim = len(buf)
        one = self._one
        while n < lim:
            ready = False
            for _ in self._poll.ipoll(0):
                ready = True
            if not ready or not self._in.readinto(one):  # type: ignore[union-attr]
                break
            buf[n] = one[0]
            n += 1
        return n

    def usb_write(self, buf, n):
        return self._out.write(buf, n)  # type: ignore[call-overload]  # MicroPython: write(buf, max_len)

    def wdt_feed(self):
        if self._wdt is None:  # first step of the loop: it takes over from the park timer
            unpark()
            self._wdt = watchdog(self.profile)
        self._wdt.feed()

    def board_id(self):
        return hexlify(machine.unique_id()).decode()

    def park(self):
        """Main loop stopped: offline pattern and watchdog feeding from a timer (see the module doc)."""
        self._wdt = None
        park(self.profile)


def make(profile):
    return MachineHardware(profile)
