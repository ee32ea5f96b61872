"""The real ``sepmon run`` as a child process, for HIL tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class DaemonProcess:
    """``sepmon run --quiet`` as a child process, with its event log."""

    def __init__(
        self,
        ports: dict[str, str],
        events: Path,
        config: Path | None = None,
        *,
        watch_output: bool = False,
    ) -> None:
        """``watch_output``: read stdout/stderr as they come (``output()``), e.g. with /dev/full as log."""
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
        self._out: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._readers: list[threading.Thread] = []
        if watch_output:
            for name, stream in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
                t = threading.Thread(target=self._pump, args=(stream, self._out[name]), daemon=True)
                t.start()
                self._readers.append(t)

    @staticmethod
    def _pump(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    def output(self) -> tuple[str, str]:
        """(stdout, stderr) so far (``watch_output=True`` only)."""
        return "".join(self._out["stdout"]), "".join(self._out["stderr"])

    def wait_output(self, pred: Callable[[str], bool], timeout: float) -> str:
        """Poll stdout + stderr until ``pred`` holds (``watch_output=True`` only)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = "".join(self.output())
            if pred(text):
                return text
            if self.proc.poll() is not None:
                pytest.fail(f"daemon exited {self.proc.returncode}: {text}")
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for the console; it says: {''.join(self.output())[-3000:]}")

    def rss_kb(self) -> int:
        """Resident set size of the daemon (VmRSS from /proc), in kB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def read_events(self) -> list[dict[str, Any]]:
        """Every complete line of the event log."""
        if not self.events.is_file():  # not yet there, or /dev/full standing in for a full disk
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
                err = self.output()[1] if self._readers else self.proc.communicate()[1]
                pytest.fail(f"daemon exited {self.proc.returncode}: {err}")
            time.sleep(0.05)
        pytest.fail(f"timed out waiting; events: {[(e['type'], e['a']) for e in self.read_events()]}")

    def terminate(self, timeout: float = 10.0) -> tuple[int, str, str]:
        """SIGTERM and wait; returns (status, stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        if self._readers:
            self.proc.wait(timeout=timeout)
            for t in self._readers:
                t.join(timeout=5)
            return self.proc.returncode, *self.output()
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        """SIGKILL: the host dies without a word."""
        self.proc.kill()
        if self._readers:
            self.proc.wait(timeout=10)
            return
        self.proc.communicate(timeout=10)
