"""The real ``sepmon run --web`` as a child process, its event log read independently."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

URL = re.compile(r"live view on (http://\S+/)")


class WebDaemon:
    """``sepmon run --quiet --web HOST:PORT`` with its event log."""

    def __init__(
        self,
        ports: dict[str, str],
        events: Path,
        *,
        web: str | None = "127.0.0.1:0",
        config: Path | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        self.events = events
        args = [sys.executable, "-m", "sepmon", "run", "--quiet", "--events", str(events)]
        if web is not None:
            args += ["--web", web]
        if config is not None:
            args += ["--config", str(config)]
        args += [*extra, *(f"{name}={port}" for name, port in ports.items())]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ}
        )
        self.started = time.time()

    def read_events(self) -> list[dict[str, Any]]:
        """Every complete line of the event log."""
        if not self.events.is_file():
            return []
        out = []
        for line in self.events.read_text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def wait_events(
        self, pred: Callable[[list[dict[str, Any]]], Any], timeout: float
    ) -> list[dict[str, Any]]:
        """Poll the log until ``pred`` holds; fail the test with the log on timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ev = self.read_events()
            if pred(ev):
                return ev
            if self.proc.poll() is not None:
                pytest.fail(f"daemon exited {self.proc.returncode}: {self.proc.communicate()[1]}")
            time.sleep(0.02)
        pytest.fail(
            f"timed out waiting; events: {[(e['type'], e['a'], e.get('b')) for e in self.read_events()]}"
        )

    def url(self, timeout: float = 30.0) -> str:
        """The page's address, as the daemon logged it (``web`` event)."""
        since = self.started - 1.0

        def found(ev: list[dict[str, Any]]) -> bool:
            return any(e["type"] == "web" and e["t"] >= since and URL.search(e["detail"] or "") for e in ev)

        ev = self.wait_events(found, timeout)
        match = [URL.search(e["detail"]) for e in ev if e["type"] == "web" and e["t"] >= since]
        return [m for m in match if m][-1].group(1)

    def kill(self) -> None:
        """SIGKILL: the host dies without a word."""
        self.proc.kill()
        self.proc.communicate(timeout=10)

    def terminate(self, timeout: float = 15.0) -> tuple[int, str]:
        """SIGTERM and wait; (status, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err
