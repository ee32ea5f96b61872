"""The user's command for real boards, ``sepmon check F --live --boards NAME=PORT ...``: each
board is fed its source's recording by GPS injection and judged on its own acks.

No hardware here: each "real board" is the firmware's logic behind a pty (a VirtualBench
board), which the command opens by its path exactly as it would open /dev/ttyACM0.
Oracle: the recording's geometry through its expectation file (tests/data/check was
written by the simulator; WARNING for the head-on pair ahead of the first violation,
nothing for the bystander), and the firmware's own report of its mode (its counters).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sepmon.apps.check import evaluate, load_expectations
from sepmon.apps.checklive import VirtualBench, observe_live
from sepmon.core.config import parse_config
from sepmon.core.model import Minima

DATA = Path(__file__).resolve().parents[1] / "data" / "check"
SPEED = 2.0
# the design's WARNING look-ahead less updates for latency, the extra hops and a loaded machine
LEAD_S = Minima().warning_s - 3.0

EXPECT = f"""
[[pair]]
pair = ["alpha", "bravo"]
reaches = "WARNING"
lead_s = {LEAD_S}
max = "WARNING"

[[pair]]
pair = ["alpha", "bystander"]
max = "NONE"

[[board]]
board = "alpha"
shows = "warning"
acknowledges = true

[[board]]
board = "bravo"
shows = "warning"
acknowledges = true

[[board]]
board = "bystander"
shows = "clear"
acknowledges = true

[run]
no_traceback = true
no_data_loss = true
"""


def test_real_board_command_feeds_boards_by_injection(tmp_path: Path) -> None:
    shutil.copy(DATA / "head-on.nmea", tmp_path)
    (tmp_path / "head-on.check.toml").write_text(EXPECT, encoding="utf-8")
    bench = VirtualBench(["alpha", "bravo", "bystander"], tmp_path / "usb")
    try:
        boards = [f"{n}={b.link}" for n, b in bench.boards.items()]
        rec = str(tmp_path / "head-on.nmea")
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "sepmon",
                "check",
                rec,
                "--live",
                "--boards",
                *boards,
                "--speed",
                str(SPEED),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            env={**os.environ, "COLUMNS": "200"},
        )
        counters = {
            n: (b.board.lines_injected, b.board.inject_ends, b.board.injecting)
            for n, b in bench.boards.items()
        }
    finally:
        bench.close()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "live, real boards (GPS injection)" in res.stdout and "SKIP" not in res.stdout
    assert "the board showed warning" in res.stdout  # judged on the boards' acks
    # every board took its whole recording through the mode and left it at the end ($PSEPG,OFF)
    for name, (injected, ends, on) in counters.items():
        assert injected > 40 and ends == 1 and not on, (name, counters)


def test_real_board_path_judged_on_acks_level_by_level(tmp_path: Path) -> None:
    """``boards={name: port}`` (the path ``--boards NAME=PORT`` takes): the expectations pass on
    what the boards' acks say, and a closing head-on climbs advisory, caution, warning in turn
    (geometry: constant closure crosses the rings from the outside in)."""
    path = DATA / "head-on.nmea"
    config = parse_config({})
    (tmp_path / "head-on.check.toml").write_text(EXPECT, encoding="utf-8")
    exp = load_expectations(tmp_path / "head-on.check.toml")
    bench = VirtualBench(["alpha", "bravo", "bystander"], tmp_path / "usb")
    try:
        real = observe_live(
            path,
            config,
            speed=SPEED,
            boards={n: str(b.link) for n, b in bench.boards.items()},
            workdir=tmp_path / "real",
        )
    finally:
        bench.close()
    assert real.mode == "live, real boards (GPS injection)"
    verdicts = evaluate(exp, real)
    assert all(o.status == "pass" for o in verdicts), [o.explain() for o in verdicts]
    shows = {o.seen for o in verdicts if o.expectation.kind == "shows"}
    assert shows <= {"the board showed warning", "the board showed clear"}
    alerts = ("advisory", "caution", "warning")
    for name in ("alpha", "bravo"):
        seq = [p for _, p in real.boards_seen[name] if p in alerts]
        assert seq == list(alerts), (name, real.boards_seen[name])  # a closing head-on climbs level by level


def test_virtual_boards_by_injection_from_the_command(tmp_path: Path) -> None:
    """``--boards virtual --inject``: the dropout recording (bravo silent 10.5 s, then back) through
    virtual boards fed over USB passes its expectations (oracle: its geometry, written beside it:
    WARNING for alpha/bravo, bravo lost and regained)."""
    shutil.copy(DATA / "dropout.nmea", tmp_path)
    shutil.copy(DATA / "dropout.check.toml", tmp_path)
    exp = tmp_path / "dropout.check.toml"
    exp.write_text(exp.read_text().replace("lead_s = 6.0", f"lead_s = {LEAD_S}"), encoding="utf-8")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "sepmon",
            "check",
            str(tmp_path / "dropout.nmea"),
            "--live",
            "--boards",
            "virtual",
            "--inject",
            "--speed",
            str(SPEED),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "live, virtual boards (GPS injection)" in res.stdout and "SKIP" not in res.stdout
    assert "the board showed warning" in res.stdout
