"""``sepmon demo`` end to end, sped up: what a new user sees must actually happen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sepmon.apps.demo import run_demo
from sepmon.cli import main
from sepmon.core.config import parse_config
from sepmon.sim import simulate


def test_demo_boards_warn_then_fail_safe(tmp_path: Path) -> None:
    sim = simulate(
        "head-on", seed=7, rate=1, bystander=True, cpa_time=55.0, duration=70.0
    )  # starts 6.6 km apart
    events = tmp_path / "ev.jsonl"
    result = run_demo(parse_config({}), speed=6.0, events_path=events, sim=sim)
    by_board: dict[str, list[str]] = {}
    for _, name, view in result.board_changes:
        by_board.setdefault(name, []).append(view.pattern)
    for name in ("alpha", "bravo"):
        seq = by_board[name]
        assert seq[0] == "offline"  # never clear before the host has spoken
        assert "warning" in seq
        assert seq.index("advisory") < seq.index("caution") < seq.index("warning")
        assert seq[-1] == "offline"  # the daemon stopped: offline within ttl
    assert "warning" not in by_board["bystander"] and by_board["bystander"][-1] == "offline"
    assert "nogps" in by_board["bystander"]
    logged = [json.loads(line) for line in events.read_text().splitlines()]
    assert any(e["type"] == "level" and e["level"] == 3 for e in logged)


def test_demo_rejects_bad_speed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--speed", "0"]) == 2
    assert "--speed must be between" in capsys.readouterr().err
