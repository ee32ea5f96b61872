"""The event log: events (:class:`sepmon.core.model.Event`) appended as JSON Lines.

One schema for the offline ``analyze`` and the live daemon, so a recording
analysed either way can be compared line by line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import TracebackType
from typing import IO

from sepmon.apps.appendlog import drop_partial_last_line
from sepmon.apps.safeio import BackgroundWriter, Notify
from sepmon.core.errors import SepmonError
from sepmon.core.model import Event


def _drop_partial_last_line(path: Path) -> None:
    """Cut a line left half-written by a crash (see :func:`sepmon.apps.appendlog.drop_partial_last_line`)."""
    drop_partial_last_line(path, "event log")


class EventLog:
    """An append-only JSONL file, flushed (and optionally fsynced) after every event.

    A write failure (disk full, file removed) raises ``SepmonError`` once and then
    keeps counting failures, so a caller that must keep alerting can go on.
    """

    def __init__(self, path: str | Path, *, append: bool = True, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.write_errors = 0
        if append:
            _drop_partial_last_line(self.path)
        try:
            self._fh: IO[str] = open(self.path, "a" if append else "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise SepmonError(f"cannot open event log {self.path}: {exc.strerror or exc}") from None

    def write(self, event: Event) -> None:
        """Append one event and push it to the OS before returning."""
        try:
            self._fh.write(event.to_json() + "\n")
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())
        except OSError as exc:
            self.write_errors += 1
            raise SepmonError(f"event log {self.path}: write failed: {exc.strerror or exc}") from None

    def close(self) -> None:
        """Close the file (errors on close are reported like write errors)."""
        try:
            self._fh.close()
        except OSError as exc:
            raise SepmonError(f"event log {self.path}: close failed: {exc.strerror or exc}") from None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class BackgroundEventLog:
    """The live daemon's event log: appended by a thread of its own, never on the event loop.

    What happens when the log cannot be written (disk full, a slow or hung disk, a pipe
    nobody reads) is a decision: events are **held in memory, in order, and written
    when writing works again**; at most ``max_events`` of them (the first ones; the
    newer ones are dropped and counted in ``dropped``). ``notify("error", ...)`` tells
    the caller once per outage, ``notify("recovered", ...)`` when it ends (from the
    writer thread). At ``close`` the writer gets ``timeout`` seconds for what is still
    held; what it could not write is returned, never waited for longer.

    Opening happens here (a cut last line is dropped, a bad path is a one-line
    ``SepmonError``), except for a named pipe, which its thread opens (that waits for a
    reader).
    """

    def __init__(
        self, path: str | Path, *, max_events: int = 10_000, fsync: bool = False, notify: Notify | None = None
    ) -> None:
        self.path = Path(path)
        try:
            mode: int | None = os.stat(self.path).st_mode
        except OSError:
            mode = None
        if mode is not None and stat.S_ISFIFO(mode):
            path_ = self.path

            def opener() -> int:
                return os.open(path_, os.O_WRONLY | os.O_CLOEXEC)  # blocks (in the thread) until a reader

        else:
            if mode is None or stat.S_ISREG(mode):
                _drop_partial_last_line(self.path)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise SepmonError(f"cannot open event log {self.path}: {exc.strerror or exc}") from None

            def opener() -> int:
                return fd

        self._writer = BackgroundWriter(
            f"event log {self.path}", opener, notify=notify, max_lines=max_events, fsync=fsync
        )

    @property
    def dropped(self) -> int:
        """Events dropped because more than ``max_events`` were held."""
        return self._writer.dropped

    @property
    def pending(self) -> int:
        """Events held, not yet written."""
        return self._writer.pending

    def write(self, event: Event) -> None:
        """Queue one event; never blocks, never raises."""
        self._writer.write((event.to_json() + "\n").encode("utf-8"))

    def close(self, timeout: float = 1.0) -> int:
        """Write what is held within ``timeout`` s, stop; returns the events that were not written."""
        return self._writer.close(timeout) + self._writer.dropped
