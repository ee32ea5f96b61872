"""A source that ends without any fix says why, in the daemon's event log and live view too (issue 12)."""

from __future__ import annotations

import asyncio
import io

from rich.console import Console
from test_daemon_links import _run_until, nmea_server

from sepmon.apps.daemon import Daemon
from sepmon.core.checksum import frame_sentence
from sepmon.core.config import parse_config
from sepmon.core.model import Event
from sepmon.links.sources import spec_from_arg
from sepmon.presentation.liveview import LiveView


def test_daemon_source_without_fixes_gets_a_no_fixes_event() -> None:
    # A receiver that never gets a fix (oracle: NMEA 0183 - RMC status V and GGA quality 0
    # carry no position): at exit the event log says so, with each reason and its count.
    lines = []
    for i in range(20):
        t = f"1200{i:02d}.00"
        lines.append(frame_sentence(f"GPRMC,{t},V,,,,,,,150324,,,N").encode() + b"\r\n")
        lines.append(frame_sentence(f"GPGGA,{t},,,,,0,00,99.99,,,,,,").encode() + b"\r\n")
    events: list[Event] = []
    views: list[str] = []

    async def main() -> None:
        done = asyncio.Event()

        def on_event(ev: Event) -> None:
            events.append(ev)

        async def wait_for_lines() -> None:
            while not any(e.type == "port_up" for e in events):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            console = Console(width=200, record=True, file=io.StringIO())
            console.print(LiveView(daemon).render())  # the live view says why, while it runs
            views.append(console.export_text())
            done.set()

        with nmea_server(lines) as port:
            daemon = Daemon(
                parse_config({}), [spec_from_arg(f"alpha=socket://127.0.0.1:{port}")], on_event=on_event
            )
            waiter = asyncio.create_task(wait_for_lines())
            await _run_until(daemon, done, 15.0)
            await waiter

    asyncio.run(main())
    got = [e for e in events if e.type == "no_fixes"]
    assert [e.a for e in got] == ["alpha"]
    assert got[0].detail is not None and got[0].detail.startswith("no fix: epochs dropped: no_fix ")
    assert len(views) == 1 and "↳ no fix: epochs dropped: no_fix " in views[0], views
