"""Getting firmware onto boards and finding them: firmware tree, profiles, flashing via mpremote, identity.

Used by ``sepmon flash`` and ``sepmon ports``. mpremote is used as a library
(its ``SerialTransport``: raw REPL, raw-paste, filesystem helpers).

Only ports with a known board USB ID (``BOARD_USB_IDS``) are opened unless the user
asks for any port: opening a serial port raises DTR and RTS, which resets
Arduino-style boards. A port that is not recognised is opened without sepmon setting
either line itself and without dropping them again on close (``open_careful``).
"""

from __future__ import annotations

import ast
import contextlib
import os
import random
import re
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import serial

from sepmon.boardlink.protocol import Identity, ProtocolError, Status, decode
from sepmon.core.errors import SepmonError

# Ports each profile can run on (MicroPython's sys.platform).
PLATFORMS = {"rp2", "esp32"}

# USB IDs (vendor, product) of the boards sepmon supports: the USB-serial bridge or the
# native USB of each. The one table: `sepmon ports` and `sepmon flash` consider only these
# ports unless --any-port, and the udev rule deploy/99-sepmon.rules is tested against it.
BOARD_USB_IDS: dict[tuple[int, int], str] = {
    (0x2E8A, 0x0005): "Raspberry Pi Pico, MicroPython (native USB)",
    (0x10C4, 0xEA60): "Silicon Labs CP210x (ESP32 DevKits, most T-Beams)",
    (0x1A86, 0x7523): "WCH CH340 (ESP32 DevKit clones, older T-Beams)",
    (0x1A86, 0x55D4): "WCH CH9102 (newer T-Beams and ESP32 DevKits)",
}


@dataclass(frozen=True, slots=True)
class SerialPort:
    """A serial port as pyserial's ``list_ports`` reports it."""

    device: str
    description: str
    usb_id: tuple[int, int] | None  # None: no USB id (a built-in UART)

    @property
    def known(self) -> bool:
        """Whether its USB ID is one of a supported board."""
        return self.usb_id in BOARD_USB_IDS

    def usb_text(self) -> str:
        """``vvvv:pppp`` or "no USB id"."""
        return f"{self.usb_id[0]:04x}:{self.usb_id[1]:04x}" if self.usb_id else "no USB id"


def serial_ports() -> list[SerialPort]:
    """Every serial port pyserial finds."""
    from serial.tools import list_ports

    out = []
    for p in list_ports.comports():
        usb = (int(p.vid), int(p.pid)) if p.vid is not None and p.pid is not None else None
        out.append(SerialPort(str(p.device), str(p.description or ""), usb))
    return out


def port_info(device: str) -> SerialPort | None:
    """The listed port ``device`` names (symlinks such as /dev/sepmon-… resolved), or None."""
    real = os.path.realpath(device)
    for p in serial_ports():
        if p.device == device or os.path.realpath(p.device) == real:
            return p
    return None


def check_port_allowed(port: str, any_port: bool) -> None:
    """SepmonError for a USB serial port whose ID is not a known board's (unless ``any_port``)."""
    info = port_info(port)
    if info is not None and info.usb_id is not None and not info.known and not any_port:
        raise SepmonError(
            f"{port} ({info.usb_text()} {info.description}) is not a known "
            "sepmon board USB ID; pass --any-port to use it anyway"
        )


def open_careful(port: str, baudrate: int, timeout: float) -> serial.Serial:
    """Open a port sepmon does not recognise without toggling DTR/RTS.

    The kernel raises both when any program opens a tty; pyserial would then set DTR
    again and the close would drop both (HUPCL). Here DTR is left alone (pyserial's
    ``dsrdtr`` skips setting it; RTS is set to the level the kernel already gave it)
    and HUPCL is cleared, so sepmon adds no edge of its own.
    """
    ser = serial.Serial(port, baudrate, timeout=timeout, exclusive=True, dsrdtr=True)
    with contextlib.suppress(termios.error, OSError, ValueError):
        fd = ser.fileno()
        attrs = termios.tcgetattr(fd)
        attrs[2] &= ~termios.HUPCL
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return ser


