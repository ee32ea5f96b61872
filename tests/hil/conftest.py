"""Fixtures for hardware-in-the-loop tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from daemonproc import DaemonProcess


@pytest.fixture
def daemon_factory() -> Iterator[Callable[..., DaemonProcess]]:
    made: list[DaemonProcess] = []

    def make(ports: dict[str, str], events: Path, config: Path | None = None) -> DaemonProcess:
        d = DaemonProcess(ports, events, config)
        made.append(d)
        return d

    yield make
    for d in made:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.communicate(timeout=10)
