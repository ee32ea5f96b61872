"""The terminal view of ``sepmon run``: links, tracks, pairs and boards, redrawn a few times a second.

It reads only the daemon's :class:`~sepmon.core.picture.Picture`, like every output.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

from rich.console import Group
from rich.markup import escape
from rich.table import Table

from sepmon.core.model import Event, Level
from sepmon.core.picture import BoardEntry, Picture
from sepmon.presentation.report_text import LEVEL_STYLE, event_line


def _km(m: float) -> str:
    if not math.isfinite(m):
        return "—"
    return f"{m / 1000:.2f} km" if m >= 1000 else f"{m:.0f} m"


def _drops(by_reason: dict[str, int]) -> str:
    if not by_reason:
        return "0"
    return "[bold red]" + ", ".join(f"{n} {escape(r)}" for r, n in sorted(by_reason.items())) + "[/]"


class PictureSource(Protocol):
    """Anything that can hand over the current picture (the daemon)."""

    def picture(self) -> Picture:
        """A snapshot of what the monitor sees now."""
        ...


def board_cells(board: BoardEntry, now: float) -> tuple[str, str, str, str, str]:
    """(id, firmware, last status, ack state, what the board was last told) for the live view."""
    status = "—" if board.uptime_ms is None else f"{now - board.status_t:.1f} s ago"
    acks = f"{board.acks} ok" if board.acking else "[bold red]not acknowledging[/]"
    if board.told_t == -math.inf:
        told = "—"
    elif board.told_level == Level.NONE and board.told_flags:
        # What the board shows: degraded, with why (N own position unknown, L traffic lost).
        told = f"[bold magenta]DEGRADED[/] {board.told_flags}"
    else:
        told = board.told_level.name
    return (board.board_id or "—", board.fw_version or "—", status, acks, told)


class LiveView:
    """Builds the renderable for ``rich.live.Live`` from the daemon's picture."""

    def __init__(self, source: PictureSource, recent: int = 8) -> None:
        self.source = source
        self.recent: deque[str] = deque(maxlen=recent)

    def add_event(self, ev: Event) -> None:
        """Keep the last few events for the bottom of the view."""
        self.recent.append(event_line(ev))

    def render(self) -> Group:
        """The whole screen."""
        pic = self.source.picture()
        now = pic.t
        head: list[str] = []
        if pic.behind_s is not None:
            head.append(
                f"[bold red]BEHIND real time[/] by {pic.behind_s:.1f} s "
                f"(at most {pic.worst_behind_s:.1f} s): alerts are late"
            )
        links = Table(title="Sources", title_justify="left", expand=True)
        for col in ("source", "link", "fix", "HDOP", "age", "lines", "rejected", "dropped"):
            links.add_column(col)
        for st in pic.sources:
            name = st.name
            tr = pic.track(name)
            link = "[green]up[/]" if st.up else f"[bold red]down[/] {escape(st.detail[:40])}"
            if tr is None:
                fix, hdop, age = "[red]no fix[/]", "—", "—"
            else:
                age_s = now - tr.last_clock
                fix = "[bold magenta]LOST[/]" if tr.state.lost else f"q{tr.fix.quality}"
                if tr.implausible:
                    fix += " [bold red]JUMP[/]"  # positions refused for an impossible speed
                hdop = f"{tr.fix.hdop:.1f}" if tr.fix.hdop is not None else "—"
                age = f"{age_s:.1f} s"
            drops = _drops(pic.drops_of(name))
            if st.devices and tr is None:
                fix = f"{len(st.devices)} receivers"  # a gpsd source: its receivers' rows follow
            links.add_row(name, link, fix, hdop, age, str(st.lines), str(st.rejected_total), drops)
            if st.why_no_fixes and tr is None:  # heard, but not one fix: say why (issue 12)
                links.add_row(f"  ↳ {escape(st.why_no_fixes)}", "", "", "", "", "", "", "")
            for dev in st.devices:  # the sources a gpsd link delivers, one per receiver
                dtr = pic.track(dev)
                if dtr is None:
                    links.add_row(f"  ↳ {escape(dev)}", "", "[red]no fix[/]", "—", "—", "", "", "")
                    continue
                dfix = "[bold magenta]LOST[/]" if dtr.state.lost else f"q{dtr.fix.quality}"
                dhdop = f"{dtr.fix.hdop:.1f}" if dtr.fix.hdop is not None else "—"
                links.add_row(
                    f"  ↳ {escape(dev)}", "", dfix, dhdop, f"{now - dtr.last_clock:.1f} s", "", "", ""
                )
        for name in sorted({s for s, _, _ in pic.drops} - {st.name for st in pic.sources}):
            links.add_row(escape(name), "—", "—", "—", "—", "—", "—", _drops(pic.drops_of(name)))  # peers

        pairs = Table(title="Pairs", title_justify="left", expand=True)
        for col in ("pair", "range", "vertical", "TCPA", "CPA", "level"):
            pairs.add_column(col)
        for p in sorted(pic.pairs, key=lambda p: (-int(p.level), p.a, p.b)):
            a, b = p.a, p.b
            style = LEVEL_STYLE.get(int(p.level), "")
            level = f"[{style}]{Level(p.level).name}[/]" + (" [magenta](lost)[/]" if p.lost else "")
            tcpa = f"{p.tcpa_s:.0f} s" if p.tcpa_s is not None else "diverging"
            pairs.add_row(f"{a} ↔ {b}", _km(p.range_m), _km(p.vertical_m), tcpa, _km(p.cpa_m), level)

        boards = Table(title="Boards", title_justify="left", expand=True)
        for col in ("board", "id", "firmware", "last status", "acks", "told"):
            boards.add_column(col)
        for board in pic.boards:
            boards.add_row(board.source, *board_cells(board, now))
        return Group(*head, links, pairs, boards, *self.recent)
