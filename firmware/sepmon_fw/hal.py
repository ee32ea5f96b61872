"""The hardware interface of the firmware core, and a fake of it.

``Board`` (``sepmon_fw.app``) talks to hardware only through one object with
these methods; a board profile (``boards/``) supplies the real one built on
``machine``, tests and the host's virtual board use ``FakeHardware``:

=====================  =====================================================
``uart_read(buf)``     copy up to ``len(buf)`` bytes received from the GPS
                       into ``buf``; return how many (0 when none); never block
``usb_read(buf)``      the same for bytes from the host over USB serial
``usb_write(buf, n)``  send ``buf[0:n]`` to the host; return bytes written
                       (None is taken as "all")
``uart_write(buf)``    send all of ``buf`` to the GPS (receiver set-up only)
``uart_baud(baud)``    switch the GPS UART to ``baud`` (receiver set-up only)
``buzzer(freq, duty)`` PWM tone on the buzzer pin; ``duty`` 0..65535, 0 = off
``led(on)``            LED on/off
``ticks_ms()``         millisecond clock (wraps like ``time.ticks_ms``)
``mem_free()``         free heap bytes (``gc.mem_free()``)
``wdt_feed()``         feed the hardware watchdog
``board_id()``         short unique id of the board (hex of ``machine.unique_id()``)
=====================  =====================================================
"""

from sepmon_fw.compat import mem_free as _mem_free
from sepmon_fw.compat import ticks_add


class FakeHardware:
    """Hardware made of buffers and a settable clock (CPython and MicroPython).

    Feed it with ``gps_in(data)`` and ``host_in(data)``; read what the board
    sent from ``usb_out`` (a bytearray; ``take_output()`` empties it), the buzzer
    as ``buzzer_freq``/``buzzer_duty``, the LED as ``led_state``, watchdog feeds
    as ``wdt_feeds``, what went to the GPS as ``gps_tx`` (a list of ``(baud, bytes)``)
    at ``uart_rate``. ``now`` is the clock; ``advance(ms)`` moves it (wrapping like ``ticks_ms``).
    Set ``usb_accept = False`` to make USB writes fail (return 0), or
    ``uart_error`` to an exception instance that ``uart_read`` raises.
    """

    def __init__(self, board_id="fake0001", mem=None):
        self.now = 0
        self._id = board_id
        self._mem = mem
        self.gps = bytearray()
        self._gpos = 0
        self.host = bytearray()
        self._hpos = 0
        self.usb_out = bytearray()
        self.buzzer_freq = 0
        self.buzzer_duty = 0
        self.led_state = False
        self.buzzer_changes = 0
        self.led_changes = 0
        self.wdt_feeds = 0
        self.usb_accept = True
        self.uart_error = None
        self.gps_tx = []  # type: list[tuple[int, bytes]]
        self.uart_rate = 9600

    # -- test side
    def gps_in(self, data):
        self.gps.extend(data)

    def host_in(self, data):
        self.host.extend(data)

    def advance(self, ms):
        self.now = ticks_add(self.now, ms)  # wraps at 2**30 like the board's ticks_ms

    def take_output(self):
        out = bytes(self.usb_out)
        self.usb_out = bytearray()
        return out

    # -- the interface (copies byte by byte: allocation-light under MicroPython)
    def _take(self, src, pos, buf):
        n = len(src) - pos
        if n > len(buf):
            n = len(buf)
        i = 0
        while i < n:
            buf[i] = src[pos + i]
            i += 1
        return n

    def uart_read(self, buf):
        if self.uart_error is not None:
            raise self.uart_error
        n = self._take(self.gps, self._gpos, buf)
        self._gpos += n
        if self._gpos and self._gpos == len(self.gps):
            self.gps = bytearray()
            self._gpos = 0
        return n

    def usb_read(self, buf):
        n = self._take(self.host, self._hpos, buf)
        self._hpos += n
        if self._hpos and self._hpos == len(self.host):
            self.host = bytearray()
            self._hpos = 0
        return n

    def usb_write(self, buf, n):
        if not self.usb_accept:
            return 0
        out = self.usb_out
        i = 0
        while i < n:
            out.append(buf[i])
            i += 1
        return n

    def uart_write(self, buf):
        self.gps_tx.append((self.uart_rate, bytes(buf)))
        return len(buf)

    def uart_baud(self, baud):
        self.uart_rate = baud

    def buzzer(self, freq, duty):
        self.buzzer_freq = freq
        self.buzzer_duty = duty
        self.buzzer_changes += 1

    def led(self, on):
        self.led_state = bool(on)
        self.led_changes += 1

    def ticks_ms(self):
        return self.now

    def mem_free(self):
        return self._mem if self._mem is not None else _mem_free()

    def wdt_feed(self):
        self.wdt_feeds += 1

    def board_id(self):
        return self._id
