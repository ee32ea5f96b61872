"""The event log: events (:class:`sepmon.core.model.Event`) appended as JSON Lines.

One schema for the offline ``analyze`` and the live daemon, so a recording
analysed either way can be compared line by line.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import IO

from sepmon.apps.appendlog import drop_partial_last_line
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
