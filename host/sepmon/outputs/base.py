"""The contract between the daemon and its outputs (FLARM feed, MQTT, the web view to come).

An output is handed, and only reads: every fix the monitor accepted, every event,
and after each update the :class:`~sepmon.core.picture.Picture` (a read-only
snapshot of tracks, pairs, boards and sources). It never touches the daemon's
or the monitor's internals; all it may do to the daemon is report an event
through its :class:`OutputHost`. It must never raise: a failing output reports
through an event and goes on.
"""

from __future__ import annotations

from typing import Protocol

from sepmon.core.model import Event, Fix
from sepmon.core.picture import Picture


class OutputHost(Protocol):
    """What an output may ask of the daemon that feeds it."""

    def clock(self) -> float:
        """The host clock (unix seconds)."""
        ...

    def report(self, event: Event) -> None:
        """Log an event of the output's own (link errors, clients, peers, ...)."""
        ...

    def dropped(self, source: str, reason: str, count: int = 1) -> None:
        """Something refused or not delivered (``source``: a client, a peer): event, live view, exit stats."""
        ...


class Output(Protocol):
    """Something the daemon feeds besides the boards."""

    name: str

    async def start(self, host: OutputHost) -> None:
        """Open sockets / connections."""

    def on_fix(self, fix: Fix) -> None:
        """A fix has been accepted by the monitor."""

    def on_event(self, event: Event, picture: Picture) -> None:
        """An event has been logged; ``picture`` is the state right after it."""

    def on_tick(self, now: float, picture: Picture) -> None:
        """Periodic call (every ``TICK_S``) with the current picture; outputs keep their own cadence."""

    async def stop(self) -> None:
        """Close everything."""
