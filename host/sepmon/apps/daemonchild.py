"""The real ``sepmon run`` as a child process, watched through its event log and its output.

Used by ``sepmon check --live``, by the pytest plugin (:mod:`sepmon.apps.hiltest`),
by sepmon's own HIL and browser tests and by the soak run: the daemon opens its
ports exactly as it would open boards on USB, in a process of its own, so what is
checked is the program users run, not a function of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

from sepmon.core.errors import SepmonError
from sepmon.core.model import Event, event_from_obj

POLL_S = 0.05
_T = TypeVar("_T")
WEB_URL = re.compile(r"live view on (http://\S+/)")


class DaemonChild:
    """``sepmon run --quiet --events FILE [--config CFG] [EXTRA...] NAME=PORT...`` as a child process.

    Its stdout and stderr are read as they come (a full pipe would stall the
    daemon); ``events()`` reads the JSON Lines event log written so far (nothing
    while it is not a regular file, e.g. ``/dev/full`` standing in for a full disk).
    ``extra_args`` go before the ports, e.g. ``("--web", "127.0.0.1:0")``.
    """

    def __init__(
        self,
        ports: Mapping[str, str],
        events: str | Path,
        config: str | Path | None = None,
        *,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.events_path = Path(events)
        self.started = time.time()
        args = [sys.executable, "-m", "sepmon", "run", "--quiet", "--events", str(self.events_path)]
        if config is not None:
            args += ["--config", str(config)]
        args += [*extra_args, *(f"{name}={port}" for name, port in ports.items())]
        self.args = args
        try:
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env={**os.environ, "COLUMNS": "200"},
            )
        except OSError as exc:
            raise SepmonError(f"cannot start sepmon run: {exc.strerror or exc}") from None
        self._out: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._readers = [
            threading.Thread(target=self._pump, args=(stream, self._out[name]), daemon=True)
            for name, stream in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr))
        ]
        for t in self._readers:
            t.start()

    @staticmethod
    def _pump(stream: IO[str] | None, into: list[str]) -> None:
        if stream is None:
            return
        for line in stream:
            into.append(line)

    @property
    def running(self) -> bool:
        """The process has not exited."""
        return self.proc.poll() is None

    def output(self) -> tuple[str, str]:
        """(stdout, stderr) so far."""
        return "".join(self._out["stdout"]), "".join(self._out["stderr"])

    def raw_events(self) -> list[dict[str, Any]]:
        """Every complete line of the event log, as parsed JSON."""
        if not self.events_path.is_file():
            return []
        out = []
        try:
            text = self.events_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):  # the line being written
                out.append(json.loads(line))
        return out

    def events(self) -> list[Event]:
        """Every complete line of the event log, as events."""
        out = []
        for d in self.raw_events():
            ev = event_from_obj(d)
            if ev is not None:
                out.append(ev)
        return out

    def wait_events(
        self, pred: Callable[[list[Event]], object], timeout: float, what: str = "the condition"
    ) -> list[Event]:
        """Poll the event log until ``pred`` holds; a SepmonError naming ``what`` on timeout or exit."""
        return self._wait(self.events, pred, timeout, what)

    def wait_raw_events(
        self, pred: Callable[[list[dict[str, Any]]], object], timeout: float, what: str = "the condition"
    ) -> list[dict[str, Any]]:
        """:meth:`wait_events` on the log's JSON objects as written (:meth:`raw_events`)."""
        return self._wait(self.raw_events, pred, timeout, what)

    def wait_output(self, pred: Callable[[str], object], timeout: float, what: str = "the console") -> str:
        """Poll stdout + stderr until ``pred`` holds on their text; returns the text."""
        return self._wait(lambda: "".join(self.output()), pred, timeout, what)

    def _wait(self, read: Callable[[], _T], pred: Callable[[_T], object], timeout: float, what: str) -> _T:
        end = time.monotonic() + timeout
        while True:
            got = read()
            if pred(got):
                return got
            if not self.running:
                raise SepmonError(
                    f"sepmon run exited {self.proc.returncode} while waiting for {what}: "
                    f"{self.output()[1].strip()[-2000:]}"
                )
            if time.monotonic() > end:
                raise SepmonError(f"timed out after {timeout:g} s waiting for {what} ({self._last()})")
            time.sleep(POLL_S)

    def _last(self) -> str:
        """What the daemon last said, for a timeout's message."""
        evs = self.raw_events()
        if evs:
            shown = ", ".join(
                f"{e.get('type')} {e.get('a')}" + (f"/{e['b']}" if e.get("b") else "") for e in evs[-12:]
            )
            return f"last events: {shown}"
        return f"no events; console: {''.join(self.output())[-1500:]!r}"

    def web_url(self, timeout: float = 30.0) -> str:
        """The live view's address, as this run logged it (its ``web`` event; ``--web`` in ``extra_args``)."""
        since = self.started - 1.0

        def urls(evs: list[dict[str, Any]]) -> list[str]:
            return [
                m.group(1)
                for e in evs
                if e.get("type") == "web" and e.get("t", 0) >= since
                if (m := WEB_URL.search(str(e.get("detail") or "")))
            ]

        return urls(self.wait_raw_events(lambda evs: urls(evs), timeout, "the live view's address"))[-1]

    def rss_kb(self) -> int:
        """Resident set size of the daemon (VmRSS, Linux /proc), in kB."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError as exc:
            raise SepmonError(f"no memory figure for sepmon run: {exc}") from None
        raise SepmonError("no memory figure for sepmon run (no VmRSS)")

    def wait_ports_up(self, names: Mapping[str, str] | list[str], timeout: float = 30.0) -> None:
        """Wait until every named port has been opened once."""
        want = set(names)
        self.wait_events(
            lambda evs: want <= {e.a for e in evs if e.type == "port_up"},
            timeout,
            f"the ports of {', '.join(sorted(want))} to open",
        )

    def terminate(self, timeout: float = 20.0) -> tuple[int, str, str]:
        """SIGTERM and wait (SIGKILL after ``timeout``); returns (status, stdout, stderr)."""
        if self.running:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for t in self._readers:
            t.join(timeout=5)
        return self.proc.returncode, *self.output()

    def kill(self) -> None:
        """SIGKILL: the host dies without a word."""
        if self.running:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for t in self._readers:
            t.join(timeout=5)

    def __enter__(self) -> DaemonChild:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.running:
            self.kill()
