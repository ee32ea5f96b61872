r"""Recording live sources to one TAG-blocked NMEA file, crash-safe.

Every input is opened with :func:`sepmon.links.sources.open_link` (so a serial port
that disappears is retried, exactly as in the daemon), its bytes are cut into
lines by :class:`sepmon.core.framing.LineFramer`, and every complete line is appended
as ``<TAG block>\<line>\r\n`` where the TAG block
(:func:`sepmon.core.tagblock.format_tag_block`) carries the source name (``s:``) and
the host receive time in unix milliseconds (``c:``).  Each line goes to the OS
in one ``write`` the moment it is complete, so ``kill -9`` loses nothing that
was received; after a power cut at most the last line is cut, and that partial
line is removed when recording resumes (the file is always appended to).

What is kept is what the framer extracts: sentences, valid or not (a damaged
sentence is evidence), without binary noise between them.  A TAG block the
input already carries is replaced by ours.  Lines split by a link going down
are discarded (the part before the drop is not glued to what follows).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import stat
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from sepmon.apps.appendlog import drop_partial_last_line
from sepmon.apps.safeio import ThreadExecutor
from sepmon.core.errors import SepmonError
from sepmon.core.framing import LineFramer
from sepmon.core.model import Fix
from sepmon.core.tagblock import format_tag_block, parse_tag_block
from sepmon.links.open import Link, open_link
from sepmon.links.sources import SourceSpec, check_source_name
from sepmon.outputs.flarmcodec import gga, rmc

Note = Callable[[str], None]


class Recorder:
    """Records ``specs`` into ``path`` until ``stop()``, a duration, or a write error.

    ``note(text)`` gets one line per link change (``alpha: up /dev/ttyACM0``,
    ``alpha: down: ...``).  ``counts`` holds the lines written per source.
    """

    def __init__(
        self,
        specs: Sequence[SourceSpec],
        path: str | Path,
        *,
        max_line: int = 512,
        note: Note | None = None,
    ) -> None:
        if not specs:
            raise SepmonError(
                "nothing to record: give ports on the command line or [[sources]] in the config"
            )
        names = [s.name for s in specs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SepmonError(f"source name used twice: {', '.join(dup)}", status=2)
        for name in names:
            why = check_source_name(name)  # a name that fits a TAG block and reads back
            if why is not None:
                raise SepmonError(why, status=2)
            try:
                format_tag_block(name, None)
            except ValueError as exc:
                raise SepmonError(str(exc), status=2) from None
        self.specs = list(specs)
        self.path = Path(path)
        self.max_line = max_line
        self.note = note
        self.counts: Counter[str] = Counter()
        self.links: dict[str, Link] = {}
        self._up: dict[str, bool] = {}
        self._framers = {s.name: LineFramer(max_line) for s in self.specs}
        self._prefix_cache: dict[str, tuple[int, bytes]] = {}
        self._fd = -1
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self.error: SepmonError | None = None

    # ---- the file ----

    def _open_file(self) -> None:
        # Lines are written on the loop, one write each, so that kill -9 loses nothing
        # received; a named pipe would block that write (or the open) until read.
        with contextlib.suppress(OSError):
            if stat.S_ISFIFO(os.stat(self.path).st_mode):
                raise SepmonError(f"cannot open recording {self.path}: a named pipe", status=2)
        drop_partial_last_line(self.path, "recording")
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SepmonError(f"cannot open recording {self.path}: {exc.strerror or exc}") from None

    def _tag(self, source: str, rx_t: float) -> bytes:
        ms = round(rx_t * 1000)
        cached = self._prefix_cache.get(source)
        if cached is not None and cached[0] == ms:  # a read usually brings several lines
            return cached[1]
        tag = format_tag_block(source, ms / 1000).encode("ascii")
        self._prefix_cache[source] = (ms, tag)
        return tag

    def _write(self, source: str, lines: list[bytes], rx_t: float) -> None:
        if not lines or self._fd < 0:
            return
        tag = self._tag(source, rx_t)
        for line in lines:
            if line[:1] == b"\\":  # the input's own TAG block: ours replaces it
                parsed = parse_tag_block(line, require_checksum=False)
                line = parsed[1] if isinstance(parsed, tuple) else line[line.find(b"\\", 1) + 1 :]
                if not line:
                    continue
            try:
                os.write(self._fd, tag + line + b"\r\n")  # one write per line: never interleaved
            except OSError as exc:
                self.error = SepmonError(f"recording {self.path}: write failed: {exc.strerror or exc}")
                self.stop()
                return
            self.counts[source] += 1

    # ---- link callbacks (on the loop) ----

    def _on_data(self, key: str, data: bytes, rx_t: float) -> None:
        self._write(key, self._framers[key].feed(data), rx_t)

    def _on_fix(self, key: str, fix: Fix) -> None:
        """A fix from a link that delivers fixes (gpsd): kept as the RMC and GGA it stands for.

        Under the fix's own source name (a gpsd device's), so ``analyze`` reads the same
        fixes back: time, position, speed, course, quality, HDOP, satellites, height with
        its geoid separation (see docs/integrations.md).
        """
        rx_t = fix.rx_t if fix.rx_t is not None else time.time()
        self._write(fix.source, [rmc(fix).encode("ascii"), gga(fix).encode("ascii")], rx_t)

    def _on_state(self, key: str, up: bool, detail: str) -> None:
        was = self._up.get(key)
        self._up[key] = up
        if not up:
            self._framers[key] = LineFramer(self.max_line)  # a line cut by the drop is not glued to the next
            if was is False:
                return  # one note per outage: the retries' reasons are not news
        if self.note is not None:
            self.note(f"{key}: up {detail}" if up else f"{key}: down: {detail}")

    # ---- lifecycle ----

    def stop(self) -> None:
        """Ask ``serve()`` to return (safe from signal handlers on the loop's thread)."""
        self._stop_requested = True
        if self._stop is not None:
            self._stop.set()

    async def serve(self, duration: float | None = None, *, install_signals: bool = True) -> None:
        """Record until ``stop()``, SIGINT/SIGTERM (with ``install_signals``) or ``duration`` seconds.

        Raises ``SepmonError`` when the file cannot be opened or written.
        """
        if duration is not None and not (math.isfinite(duration) and duration > 0):
            raise SepmonError(f"duration must be a positive number of seconds, got {duration!r}", status=2)
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadExecutor())  # a stuck DNS lookup cannot hold the exit up
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        self._open_file()
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self.stop)
        try:
            for spec in self.specs:
                link = open_link(spec, loop, self._on_data, self._on_state, self._on_fix)
                self.links[spec.name] = link
                link.start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), duration)
        finally:
            if install_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    with contextlib.suppress(NotImplementedError, RuntimeError):
                        loop.remove_signal_handler(sig)
            for link in self.links.values():
                link.stop()  # never waits
            for link in self.links.values():
                join = getattr(link, "join", None)
                if join is not None:
                    join(0.3)
            fd, self._fd = self._fd, -1
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        if self.error is not None:
            raise self.error
