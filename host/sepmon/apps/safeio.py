"""File handling every command shares, so none of them can hang on an input or eat one.

* :func:`read_regular` reads an input file (configuration, recording) without ever
  blocking: a named pipe, a device or a directory is refused with one line instead
  of waiting for a writer that may never come, and the size is bounded.
* :func:`check_outputs` refuses a command line whose output would write over one of
  its inputs (``analyze REC --events REC``), or two outputs that are the same file.
* :class:`ThreadExecutor` is the event loop's default executor in the daemon and the
  recorder: each blocking call (a DNS lookup, a write to a pyserial URL) runs in a
  daemon thread of its own, so a call that never returns cannot hold up the exit.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import stat
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from sepmon.core.errors import SepmonError

T = TypeVar("T")

MAX_CONFIG_BYTES = 1 << 20
"""A configuration is a few kilobytes; anything over a megabyte is not one."""


def read_regular(path: str | Path, what: str, *, limit: int | None = None, status: int = 1) -> bytes:
    """The bytes of ``path``, which must be a regular file (of at most ``limit`` bytes).

    The file is opened non-blocking, so a named pipe without a writer (or a device)
    is reported at once instead of hanging the command. Errors are one line naming
    ``what`` (``configuration``, ``recording``) and the file; ``status`` is their exit status.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SepmonError(f"{p}: cannot read {what}: no such file", status) from None
    except OSError as exc:
        raise SepmonError(f"{p}: cannot read {what}: {exc.strerror or exc}", status) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise SepmonError(f"{p}: {kind} ({what} must be a regular file)", status)
        if limit is not None and st.st_size > limit:
            raise SepmonError(f"{p}: too large for a {what} ({st.st_size} bytes, at most {limit})", status)
        chunks = []
        size = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if limit is not None and size > limit:
                raise SepmonError(f"{p}: too large for a {what} (over {limit} bytes)", status)
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise SepmonError(f"{p}: cannot read {what}: {exc.strerror or exc}", status) from None
    finally:
        os.close(fd)


def _identity(path: Path) -> tuple[str, Any]:
    """What makes two paths the same file: device and inode if it exists, else the resolved path."""
    try:
        st = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return ("path", os.path.realpath(path))  # /dev/null, /dev/stdout: may be named twice
    return ("inode", (st.st_dev, st.st_ino))


def check_outputs(
    inputs: Iterable[tuple[str, str | Path | None]], outputs: Iterable[tuple[str, str | Path | None]]
) -> None:
    """Refuse (exit 2) an output that is one of the inputs, or two outputs that are one file.

    ``inputs`` and ``outputs`` are ``(label, path)``: the label names the argument in
    the message (``--events``, ``recording``). Missing paths (None) are skipped. Paths
    are compared as files (hard links, symlinks and ``./`` spellings are the same file);
    character devices such as ``/dev/null`` only by name.
    """
    seen: dict[tuple[str, Any], str] = {}
    for label, path in inputs:
        if path is not None:
            seen.setdefault(_identity(Path(path)), label)
    taken: dict[tuple[str, Any], str] = {}
    for label, path in outputs:
        if path is None:
            continue
        ident = _identity(Path(path))
        if ident[0] == "path" and ident[1].startswith("/dev/"):
            continue  # a device as output (/dev/null, /dev/full) overwrites nothing
        if ident in seen:
            raise SepmonError(f"{label} {path}: is also {seen[ident]}: refusing to write over an input", 2)
        if ident in taken:
            raise SepmonError(f"{label} {path}: is also {taken[ident]}: two outputs cannot be one file", 2)
        taken[ident] = label


class ThreadExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs each call in a daemon thread of its own; ``shutdown`` never waits.

    ``asyncio``'s default executor is a thread pool whose threads are joined when
    the loop closes and again at interpreter exit: one ``getaddrinfo`` stuck on a dead
    DNS server, or one write to a socket that is never read, then holds the process
    for minutes after SIGTERM. At most ``max_threads`` calls run at once; beyond that
    a call fails at once with ``RuntimeError`` (the caller reports and retries).
    (A ``ThreadPoolExecutor`` by type only, which ``loop.set_default_executor`` requires;
    the pool itself is never used.)
    """

    def __init__(self, max_threads: int = 64) -> None:
        super().__init__(max_workers=1)
        self._slots = threading.BoundedSemaphore(max_threads)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Start ``fn(*args, **kwargs)`` in a new daemon thread."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        if not self._slots.acquire(blocking=False):
            future.set_exception(RuntimeError("too many blocking calls in flight"))
            return future

        def run() -> None:
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(*args, **kwargs))
                    except BaseException as exc:  # handed to the awaiting coroutine
                        future.set_exception(exc)
            finally:
                self._slots.release()

        threading.Thread(target=run, name="sepmon-blocking", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to wait for: the threads are daemon threads."""


