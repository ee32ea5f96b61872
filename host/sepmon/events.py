"""Events: what changed and when, written as JSON Lines.

One schema for the offline ``analyze`` and the live daemon, so a recording
analysed either way can be compared line by line.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sepmon.appendlog import drop_partial_last_line
from sepmon.errors import SepmonError


@dataclass(frozen=True, slots=True)
class Event:
    """One change: a pair's alert level (``type="level"``) or a track's standing.

    For track events (``acquired``, ``lost``, ``regained``), link events
    (``port_up``, ``port_down``) and board events (``board``, ``board_silent``,
    ``board_acking``) ``a`` is the source, ``b`` is None and ``detail`` says more.
    ``tcpa_s`` is None when the pair is diverging.
    """

    t: float
    type: str
    a: str
    b: str | None = None
    level: int | None = None
    prev_level: int | None = None
    range_m: float | None = None
    vertical_m: float | None = None
    bearing_deg: float | None = None
    tcpa_s: float | None = None
    cpa_m: float | None = None
    lost: bool = False
    detail: str | None = None

    def to_json(self) -> str:
        """One compact JSON object, floats rounded to what the sensors can resolve."""
        d: dict[str, Any] = {}
        for k in _FIELDS:  # not dataclasses.asdict: it deep-copies every value, on the alert path
            v = getattr(self, k)
            if isinstance(v, float):
                v = None if not math.isfinite(v) else round(v, 3 if k == "t" else 1)
            d[k] = v
        return json.dumps(d, separators=(",", ":"))


_FIELDS = tuple(f.name for f in fields(Event))


def event_from_json(line: str) -> Event:
    """Parse one JSONL line written by ``Event.to_json``."""
    d = json.loads(line)
    return Event(**{k: d.get(k) for k in Event.__slots__ if k in d})


def _drop_partial_last_line(path: Path) -> None:
    """Cut a line left half-written by a crash (see :func:`sepmon.appendlog.drop_partial_last_line`)."""
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
