"""``sepmon run --tracks FILE``: every fix the live monitor accepted, as the tracks CSV of ``analyze``.

Same columns and formatting as ``sepmon analyze --tracks`` (``t`` is the time the fix
was received), so ``sepmon report`` draws the map, the range over time and the
playback of a live day from it. Written as an output of the daemon: rows are
buffered and flushed once a second; a write that fails is reported once and
counted, and alerting goes on.
"""

from __future__ import annotations

import contextlib
import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import IO

from sepmon.apps.analyze import TRACK_COLUMNS, track_row
from sepmon.apps.appendlog import drop_partial_last_line
from sepmon.core.errors import SepmonError
from sepmon.core.model import Event, Fix
from sepmon.core.picture import Picture
from sepmon.core.track import clock_time
from sepmon.outputs.base import OutputHost

FLUSH_S = 1.0


class TrackLog:
    """Appends one CSV row per accepted fix (the header once, when the file is new or empty)."""

    name = "tracks"

    def __init__(self, path: str | Path, canonical: Callable[[str], str] = str) -> None:
        self.path = Path(path)
        self.canonical = canonical
        self.rows = 0
        self.errors = 0
        self._host: OutputHost | None = None
        self._last_flush = -math.inf
        drop_partial_last_line(self.path, "tracks file")
        try:
            new = not self.path.exists() or self.path.stat().st_size == 0
            self._fh: IO[str] | None = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise SepmonError(f"cannot open tracks file {self.path}: {exc.strerror or exc}") from None
        self._writer = csv.writer(self._fh)
        if new:
            self._writer.writerow(TRACK_COLUMNS)

    async def start(self, host: OutputHost) -> None:
        """Nothing to open: the file is open already (a bad path fails at start-up)."""
        self._host = host

    def on_fix(self, fix: Fix) -> None:
        """One row per fix."""
        if self._fh is None:
            return
        try:
            self._writer.writerow(track_row(clock_time(fix), self.canonical(fix.source), fix))
            self.rows += 1
        except OSError as exc:
            self._failed(exc)

    def on_event(self, event: Event, picture: Picture) -> None:
        """Events go to the event log, not here."""

    def on_tick(self, now: float, picture: Picture) -> None:
        """Push the rows to the OS once a second."""
        if self._fh is not None and now - self._last_flush >= FLUSH_S:
            self._last_flush = now
            try:
                self._fh.flush()
            except OSError as exc:
                self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        self.errors += 1
        if self.errors in (1, 10, 100, 1000) and self._host is not None:
            detail = f"tracks file {self.path}: write failed: {exc.strerror or exc} ({self.errors} so far)"
            with contextlib.suppress(Exception):
                self._host.report(Event(t=self._host.clock(), type="log_error", a="tracks", detail=detail))

    async def stop(self) -> None:
        """Flush and close."""
        fh, self._fh = self._fh, None
        if fh is not None:
            with contextlib.suppress(OSError):
                fh.close()