Notify = Callable[[str, str], None]
"""``notify(kind, detail)`` from a writer thread: ``error`` once per outage, ``recovered`` after it."""


class BackgroundWriter:
    """Lines appended to a file descriptor by a thread of its own, in order, never on the caller.

    ``write`` only queues (it never blocks): a slow disk, a full disk, a pipe nobody
    reads or a terminal paused with Ctrl-S costs the event loop nothing. While writes
    fail, lines wait in memory, at most ``max_lines`` of them (the first ones are
    kept; newer ones are dropped and counted in ``dropped``) and are retried every
    ``retry_s``; once a write succeeds again they are written in their order. A short write continues
    where it stopped, so no line is cut or written twice. ``opener`` returns the file
    descriptor; it runs in the thread (opening a named pipe waits for its reader).
    """

    def __init__(
        self,
        name: str,
        opener: Callable[[], int],
        *,
        notify: Notify | None = None,
        max_lines: int = 10_000,
        fsync: bool = False,
        retry_s: float = 0.5,
    ) -> None:
        self.name = name
        self.max_lines = max_lines
        self.fsync = fsync
        self.retry_s = retry_s
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self._opener = opener
        self._notify = notify
        self._queue: list[bytes] = []
        self._head_done = 0  # bytes of _queue[0] already written
        self._cond = threading.Condition()
        self._closing = False
        self._fd: int | None = None
        self._thread = threading.Thread(target=self._run, name=f"writer:{name}", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Lines queued and not yet written."""
        with self._cond:
            return len(self._queue)

    def write(self, line: bytes) -> None:
        """Queue one line (with its terminator) for writing; never blocks, never raises."""
        with self._cond:
            if self._closing:
                self.dropped += 1
                return
            if len(self._queue) >= self.max_lines:
                # Full: the newest line is dropped (the log keeps the start of an outage,
                # and the front of the queue may be in the middle of a write).
                self.dropped += 1
                return
            self._queue.append(line)
            self._cond.notify()

    def close(self, timeout: float) -> int:
        """Write what is queued within ``timeout`` seconds, then stop; returns the lines left unwritten."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        with self._cond:
            left = len(self._queue)
            self._queue.clear()
        return left

    def _say(self, kind: str, detail: str) -> None:
        if self._notify is not None:
            with contextlib.suppress(Exception):  # the loop has closed: nobody is left to tell
                self._notify(kind, detail)

    def _run(self) -> None:
        failing = False
        lost_at_failure = 0
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    break
                batch = self._queue[:256]
                done = self._head_done
            try:
                if self._fd is None:
                    self._fd = self._opener()
                data = b"".join(batch)[done:]
                n = os.write(self._fd, data)
                if self.fsync and n:
                    os.fsync(self._fd)
            except OSError as exc:
                self.failures += 1
                if not failing:
                    failing = True
                    lost_at_failure = self.dropped
                    self._say("error", f"{self.name}: write failed: {exc.strerror or exc}")
                with self._cond:
                    if self._closing:
                        break  # no retries once closing: close() reports what is left
                    self._cond.wait(self.retry_s)
                continue
            with self._cond:
                # n bytes of the batch (from offset `done` of its first line) are on disk.
                pos = done + n
                k = 0
                while k < len(batch) and pos >= len(batch[k]):
                    pos -= len(batch[k])
                    k += 1
                del self._queue[:k]
                self._head_done = pos
                self.written += k
                waiting = len(self._queue)
            if failing:
                failing = False
                self._say(
                    "recovered",
                    f"{self.name}: writing again: {waiting + k} line(s) held meanwhile are written, "
                    f"{self.dropped - lost_at_failure} dropped (over {self.max_lines} held)",
                )
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
