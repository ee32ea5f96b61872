"""The hardware object of ``sepmon_fw.hal`` built on MicroPython's ``machine`` module.

GPS on a hardware UART, host link on the USB serial REPL port (``sys.stdin``/
``sys.stdout``), a piezo buzzer on a PWM pin, an LED on a GPIO, the hardware
watchdog started on its first feed.
"""

import gc
import select
import sys
import time
from binascii import hexlify

import machine


class MachineHardware:
    def __init__(self, profile):
        p = profile
        self.profile = p
        self._uart = machine.UART(
            p["gps_uart"],
            baudrate=p["gps_baud"],
            tx=machine.Pin(p["gps_tx_pin"]),
            rx=machine.Pin(p["gps_rx_pin"]),
            rxbuf=1024,
            timeout=0,
        )
        self._pwm = machine.PWM(machine.Pin(p["buzzer_pin"]), freq=1000, duty_u16=0)
        self._led = machine.Pin(p["led_pin"], machine.Pin.OUT, value=0)
        self._led_low = p["led_active_low"]
        self.led(False)
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._one = bytearray(1)
        self._wdt = None
        self._wdt_ms = p["wdt_ms"]
        self._park_timer = None
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

    def buzzer(self, freq, duty):
        if duty and freq:
            self._pwm.freq(freq)
            self._pwm.duty_u16(duty)
        else:
            self._pwm.duty_u16(0)

    def led(self, on):
        self._led.value(1 if bool(on) != self._led_low else 0)

    def wdt_feed(self):
        if self._wdt is None:
            self._wdt = machine.WDT(timeout=self._wdt_ms)
        self._wdt.feed()

    def board_id(self):
        return hexlify(machine.unique_id()).decode()

    def park(self):
        """Main loop stopped (Ctrl-C, e.g. mpremote connecting): go quiet, keep the watchdog fed.

        A started watchdog cannot be stopped, so a timer keeps feeding it while
        the board sits at the REPL; a soft reset removes the timer and runs
        ``main.py`` again, which feeds the watchdog itself.
        """
        self.buzzer(0, 0)
        self.led(False)
        if self._wdt is not None and self._park_timer is None:
            wdt = self._wdt
            self._park_timer = machine.Timer(
                self.profile["park_timer"],
                period=1000,
                mode=machine.Timer.PERIODIC,
                callback=lambda t: wdt.feed(),
            )


def make(profile):
    return MachineHardware(profile)
