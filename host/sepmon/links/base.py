"""The contract of links that deliver fixes rather than bytes and are not ``[[sources]]`` (MQTT in).

Such a link (a *feed*) is started by the daemon with a :class:`FeedHost` and hands
the fixes it accepts to ``host.inject_fixes`` (all those of one read or message at
once: they are evaluated as one batch, like one read of a serial port); it reports
its own events through ``host.report`` and input it refuses through ``host.dropped``.
Links of ``[[sources]]`` are opened by :func:`sepmon.links.open.open_link`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from sepmon.core.model import Event, Fix


class FeedHost(Protocol):
    """What a feed may ask of the daemon."""

    def clock(self) -> float:
        """The host clock (unix seconds)."""
        ...

    def report(self, event: Event) -> None:
        """Log an event of the feed's own."""
        ...

    def inject_fix(self, fix: Fix) -> None:
        """Hand over a fix (``rx_t`` None: the host stamps it); prefer ``inject_fixes``."""
        ...

    def inject_fixes(self, fixes: Sequence[Fix]) -> None:
        """Hand over a batch of fixes, evaluated once for all of them."""
        ...

    def dropped(self, source: str, reason: str, count: int = 1) -> None:
        """Input refused (``reason``: size, json, schema, range, late, ...): event, live view, exit stats."""
        ...

    @property
    def local_sources(self) -> Collection[str]:
        """Names of the configured local sources (a feed must not take their names)."""
        ...


class Feed(Protocol):
    """A link that injects fixes (see the module docstring)."""

    name: str

    async def start(self, host: FeedHost) -> None:
        """Connect (in the background); never raises for a network problem."""

    async def stop(self) -> None:
        """Disconnect."""
