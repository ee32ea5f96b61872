"""The reader for a source spec: serial, network, file or gpsd (one factory, so no link imports another)."""

from __future__ import annotations

import asyncio
from typing import Protocol

from sepmon.links.gpsd import GpsdLink, OnFixes
from sepmon.links.sources import (
    FileLink,
    NetworkLink,
    OnData,
    OnDrop,
    OnEvent,
    OnFix,
    OnState,
    SerialLink,
    SourceSpec,
)


class LinkLike(Protocol):
    """What the daemon needs of any link."""

    spec: SourceSpec
    up: bool

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def write(self, data: bytes) -> bool: ...


Link = SerialLink | NetworkLink | FileLink | LinkLike


def open_link(
    spec: SourceSpec,
    loop: asyncio.AbstractEventLoop,
    on_data: OnData,
    on_state: OnState,
    on_fix: OnFix | None = None,
    *,
    on_event: OnEvent | None = None,
    on_drop: OnDrop | None = None,
    on_fixes: OnFixes | None = None,
) -> Link:
    """The reader for a spec (not started). Links that deliver fixes, not bytes, use ``on_fix``.

    ``on_event`` receives what a network link has to say about its peers (``exposed``,
    ``rate_limited``, ``peer_refused``); without it those go to the ``logging`` module.
    ``on_drop(source, reason, count)`` receives input a link had to refuse (overlong
    lines, rate limits, a serial backlog over ``MAX_PENDING``): ``Daemon.dropped``.
    """
    if spec.kind == "gpsd":
        if on_fix is None:
            raise ValueError("a gpsd link needs on_fix")
        return GpsdLink(spec, loop, on_fix, on_state, on_fixes=on_fixes, on_drop=on_drop)
    if spec.kind == "serial":
        return SerialLink(spec, loop, on_data, on_state, on_drop)
    if spec.kind == "file":
        return FileLink(spec, loop, on_data, on_state)
    return NetworkLink(spec, loop, on_data, on_state, on_event, on_drop)
