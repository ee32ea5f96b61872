"""sepmon report: plots and an HTML page from the outputs of sepmon analyze."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

import matplotlib.image as mpimg

from sepmon.apps.analyze import run_analysis
from sepmon.cli import main
from sepmon.core.config import Config
from sepmon.core.errors import SepmonError
from sepmon.presentation.report import (
    MAP_SIZE_PX,
    PAIR_SIZE_PX,
    build_report,
    level_segments,
    load_events,
    load_tracks,
)
from sepmon.sim import simulate
from sepmon.sim.writer import write_recording


@pytest.fixture(scope="module")
def head_on(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("headon")
    rec = d / "rec.nmea"
    write_recording(simulate("head-on"), rec)
    events, tracks = d / "events.jsonl", d / "tracks.csv"
    run_analysis([rec], Config(), events_out=events, tracks_out=tracks)
    return events, tracks


def png_size(data: bytes) -> tuple[int, int]:
    img = mpimg.imread(io.BytesIO(data), format="png")
    return img.shape[1], img.shape[0]


def test_report_files_images_and_page(head_on: tuple[Path, Path], tmp_path: Path) -> None:
    events, tracks = head_on
    out = tmp_path / "report"
    res = build_report(events, tracks, out)
    assert res.warnings == []
    assert res.html == out / "report.html" and res.html.is_file()
    names = sorted(p.name for p in res.images)
    assert names == ["map.png", "pair-01-alpha-bravo.png"]
    assert png_size((out / "map.png").read_bytes()) == MAP_SIZE_PX
    assert png_size((out / "pair-01-alpha-bravo.png").read_bytes()) == PAIR_SIZE_PX

    page = res.html.read_text(encoding="utf-8")
    # Self-contained: every image is a data URI that decodes to one of the PNGs; nothing external.
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == 2
    decoded = {base64.b64decode(u) for u in uris}
    assert decoded == {p.read_bytes() for p in res.images}
    assert not re.search(r'(src|href)="(?!data:|#)', page)
    # One table row per event, the level changes with their levels.
    n_events = sum(1 for line in events.read_text().splitlines() if line.strip())
    assert page.count('<tr class="ev">') == n_events
    # Up level by level, down at once once no volume is ahead (the Alerter, as DAIDALUS).
    assert "caution → warning" in page and "warning → none" in page
    # One section per pair, with its summary.
    assert page.count('<section class="pair"') == 1 and 'id="pair-alpha-bravo"' in page
    assert page.count('<tr class="pair">') == 1
    (pr,) = res.pairs
    assert pr.max_level == 3 and pr.closest is not None
    assert 100 < pr.closest.range_m < 200  # the head-on misses by 150 m
    assert pr.time_at(3) > 30


def test_level_segments() -> None:
    from sepmon.core.model import Event

    evs = [
        Event(t=10, type="level", a="a", b="b", level=1, prev_level=0),
        Event(t=20, type="level", a="a", b="b", level=3, prev_level=1),
        Event(t=30, type="level", a="a", b="b", level=0, prev_level=3),
        Event(t=40, type="level", a="a", b="b", level=2, prev_level=0),
    ]
    segs = level_segments(evs, t_end=50)
    assert [(s.t0, s.t1, s.level) for s in segs] == [(10, 20, 1), (20, 30, 3), (40, 50, 2)]


def test_bad_event_lines_are_counted_and_skipped(head_on: tuple[Path, Path], tmp_path: Path) -> None:
    events, tracks = head_on
    lines = events.read_text().splitlines()
    garbled = tmp_path / "garbled.jsonl"
    garbled.write_text("\n".join([lines[0], "{not json", '{"t": "x"}', *lines[1:], "[1]"]) + "\n")
    evs, skipped = load_events(garbled)
    assert len(evs) == len(lines) and skipped.count == 3 and skipped.first_line == 2
    res = build_report(garbled, tracks, tmp_path / "out")
    assert len(res.warnings) == 1 and "skipped 3 unreadable event lines" in res.warnings[0]
    assert "skipped 3 unreadable" in res.html.read_text(encoding="utf-8")


def test_events_only_without_tracks(head_on: tuple[Path, Path], tmp_path: Path) -> None:
    events, _ = head_on
    res = build_report(events, None, tmp_path / "out")
    assert [p.name for p in res.images] == ["pair-01-alpha-bravo.png"]
    assert png_size(res.images[0].read_bytes()) == PAIR_SIZE_PX
    assert "No tracks given" in res.html.read_text(encoding="utf-8")


def test_input_errors_are_one_line(head_on: tuple[Path, Path], tmp_path: Path) -> None:
    _, tracks = head_on
    with pytest.raises(SepmonError, match="no such file"):
        build_report(tmp_path / "nope.jsonl", None, tmp_path / "o")
    junk = tmp_path / "junk.jsonl"
    junk.write_text("hello\nworld\n")
    with pytest.raises(SepmonError, match="no readable event"):
        load_events(junk)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("a,b\n1,2\n")
    with pytest.raises(SepmonError, match="missing columns"):
        load_tracks(bad_csv)
    rows = tracks.read_text().splitlines()
    some_bad = tmp_path / "some_bad.csv"
    some_bad.write_text("\n".join([*rows[:5], "1,alpha,notalat,11,,,,,", *rows[5:]]) + "\n")
    tr, skipped = load_tracks(some_bad)
    assert skipped.count == 1 and sum(len(t.t) for t in tr.values()) == len(rows) - 1


def test_cli(head_on: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events, tracks = head_on
    assert main(["report", str(events), str(tracks), "-o", str(tmp_path / "r")]) == 0
    assert "report.html" in capsys.readouterr().out
    garbled = tmp_path / "g.jsonl"
    garbled.write_text(events.read_text() + "{broken\n")
    assert main(["report", str(garbled), "-o", str(tmp_path / "r2")]) == 0
    assert "warning:" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "r3")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err and "Traceback" not in err


def test_json_of_events_is_what_analyze_wrote(head_on: tuple[Path, Path]) -> None:
    events, _ = head_on
    evs, skipped = load_events(events)
    raw = [json.loads(line) for line in events.read_text().splitlines()]
    assert skipped.count == 0 and [e.type for e in evs] == [r["type"] for r in raw]
