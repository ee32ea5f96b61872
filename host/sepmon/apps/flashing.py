"""Getting firmware onto boards and finding them: firmware tree, profiles, flashing via mpremote, identity.

Used by ``sepmon flash`` and ``sepmon ports``. mpremote is used as a library
(its ``SerialTransport``: raw REPL, raw-paste, filesystem helpers).
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
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


def firmware_files(fw: Path, profile: str) -> dict[str, bytes]:
    """Device path → content: the core, the chosen board profile, main.py and board_profile.py."""
    profile_table(fw, profile)  # validates the name
    files: dict[str, bytes] = {}
    for f in sorted((fw / "sepmon_fw").glob("*.py")):
        files[f"sepmon_fw/{f.name}"] = f.read_bytes()
    for name in ("__init__", "machinehw", profile):
        files[f"boards/{name}.py"] = (fw / "boards" / f"{name}.py").read_bytes()
    files["main.py"] = (fw / "main.py").read_bytes()
    files["board_profile.py"] = f'PROFILE = "{profile}"\n'.encode()
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


def _quiet(fn: Callable[[], object]) -> object:
    """mpremote prints diagnostics on failure; keep them out of our one-line errors."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn()


def flash(
    port: str,
    profile: str,
    fw: Path | None = None,
    *,
    compile_: bool | None = None,
    wait_identity_s: float = 15.0,
    progress: Callable[[str], None] | None = None,
) -> FlashResult:
    """Copy the firmware and the profile onto the board at ``port``, soft-reset it, wait for ``$PSEPI``.

    ``compile_``: True/False forces .mpy/source; None compiles when the board's
    .mpy version equals what mpy-cross emits.
    """
    from mpremote.transport import TransportError, TransportExecError
    from mpremote.transport_serial import SerialTransport

    say = progress or (lambda _m: None)
    fw = fw or firmware_dir()
    table = profile_table(fw, profile)
    check_port_free(port)
    try:
        # a read timeout: on pty devices mpremote reads blocking, and a silent device would hang it
        t = SerialTransport(port, baudrate=115200, timeout=2)
    except TransportError as exc:
        raise SepmonError(f"cannot open {port}: {exc}") from None
    try:
        try:
            _quiet(lambda: t.enter_raw_repl(soft_reset=False, timeout_overall=4))
        except TransportError:
            raise SepmonError(
                f"no MicroPython REPL answered on {port}: is MicroPython installed on the board?"
            ) from None
        try:
            t.exec("import sys, os")
            platform = str(t.eval("sys.platform"))
            sys_mpy = t.eval("getattr(sys.implementation, '_mpy', 0)")
        except (TransportError, ValueError, SyntaxError) as exc:
            raise SepmonError(f"the board on {port} did not answer like MicroPython: {exc}") from None
        want = str(table.get("platform", ""))
        if platform in PLATFORMS and want and platform != want:
            raise SepmonError(
                f"profile {profile} is for {want} boards, but the board on {port} is {platform}"
            )
        files = firmware_files(fw, profile)
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
        t.serial.write(b"\x04")  # soft reset in the friendly REPL: runs main.py
        identity = wait_identity(t.serial, wait_identity_s)
    finally:
        with contextlib.suppress(Exception):
            t.close()
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


def probe_port(port: str, description: str, listen_s: float, baudrate: int = 115200) -> PortProbe:
    """Listen on ``port`` for up to ``listen_s`` for a sepmon identity (stops early when one arrives)."""
    try:
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
