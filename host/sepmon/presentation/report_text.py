"""Terminal rendering of events and summaries (rich), shared by ``analyze`` and ``demo``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sepmon.core.model import Event, Level, PairStatus, SourceStats

LEVEL_STYLE = {0: "green", 1: "cyan", 2: "yellow", 3: "bold red"}


def level_name(level: int | None) -> str:
    """``WARNING`` for 3 and so on; ``-`` for None."""
    return "-" if level is None else Level(level).name


def clock(t: float) -> str:
    """Unix seconds → ``HH:MM:SS.s`` UTC."""
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S.%f")[:-5]


def _dist(m: float | None) -> str:
    if m is None or not math.isfinite(m):
        return "—"
    return f"{m / 1000:.2f} km" if m >= 1000 else f"{m:.0f} m"


def event_line(ev: Event, markup: bool = True) -> str:
    """One line describing an event: rich markup, or plain text (``markup=False``, for logs)."""

    def m(style: str, text: str) -> str:
        return f"[{style}]{escape(text)}[/]" if markup and style else text

    def t(text: str) -> str:
        return escape(text) if markup else text  # names and details may hold "[": not markup

    when = clock(ev.t)
    if ev.type in ("acquired", "lost", "regained"):
        return f"{when}  {m('magenta', ev.a)} track {ev.type}"
    if ev.type != "level":
        detail = f": {t(ev.detail)}" if ev.detail else ""
        return f"{when}  {m('magenta', ev.a)} {ev.type.replace('_', ' ')}{detail}"
    style = LEVEL_STYLE.get(ev.level or 0, "")
    arrow = "↑" if (ev.level or 0) > (ev.prev_level or 0) else "↓"
    cpa = f"CPA {_dist(ev.cpa_m)} in {ev.tcpa_s:.0f} s" if ev.tcpa_s is not None else "diverging"
    lost = " " + m("magenta", "(track lost)") if ev.lost else ""
    return (
        f"{when}  {t(ev.a)} ↔ {t(ev.b or '')}  {m(style, f'{arrow} {level_name(ev.level):8}')} "
        f"range {_dist(ev.range_m)}  vertical {_dist(ev.vertical_m)}  {cpa}{lost}"
    )


def summary_tables(
    stats: Mapping[str, SourceStats], pairs: Mapping[tuple[str, str], PairStatus]
) -> list[Table]:
    """Per-source ingest table and per-pair outcome table."""
    src = Table(title="Sources", title_justify="left")
    for col in ("source", "lines", "fixes", "ignored", "rejected (by reason)"):
        src.add_column(col, justify="right" if col in ("lines", "fixes", "ignored") else "left")
    for name in sorted(stats):
        st = stats[name]
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(st.rejected.items()) if v) or "none"
        src.add_row(name, str(st.lines), str(st.fixes), str(st.ignored), reasons)
    pt = Table(title="Pairs", title_justify="left")
    for col in ("pair", "minimum range", "highest level"):
        pt.add_column(col)
    for (a, b), p in sorted(pairs.items()):
        style = LEVEL_STYLE.get(int(p.max_level), "")
        pt.add_row(f"{a} ↔ {b}", _dist(p.min_range_m), f"[{style}]{p.max_level.name}[/]")
    return [src, pt]


def print_summary(
    console: Console,
    stats: Mapping[str, SourceStats],
    pairs: Mapping[tuple[str, str], PairStatus],
) -> None:
    """Print the summary tables, then a line per source without fixes or with unusual dates."""
    for table in summary_tables(stats, pairs):
        console.print(table)
    for line in source_notes(stats):
        console.print(escape(line), soft_wrap=True)


_DATE_NOTES = {
    "ZDA": "dates from ZDA",
    "receive time": "dates from the receive time (TAG c: or the host clock)",
    "--date": "no date in the recording: dates from --date",
    "relative": (
        "no date in the recording (no RMC/ZDA date, no TAG c:, no --date): relative time base, "
        "the receiver's UTC time of day on an arbitrary day shown as 1970-01-01"
    ),
}


def source_notes(stats: Mapping[str, SourceStats]) -> list[str]:
    """One line per source that gave no fix (why), and per date source other than RMC."""
    lines = []
    for name in sorted(stats):
        st = stats[name]
        if st.fixes == 0 and st.heard():
            lines.append(f"{name}: {st.why_no_fixes()}")
        for src, n in sorted(st.dated_by.items()):
            if n:
                lines.append(f"{name}: {n} of {st.fixes} fixes: {_DATE_NOTES.get(src, src)}")
    return lines
