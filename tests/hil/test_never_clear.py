"""Never silently clear: every failure shows as a non-clear state on the board and in the live view.

One run, one vehicle per failure (each 20 km from the others, so no failure is
another's traffic), the real daemon in-process with its live view rendered to
text, the firmware's own logic on each virtual board. A healthy control vehicle
must stay clear: the matrix can fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from sepmon.apps.daemon import Daemon
from sepmon.apps.replay import Replayer, ReplayLine
from sepmon.core.checksum import frame_sentence
from sepmon.core.config import parse_config
from sepmon.links.sources import SourceSpec
from sepmon.presentation.liveview import LiveView

SECONDS = 14
FAIL_AT = 4  # seconds into the run when each fault starts


def _epoch(k: int, lat_min: float, *, fix: bool = True) -> bytes:
    """RMC + GGA of a receiver standing at 47°lat_min'N 11°21'E, second k after 10:00:00."""
    hhmmss = f"10{k // 60:02d}{k % 60:02d}.00"
    lat = f"47{lat_min:07.4f}"
    if fix:
        rmc = f"GPRMC,{hhmmss},A,{lat},N,01121.0000,E,0.0,0.0,150324,,,A"
        gga = f"GPGGA,{hhmmss},{lat},N,01121.0000,E,1,09,0.9,500.0,M,47.0,M,,"
    else:
        rmc = f"GPRMC,{hhmmss},V,,,,,,,150324,,,N"
        gga = f"GPGGA,{hhmmss},,,,,0,00,,,M,,M,,"
    return f"{frame_sentence(rmc)}\r\n{frame_sentence(gga)}\r\n".encode()


def _lines(lat_min: float, fault: Callable[[int], bytes | None]) -> list[ReplayLine]:
    out = []
    for k in range(SECONDS):
        data = _epoch(k, lat_min) if k < FAIL_AT else fault(k)
        if data is not None:
            out.append(ReplayLine(float(k), data))
    return out


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp: Path = tmp_path_factory.mktemp("never-clear")
    # 11 arc-minutes of latitude ≈ 20 km between neighbours.
    sources = {
        "control": _lines(0.0, lambda k: _epoch(k, 0.0)),
        "nofix": _lines(11.0, lambda k: _epoch(k, 11.0, fix=False)),  # receiver loses its fix
        "silent": _lines(22.0, lambda k: None),  # GPS module goes quiet
        "frozen": _lines(33.0, lambda k: _epoch(FAIL_AT - 1, 33.0)),  # receiver time stuck
        "pulled": _lines(44.0, lambda k: _epoch(k, 44.0)),  # USB cable pulled at FAIL_AT
        "mute": _lines(55.0, lambda k: _epoch(k, 55.0)),  # board stops acknowledging
    }
    replayer = Replayer(sources, tmp / "ports", speed=1.0, boards=True, hold=True)
    ports = replayer.open()
    config = parse_config({"separation": {"stale_s": 2.0, "hold_s": 1.0}})
    specs = [SourceSpec(name=n, url=p, kind="serial") for n, p in ports.items()]
    result: dict[str, object] = {}

    async def run() -> None:
        daemon = Daemon(config, specs)
        serve = asyncio.create_task(daemon.serve(install_signals=False))
        await asyncio.sleep(1.0)
        replayer.start()
        await asyncio.sleep(FAIL_AT)
        replayer.unplug("pulled")
        replayer._port("mute").board.mute_acks = True  # type: ignore[union-attr]
        await asyncio.to_thread(replayer.wait_played)
        await asyncio.sleep(1.5)
        console = Console(record=True, width=200, color_system=None)
        console.print(LiveView(daemon).render())
        result["view"] = console.export_text()
        result["boards"] = {n: replayer.board_view(n) for n in sources}
        daemon.stop()  # the host dies: every board must fall back to offline within its ttl
        await serve
        await asyncio.sleep(3.5)
        result["after_host"] = {n: replayer.board_view(n) for n in sources}

    try:
        asyncio.run(run())
    finally:
        replayer.close()
    return result


def _row(view: str, name: str, table: str) -> str:
    """The live view's row for ``name`` in the table titled ``table``."""
    section = view.split(table, 1)[1]
    return next(line for line in section.splitlines() if f" {name} " in line)


@pytest.mark.parametrize(
    ("source", "board_shows", "view_table", "view_says"),
    [
        ("nofix", {"degraded"}, "Sources", "LOST"),
        ("silent", {"nogps"}, "Sources", "LOST"),
        ("frozen", {"degraded"}, "Sources", "LOST"),
        ("pulled", {"offline"}, "Sources", "down"),
        ("mute", {"clear"}, "Boards", "not acknowledging"),  # the board is fine; the host says so
    ],
)
def test_each_failure_is_visible(
    matrix: dict[str, object], source: str, board_shows: set[str], view_table: str, view_says: str
) -> None:
    boards = matrix["boards"]
    assert isinstance(boards, dict)
    assert boards[source].pattern in board_shows, (source, boards[source])
    view = matrix["view"]
    assert isinstance(view, str)
    assert view_says in _row(view, source, view_table), view


def test_degraded_boards_are_named_in_the_live_view(matrix: dict[str, object]) -> None:
    view = matrix["view"]
    assert isinstance(view, str)
    for source in ("nofix", "frozen"):
        assert "DEGRADED N" in _row(view, source, "Boards")


def test_the_healthy_control_stays_clear(matrix: dict[str, object]) -> None:
    boards, view = matrix["boards"], matrix["view"]
    assert isinstance(boards, dict) and isinstance(view, str)
    assert boards["control"].pattern == "clear"
    assert "q1" in _row(view, "control", "Sources")


def test_host_gone_every_board_offline(matrix: dict[str, object]) -> None:
    after = matrix["after_host"]
    assert isinstance(after, dict)
    assert {n: v.pattern for n, v in after.items()} == dict.fromkeys(after, "offline")