def firmware_dir() -> Path:
    """The firmware tree: $SEPMON_FIRMWARE, else the copy shipped in the package, else the checkout's.

    A wheel carries ``firmware/`` as ``sepmon/firmware/`` (package data, see
    pyproject.toml); a source checkout or an editable install has it at the top
    of the repository.
    """
    env = os.environ.get("SEPMON_FIRMWARE")
    d = Path(env) if env else _shipped_firmware() or Path(__file__).resolve().parents[3] / "firmware"
    if not (d / "sepmon_fw" / "app.py").is_file():
        raise SepmonError(f"firmware tree not found at {d} (set SEPMON_FIRMWARE to the firmware/ directory)")
    return d


def _shipped_firmware() -> Path | None:
    """``sepmon/firmware`` of an installed wheel; None when absent or not a plain directory (a zip)."""
    shipped = resources.files("sepmon") / "firmware"
    return shipped if isinstance(shipped, Path) and shipped.is_dir() else None


def _assigns(tree: ast.Module, name: str) -> list[ast.Assign]:
    return [
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)
    ]


def profile_names(fw: Path) -> tuple[str, ...]:
    """Names in ``boards/__init__.py`` NAMES (read without importing board code)."""
    tree = ast.parse((fw / "boards" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "NAMES" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
                return value
    raise SepmonError("firmware/boards/__init__.py has no NAMES tuple")


def profile_table(fw: Path, name: str) -> dict[str, object]:
    """The ``PROFILE`` dict of ``boards/<name>.py`` (a literal; read without importing)."""
    if name not in profile_names(fw):
        raise SepmonError(f"unknown board profile {name!r}; known: {', '.join(profile_names(fw))}")
    tree = ast.parse((fw / "boards" / f"{name}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PROFILE" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            if isinstance(value, dict):
                return {str(k): v for k, v in value.items()}
    raise SepmonError(f"boards/{name}.py has no PROFILE table")


def gps_presets(fw: Path) -> tuple[str, ...]:
    """Receiver set-up preset names: the keys of ``SPECS`` in ``sepmon_fw/gnss.py`` (read, not imported)."""
    tree = ast.parse((fw / "sepmon_fw" / "gnss.py").read_text())
    for node in _assigns(tree, "SPECS"):
        if isinstance(node.value, ast.Dict):
            keys = [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
            if keys and all(isinstance(k, str) for k in keys):
                return tuple(str(k) for k in keys)
    raise SepmonError("firmware/sepmon_fw/gnss.py has no SPECS table")


def firmware_files(fw: Path, profile: str, gps: str | None = None) -> dict[str, bytes]:
    """Device path → content: the core, the chosen board profile, board_profile.py, boot.py, main.py.

    ``gps``: a receiver set-up preset, "none" for none, None for the profile's own.
    In copy order: ``main.py`` last, so an interrupted copy leaves the old one in charge.
    """
    profile_table(fw, profile)  # validates the name
    files: dict[str, bytes] = {}
    for f in sorted((fw / "sepmon_fw").glob("*.py")):
        files[f"sepmon_fw/{f.name}"] = f.read_bytes()
    for name in ("__init__", "machinehw", profile):
        files[f"boards/{name}.py"] = (fw / "boards" / f"{name}.py").read_bytes()
    text = f'PROFILE = "{profile}"\n'
    if gps is not None:
        presets = gps_presets(fw)
        if gps != "none" and gps not in presets:
            raise SepmonError(f"unknown receiver preset {gps!r}; known: none, {', '.join(sorted(presets))}")
        text += f'GPS = "{"" if gps == "none" else gps}"\n'
    files["board_profile.py"] = text.encode()
    files["boot.py"] = (fw / "boot.py").read_bytes()
    files["main.py"] = (fw / "main.py").read_bytes()
    return files


def mpy_cross_version() -> tuple[int, int] | None:
    """The .mpy (version, sub-version) that mpy-cross emits, or None when mpy-cross is unusable."""
    try:
        r = subprocess.run(
            [sys.executable, "-m", "mpy_cross", "--version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"mpy v(\d+)\.(\d+)", r.stdout + r.stderr)
    return (int(m.group(1)), int(m.group(2))) if m else None


def board_mpy_version(sys_mpy: int | None) -> tuple[int, int] | None:
    """``sys.implementation._mpy`` → (version, sub-version); None when the board cannot load .mpy."""
    if not sys_mpy:
        return None
    return (sys_mpy & 0xFF, (sys_mpy >> 8) & 3)


def compile_mpy(files: dict[str, bytes]) -> dict[str, bytes]:
    """Compile sepmon_fw/ and boards/ to .mpy (main.py and board_profile.py stay source)."""
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path, data in files.items():
            if not path.startswith(("sepmon_fw/", "boards/")):
                out[path] = data
                continue
            src = Path(tmp) / path
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_bytes(data)
            dst = src.with_suffix(".mpy")
            r = subprocess.run(
                [sys.executable, "-m", "mpy_cross", "-o", str(dst), "-s", path, str(src)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            if r.returncode != 0:
                raise SepmonError(f"mpy-cross failed on {path}: {r.stderr.strip().splitlines()[-1:]}")
            out[path[:-3] + ".mpy"] = dst.read_bytes()
    return out


def check_port_free(port: str) -> None:
    """SepmonError when the port does not exist or another program holds it."""
    try:
        s = serial.Serial(port, 115200, timeout=0, exclusive=True)
    except serial.SerialException as exc:
        text = str(exc)
        if "exclusively lock" in text or "Resource temporarily unavailable" in text or "busy" in text.lower():
            raise SepmonError(
                f"{port} is busy: another program (a terminal, sepmon run, mpremote) has it open"
            ) from None
        if "No such file" in text or "could not open port" in text:
            raise SepmonError(f"cannot open {port}: {text}") from None
        raise SepmonError(f"cannot open {port}: {text}") from None
    s.close()


@dataclass(frozen=True, slots=True)
class FlashResult:
    port: str
    profile: str
    files: tuple[str, ...]
    compiled: bool
    board_platform: str
    identity: Identity | None


RAW_REPL_BANNER = b"raw REPL; CTRL-B to exit\r\n"  # what MicroPython's pyexec prints on Ctrl-A
ATTEMPT_S = 0.5  # a board at its REPL answers Ctrl-A within milliseconds; silence this long: try again


def enter_raw_repl(ser: serial.Serial, timeout_s: float) -> bool:
    """Stop whatever runs and enter the raw REPL, trying again until it answers or ``timeout_s`` passes.

    mpremote's ``enter_raw_repl`` sends one Ctrl-C and one Ctrl-A and then waits for the
    banner, and its overall timeout is only checked while the line is silent. An ESP32
    DevKit resets when its port is opened (DTR/RTS auto-reset) and loses what arrives
    while it boots, then runs boot.py and main.py, whose status lines never let the
    line fall silent: mpremote waited forever. Here Ctrl-C and Ctrl-A are sent again
    every ``ATTEMPT_S`` until the raw REPL's banner comes back. A slow board may then
    still be answering earlier attempts, so a command whose result appears nowhere in
    its text is run and everything up to its end is read (``_sync``). Returns with the
    raw REPL's ``>`` prompt unread, as mpremote's own ``enter_raw_repl`` leaves it.
    False when ``timeout_s`` passed first.
    """
    deadline = time.monotonic() + timeout_s
    saved = ser.timeout
    ser.timeout = 0.05  # short reads: the deadline is checked between bytes, also while the board talks
    try:
        while True:
            ser.write(b"\r\x03")  # Ctrl-C: interrupt main.py (one: a second could hit its clean-up)
            ser.write(b"\r\x01")  # Ctrl-A: raw REPL
            ser.flush()
            if _read_until(ser, (RAW_REPL_BANNER,), min(deadline, time.monotonic() + ATTEMPT_S)):
                return _sync(ser, deadline)
            if time.monotonic() >= deadline:
                return False
    finally:
        ser.timeout = saved


def _read_until(ser: serial.Serial, endings: tuple[bytes, ...], deadline: float) -> bytes | None:
    """The first of ``endings`` read (byte by byte: nothing after it is consumed); None at ``deadline``."""
    tail = b""
    keep = max(len(e) for e in endings)
    while time.monotonic() < deadline:
        b = ser.read(1)
        if not b:
            continue
        tail = (tail + b)[-keep:]
        for e in endings:
            if tail.endswith(e):
                return e
    return None


def _sync(ser: serial.Serial, deadline: float) -> bool:
    """Run ``print(a*b)`` in the raw REPL and read up to its end (``OK``, product, ``\\x04\\x04``).

    Earlier Ctrl-C/Ctrl-A that a slow board answers late come before it on the line, so
    they are read and dropped here; the product is not in the command's text, so an echo
    (the friendly REPL) cannot be taken for the answer.
    """
    a, b = random.randrange(10**5, 10**6), random.randrange(10**5, 10**6)
    ser.write(f"print({a}*{b})".encode() + b"\x04")
    ser.flush()
    done = f"OK{a * b}".encode()
    return _read_until(ser, (done + b"\r\n\x04\x04", done + b"\n\x04\x04"), deadline) is not None


def _restart(t: object) -> None:
    """Back to work after a refusal or failure: stop whatever runs, friendly REPL, soft reset.

    A soft reset from the friendly REPL runs boot.py and main.py; without it the board
    would stay at the raw REPL the flash entered (parked, not working).
    """
    ser = getattr(t, "serial", None)
    if ser is None:
        return
    with contextlib.suppress(Exception):
        ser.write(b"\r\x03\x03")  # interrupt a running command or raw-paste
        time.sleep(0.1)
        ser.write(b"\x02")  # Ctrl-B: friendly REPL
        time.sleep(0.1)
        ser.write(b"\x04")  # Ctrl-D: soft reset, runs main.py
        ser.flush()


def flash(
    port: str,
    profile: str,
    fw: Path | None = None,
    *,
    compile_: bool | None = None,
    wait_identity_s: float = 15.0,
    progress: Callable[[str], None] | None = None,
    gps: str | None = None,
    any_port: bool = False,
    repl_timeout_s: float | None = None,
) -> FlashResult:
    """Copy the firmware and the profile onto the board at ``port``, soft-reset it, wait for ``$PSEPI``.

    ``compile_``: True/False forces .mpy/source; None compiles when the board's
    .mpy version equals what mpy-cross emits. ``gps``: receiver set-up preset written
    into board_profile.py ("none": none; None: the profile's own). ``repl_timeout_s``
    (None: ``wait_identity_s``) bounds the wait for the raw REPL (``enter_raw_repl``).
    After any refusal or failure once the port is open the board is soft-reset, so it
    runs (its old or new) main.py again.
    """
    say = progress or (lambda _m: None)
    fw = fw or firmware_dir()
    table = profile_table(fw, profile)
    files = firmware_files(fw, profile, gps)  # validates the preset before touching the board
    check_port_allowed(port, any_port)
    check_port_free(port)
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    try:
        # a read timeout: on pty devices mpremote reads blocking, and a silent device would hang it
        t = SerialTransport(port, baudrate=115200, timeout=2)
    except TransportError as exc:
        raise SepmonError(f"cannot open {port}: {exc}") from None
    try:
        try:
            try:
                repl_s = wait_identity_s if repl_timeout_s is None else repl_timeout_s
                return _flash_on(t, port, profile, table, files, compile_, wait_identity_s, say, repl_s)
            except (serial.SerialException, OSError) as exc:
                raise SepmonError(f"lost the connection to {port}: {exc}") from None
        except BaseException as exc:
            _restart(t)  # also after no REPL answered: a Ctrl-C may have stopped main.py
            if isinstance(exc, SepmonError) and getattr(t, "sepmon_in_repl", False):
                raise SepmonError(f"{exc} (board restarted)", exc.status) from None
            raise
    finally:
        with contextlib.suppress(Exception):
            t.close()


def _flash_on(
    t: object,
    port: str,
    profile: str,
    table: dict[str, object],
    files: dict[str, bytes],
    compile_: bool | None,
    wait_identity_s: float,
    say: Callable[[str], None],
    repl_timeout_s: float,
) -> FlashResult:
    from mpremote.transport import TransportError, TransportExecError
    from mpremote.transport_serial import SerialTransport

    assert isinstance(t, SerialTransport)
    if not enter_raw_repl(t.serial, repl_timeout_s):
        raise SepmonError(
            f"no MicroPython REPL answered on {port} within {repl_timeout_s:g} s: "
            "is MicroPython installed on the board?"
        )
    t.in_raw_repl = True
    t.sepmon_in_repl = True

    try:
        t.exec("import sys, os")
        platform = str(t.eval("sys.platform"))
        sys_mpy = t.eval("getattr(sys.implementation, '_mpy', 0)")
    except (TransportError, ValueError, SyntaxError) as exc:
        raise SepmonError(f"the board on {port} did not answer like MicroPython: {exc}") from None
    want = str(table.get("platform", ""))
    if platform in PLATFORMS and want and platform != want:
        raise SepmonError(f"profile {profile} is for {want} boards, but the board on {port} is {platform}")
    mine = mpy_cross_version()
    theirs = board_mpy_version(sys_mpy if isinstance(sys_mpy, int) else None)
    compiled = (mine is not None and mine == theirs) if compile_ is None else compile_
    if compiled:
        files = compile_mpy(files)
    say(f"copying {len(files)} files ({'compiled .mpy' if compiled else 'source'}) to {port}")
    for d in ("sepmon_fw", "boards"):
        with contextlib.suppress(OSError, TransportExecError):
            t.fs_mkdir(d)
    for path, data in files.items():
        # a stale .py shadows a fresh .mpy of the same module (and vice versa on downgrade)
        stem, ext = os.path.splitext(path)
        if stem.startswith(("sepmon_fw/", "boards/")):
            other = stem + (".py" if ext == ".mpy" else ".mpy")
            with contextlib.suppress(OSError, TransportExecError):
                t.fs_rmfile(other)
        try:
            t.fs_writefile(path, data)
        except (OSError, TransportError) as exc:
            last = (str(exc).strip().splitlines() or ["?"])[-1]
            raise SepmonError(f"writing {path} to the board failed: {last}") from None
    say("resetting the board")
    t.exit_raw_repl()
    t.serial.write(b"\x04")  # soft reset in the friendly REPL: runs boot.py and main.py
    identity = wait_identity(t.serial, wait_identity_s)
    return FlashResult(port, profile, tuple(files), compiled, platform, identity)


def _messages(ser: serial.Serial, deadline: float) -> Iterator[object]:
    """The sepmon messages that arrive before ``deadline`` (time.monotonic); other lines skipped."""
    buf = b""
    while time.monotonic() < deadline:
        ser.timeout = max(0.0, min(0.2, deadline - time.monotonic()))
        chunk = ser.read(256)
        if not chunk:
            continue
        buf += chunk
        *done, buf = buf.split(b"\n")
        for line in done:
            try:
                msg = decode(line.strip())
            except ProtocolError:
                continue
            if msg is not None:
                yield msg


def wait_identity(ser: serial.Serial, timeout_s: float) -> Identity | None:
    """Read lines until a ``$PSEPI`` arrives or ``timeout_s`` passes."""
    for msg in _messages(ser, time.monotonic() + timeout_s):
        if isinstance(msg, Identity):
            return msg
    return None


@dataclass(frozen=True, slots=True)
class PortProbe:
    port: str
    description: str
    state: str  # "sepmon", "sepmon?" (status but no identity yet), "quiet", "busy", "error"
    identity: Identity | None = None
    detail: str = ""


def probe_port(
    port: str, description: str, listen_s: float, baudrate: int = 115200, careful: bool = False
) -> PortProbe:
    """Listen on ``port`` for up to ``listen_s`` for a sepmon identity (stops early when one arrives).

    ``careful``: a port sepmon does not recognise, opened without toggling DTR/RTS.
    """
    try:
        if careful:
            ser = open_careful(port, baudrate, timeout=0.2)
        else:
            ser = serial.Serial(port, baudrate, timeout=0.2, exclusive=True)
    except serial.SerialException as exc:
        if "exclusively lock" in str(exc) or "busy" in str(exc).lower():
            return PortProbe(port, description, "busy", detail="in use by another program")
        return PortProbe(port, description, "error", detail=str(exc).splitlines()[0][:120])
    seen_status = False
    try:
        for msg in _messages(ser, time.monotonic() + listen_s):
            if isinstance(msg, Identity):
                return PortProbe(port, description, "sepmon", msg)
            if isinstance(msg, Status):
                seen_status = True
    finally:
        ser.close()
    if seen_status:
        return PortProbe(
            port, description, "sepmon?", detail="status seen, identity not yet (sent every 10 s)"
        )
    return PortProbe(port, description, "quiet")
