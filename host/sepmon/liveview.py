"""The terminal view of ``sepmon run``: links, tracks, pairs and boards, redrawn a few times a second."""

from __future__ import annotations

import math
from collections import deque

from rich.console import Group
from rich.markup import escape
from rich.table import Table

from sepmon.daemon import Daemon
from sepmon.events import Event
from sepmon.model import Level
from sepmon.report_text import LEVEL_STYLE, event_line


def _km(m: float) -> str:
    if not math.isfinite(m):
        return "—"
    return f"{m / 1000:.2f} km" if m >= 1000 else f"{m:.0f} m"


class LiveView:
    """Builds the renderable for ``rich.live.Live`` from the daemon's state."""

    def __init__(self, daemon: Daemon, recent: int = 8) -> None:
        self.daemon = daemon
        self.recent: deque[str] = deque(maxlen=recent)

    def add_event(self, ev: Event) -> None:
        """Keep the last few events for the bottom of the view."""
        self.recent.append(event_line(ev))

    def render(self) -> Group:
        """The whole screen."""
        d = self.daemon
        now = d.clock()
        links = Table(title="Sources", title_justify="left", expand=True)
        for col in ("source", "link", "fix", "HDOP", "age", "lines", "rejected"):
            links.add_column(col)
        tracks = d.monitor.tracker.tracks
        for name, st in d.status.items():
            tr = tracks.get(name)
            ingest = d.ingests[name].stats.get(name)
            link = "[green]up[/]" if st.up else f"[bold red]down[/] {escape(st.detail[:40])}"
            if tr is None or tr.last is None:
                fix, hdop, age = "[red]no fix[/]", "—", "—"
            else:
                age_s = now - tr.last_clock
                fix = "[bold magenta]LOST[/]" if tr.lost else f"q{tr.last.quality}"
                hdop = f"{tr.last.hdop:.1f}" if tr.last.hdop is not None else "—"
                age = f"{age_s:.1f} s"
            lines = str(ingest.lines) if ingest else "0"
            rej = str(sum(ingest.rejected.values())) if ingest else "0"
            links.add_row(name, link, fix, hdop, age, lines, rej)

        pairs = Table(title="Pairs", title_justify="left", expand=True)
        for col in ("pair", "range", "vertical", "TCPA", "CPA", "level"):
            pairs.add_column(col)
        for (a, b), p in sorted(d.monitor.pairs.items(), key=lambda kv: -int(kv[1].level)):
            style = LEVEL_STYLE.get(int(p.level), "")
            level = f"[{style}]{Level(p.level).name}[/]" + (" [magenta](lost)[/]" if p.lost else "")
            tcpa = f"{p.tcpa_s:.0f} s" if p.tcpa_s is not None else "diverging"
            pairs.add_row(f"{a} ↔ {b}", _km(p.range_m), _km(p.vertical_m), tcpa, _km(p.cpa_m), level)

        boards = Table(title="Boards", title_justify="left", expand=True)
        for col in ("board", "id", "firmware", "last status", "acks", "told"):
            boards.add_column(col)
        for name, bl in d.boards.items():
            boards.add_row(name, *bl.summary(now))
        return Group(links, pairs, boards, *self.recent)
