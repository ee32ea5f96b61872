"""Event log: JSON schema, flushing, and continuing a file cut by a crash."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sepmon.apps.eventlog import EventLog
from sepmon.core.errors import SepmonError
from sepmon.core.model import Event, event_from_json


def test_json_schema_and_round_trip() -> None:
    ev = Event(t=1.23456, type="level", a="x", b="y", level=3, prev_level=1, range_m=2999.94,
               vertical_m=12.0, bearing_deg=45.0, tcpa_s=None, cpa_m=math.nan)  # fmt: skip
    d = json.loads(ev.to_json())
    for key in ("t", "type", "a", "b", "level", "range_m", "vertical_m", "tcpa_s", "cpa_m"):
        assert key in d
    assert d["t"] == 1.235 and d["range_m"] == 2999.9
    assert d["tcpa_s"] is None and d["cpa_m"] is None
    back = event_from_json(ev.to_json())
    assert back.level == 3 and back.b == "y"


def test_each_event_is_on_disk_before_write_returns(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    log = EventLog(path)
    log.write(Event(t=1.0, type="lost", a="x"))
    # Read through a separate handle while the log is still open.
    assert path.read_text().count("\n") == 1
    log.close()


def test_append_continues_after_a_cut_line(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(Event(t=1.0, type="lost", a="x").to_json() + '\n{"t":2.0,"ty')
    with EventLog(path) as log:
        log.write(Event(t=3.0, type="regained", a="x"))
    lines = path.read_text().splitlines()
    assert [json.loads(x)["t"] for x in lines] == [1.0, 3.0]


def test_unwritable_log_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SepmonError, match="cannot open event log"):
        EventLog(tmp_path / "no" / "such" / "dir" / "e.jsonl")


def test_disk_full_is_loud(tmp_path: Path) -> None:
    log = EventLog("/dev/full", append=False)
    with pytest.raises(SepmonError, match="write failed"):
        log.write(Event(t=1.0, type="lost", a="x"))
    assert log.write_errors == 1


@pytest.mark.parametrize(
    "line",
    [
        "[1, 2]",  # JSON, but no object
        '{"t": true, "type": "level", "a": "x", "b": "y", "level": 1}',  # bool is no time
        '{"t": 1.0, "type": "level", "a": "x", "level": 1}',  # a level change names two sources
        '{"t": 1.0, "type": "level", "a": "x", "b": "y", "level": "3"}',  # a level is an integer
    ],
)
def test_one_reader_refuses_what_is_not_an_event(line: str) -> None:
    # Oracle: the JSON text itself (RFC 8259 types) against Event's field types.
    with pytest.raises(ValueError):
        event_from_json(line)
