"""The real ``sepmon run`` as a child process, for HIL tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class DaemonProcess:
    """``sepmon run --quiet`` as a child process, with its event log."""

    def __init__(self, ports: dict[str, str], events: Path, config: Path | None = None) -> None:
        self.events = events
        args = [sys.executable, "-m", "sepmon", "run", "--quiet", "--events", str(events)]
        if config is not None:
            args += ["--config", str(config)]
        args += [f"{name}={port}" for name, port in ports.items()]
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )

    def read_events(self) -> list[dict[str, Any]]:
        """Every complete line of the event log."""
        if not self.events.exists():
            return []
        out = []
        for line in self.events.read_text().splitlines():
            with contextlib.suppress(ValueError):  # the line being written
                out.append(json.loads(line))
        return out

    def wait_events(
        self, pred: Callable[[list[dict[str, Any]]], bool], timeout: float
    ) -> list[dict[str, Any]]:
        """Poll the log until ``pred`` holds; fail the test with the log on timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ev = self.read_events()
            if pred(ev):
                return ev
            if self.proc.poll() is not None:
                _, err = self.proc.communicate()
                pytest.fail(f"daemon exited {self.proc.returncode}: {err}")
            time.sleep(0.05)
        pytest.fail(f"timed out waiting; events: {[(e['type'], e['a']) for e in self.read_events()]}")

    def terminate(self) -> tuple[int, str, str]:
        """SIGTERM and wait; returns (status, stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        """SIGKILL: the host dies without a word."""
        self.proc.kill()
        self.proc.communicate(timeout=10)
