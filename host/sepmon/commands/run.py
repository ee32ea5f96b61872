"""``sepmon run``: the live daemon."""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
import sys
import threading
import tomllib

from rich.console import Console, RenderableType
from rich.live import Live

from sepmon.apps.configfile import load_config
from sepmon.apps.daemon import Daemon
from sepmon.apps.extensions import build_extensions
from sepmon.apps.safeio import BackgroundWriter, check_outputs, read_regular
from sepmon.apps.tracklog import TrackLog
from sepmon.commands._common import add_ports_argument, all_sources, file_inputs, file_source_problems
from sepmon.core.errors import SepmonError
from sepmon.core.model import Event
from sepmon.outputs.web import from_config as web_output
from sepmon.presentation.liveview import LiveView
from sepmon.presentation.report_text import event_line

NAME = "run"
HELP = "run the live monitor on serial ports / network sources and alert the boards"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``sepmon run``."""
    add_ports_argument(p)
    p.add_argument("--config", "-c", metavar="FILE", help="TOML configuration")
    p.add_argument("--events", metavar="FILE.jsonl", help="append events to this JSON Lines file")
    p.add_argument(
        "--quiet", "-q", action="store_true", help="no live view: one line per event (for services)"
    )
    p.add_argument("--check-config", action="store_true", help="validate the configuration and exit")
    p.add_argument(
        "--web", metavar="[HOST:]PORT", help="serve the live web view here (127.0.0.1 unless HOST; see [web])"
    )
    p.add_argument("--tracks", metavar="FILE.csv", help="append every accepted fix to this tracks CSV")


SECRET_KEYS = ("password_file", "key_file")
"""Keys of ``[outputs.*]`` tables that name a file holding a secret."""


def _secret_files(path: str) -> list[tuple[str, str]]:
    """``(key, file)`` of every secret file the configuration names (empty if it does not parse)."""
    try:
        raw = tomllib.loads(read_regular(path, "configuration").decode("utf-8"))
    except (SepmonError, ValueError, RecursionError):  # ValueError: TOML, UTF-8, a 5000-digit int
        return []  # load_config reports what is wrong with it
    outputs = raw.get("outputs")
    found: list[tuple[str, str]] = []
    if isinstance(outputs, dict):
        for name, table in outputs.items():
            if isinstance(table, dict):
                for key in SECRET_KEYS:
                    if isinstance(table.get(key), str) and table[key]:
                        found.append((f"outputs.{name}.{key}", table[key]))
    return found


def _check_permissions(path: str | None) -> None:
    """Refuse files other users could change or read (exit 2); warn about a group-writable config.

    Anyone who can write the configuration can point the daemon at their own
    sources, turn alerts off or send the credentials it names elsewhere; anyone
    who can read a password or key file has the credentials.
    """
    if path is None:
        return
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # load_config says what is wrong with it
    if mode & stat.S_IWOTH:
        raise SepmonError(
            f"{path}: refusing a configuration that anyone may write (chmod o-w {path})", status=2
        )
    secrets = _secret_files(path)
    if mode & stat.S_IWGRP:
        why = "it names credentials" if secrets else "it decides what is monitored"
        print(
            f"sepmon run: warning: {path}: the group may write this configuration "
            f"and {why} (chmod g-w {path})",
            file=sys.stderr,
        )
    for key, file in secrets:
        try:
            smode = os.stat(file).st_mode
        except OSError:
            continue  # the output's own check reports a missing file
        if smode & (stat.S_IROTH | stat.S_IWOTH):
            raise SepmonError(
                f"{file} ({key}): refusing a secret file that anyone may read or write (chmod o-rw {file})",
                status=2,
            )


class _Screen:
    """The live view's terminal, written by a thread of its own.

    The loop only builds the renderable and leaves it here; a terminal that does not
    take output (paused with Ctrl-S, a stalled ssh session) stalls this thread and
    rich's, never the event loop.
    """

    def __init__(self, console: Console, first: RenderableType) -> None:
        self._console = console
        self._next: RenderableType | None = first
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="live-view", daemon=True)
        self._thread.start()

    def show(self, renderable: RenderableType) -> None:
        """Replace what is shown next (never blocks)."""
        with self._cond:
            self._next = renderable
            self._cond.notify()

    def close(self, timeout: float) -> None:
        """Draw the last picture and leave the live display, waiting at most ``timeout`` s."""
        with self._cond:
            self._done = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        with Live(console=self._console, refresh_per_second=4, transient=False) as live:
            while True:
                with self._cond:
                    while self._next is None and not self._done:
                        self._cond.wait()
                    shown, self._next = self._next, None
                    done = self._done
                if shown is not None:
                    live.update(shown)
                if done:
                    return


def run(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM."""
    _check_permissions(args.config)
    config = load_config(args.config)
    specs = all_sources(config.raw.get("sources"), args.ports)
    check_outputs(
        [("--config", args.config), *file_inputs(specs)],
        [("--events", args.events), ("--tracks", args.tracks)],
    )
    ext = build_extensions(config.raw.get("outputs"))
    web = web_output("web", config.raw.get("web"), args.web, config.default_rule)
    if web is not None:
        ext.outputs.append(web)
    if args.check_config:
        for problem in file_source_problems(specs):
            print(f"sepmon run: warning: {problem}", file=sys.stderr)
        print(f"configuration OK: {len(specs)} source(s), {len(ext.outputs)} output(s)")
        return 0
    if args.tracks:
        ext.outputs.append(TrackLog(args.tracks, config.canonical))
    console = Console(highlight=False)
    view: LiveView | None = None
    # Services: plain text to stdout, written by a thread (a journal or a pipe that stalls
    # must not stall alerting; rich's markup rendering would cost the loop time too).
    out: BackgroundWriter | None = None

    def on_event(ev: Event) -> None:
        if view is not None:
            view.add_event(ev)
        elif out is not None:
            out.write((event_line(ev, markup=False) + "\n").encode("utf-8", "replace"))

    daemon = Daemon(
        config, specs, events_path=args.events, on_event=on_event, outputs=ext.outputs, feeds=ext.feeds
    )
    if args.quiet or not console.is_terminal:
        sys.stdout.flush()
        fd = os.dup(sys.stdout.fileno())
        out = BackgroundWriter("console", lambda: fd, max_lines=100_000)
        try:
            asyncio.run(daemon.serve())
        finally:
            left = out.close(0.3)  # the daemon used most of the 2 s SIGTERM allows
            if left or out.dropped:
                print(f"sepmon run: {left + out.dropped} console line(s) not written", file=sys.stderr)
        return 0
    view = LiveView(daemon)

    async def main() -> None:
        assert view is not None
        screen = _Screen(console, view.render())
        try:
            task = asyncio.create_task(daemon.serve())
            while not task.done():
                screen.show(view.render())
                await asyncio.sleep(0.25)
            await task
            screen.show(view.render())
        finally:
            screen.close(1.0)

    asyncio.run(main())
    return 0
