"""sepmon record: replay → ptys → record round trip, crash resume, port loss, errors."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sepmon.apps.record import Recorder
from sepmon.apps.replay import Replayer, load_recording
from sepmon.commands import record as record_cmd
from sepmon.core.checksum import nmea_checksum
from sepmon.core.errors import SepmonError
from sepmon.core.tagblock import TagBlock, parse_tag_block
from sepmon.links.sources import SourceSpec, spec_from_arg
from sepmon.sim import simulate, write_recording

pytestmark = pytest.mark.timeout(30)


def _nmea(body: str) -> bytes:
    return f"${body}*{nmea_checksum(body):02X}\r\n".encode()


async def _until(pred: Callable[[], object], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not pred() and time.monotonic() < end:
        await asyncio.sleep(0.01)
    assert pred(), "timed out"


def _tagged(path: Path) -> list[tuple[TagBlock, bytes]]:
    out = []
    for raw in path.read_bytes().split(b"\r\n")[:-1]:
        parsed = parse_tag_block(raw)
        assert isinstance(parsed, tuple), raw
        out.append(parsed)
    return out


def test_round_trip_replay_record_replay(tmp_path: Path) -> None:
    sim = simulate("crossing", rate=5, duration=3, bystander=True)
    src_path = tmp_path / "original.nmea"
    write_recording(sim, src_path)
    original = load_recording([src_path])
    speed = 3.0
    out = tmp_path / "recorded.nmea"
    notes: list[str] = []

    async def main() -> Replayer:
        replayer = Replayer(original.lines, tmp_path / "ports", speed)
        ports = replayer.open()
        specs = [spec_from_arg(f"{name}={port}") for name, port in ports.items()]
        recorder = Recorder(specs, out, note=notes.append)
        serve = asyncio.create_task(recorder.serve(install_signals=False))
        await _until(lambda: all(link.up for link in recorder.links.values()) and recorder.links)
        try:
            await asyncio.to_thread(replayer.run)
        finally:
            recorder.stop()
            await serve
            replayer.close()
        assert dict(recorder.counts) == {s: len(v) for s, v in original.lines.items()}
        return replayer

    asyncio.run(asyncio.wait_for(main(), 20))
    assert sorted(notes) == sorted(f"{s}: up {tmp_path / 'ports' / s}" for s in original.lines)

    tagged = _tagged(out)  # every line: a valid TAG block with our source and a ms receive time
    assert {t.source for t, _ in tagged} == set(original.lines)
    assert b"c:" in out.read_bytes()[:20] and out.read_bytes().count(b"\\") == 2 * len(tagged)

    again = load_recording([out])
    assert set(again.lines) == set(original.lines)
    for src, lines in original.lines.items():
        got = again.lines[src]
        assert [ln.data for ln in got] == [ln.data for ln in lines]  # the same bytes, line for line
        # The receive times show the replay's timing: the original's divided by the speed.
        offset = got[0].t - lines[0].t / speed
        err = [abs(g.t - offset - o.t / speed) for g, o in zip(got, lines, strict=True)]
        assert max(err) < 0.03, max(err)


def test_resumes_after_a_cut_line_and_replaces_input_tag_blocks(tmp_path: Path) -> None:
    out = tmp_path / "rec.nmea"
    kept = b"\\c:1700000000000,s:old*" + b"%02X" % nmea_checksum(b"c:1700000000000,s:old") + b"\\"
    kept += _nmea("GPTXT,kept")
    out.write_bytes(kept + b"\\c:17000000012")  # killed (power cut) in the middle of a line
    feed = tmp_path / "feed.nmea"
    body = "c:1600000000000,s:elsewhere"
    feed.write_bytes(
        f"\\{body}*{nmea_checksum(body):02X}\\".encode()
        + _nmea("GPTXT,tagged upstream")
        + b"\xb5\x62\x01\x07garbage"
        + _nmea("GPTXT,plain")
        + b"$GPTXT,unterminated"
    )
    rec = Recorder([spec_from_arg(f"feed=file://{feed}")], out)
    asyncio.run(rec.serve(0.5, install_signals=False))
    data = out.read_bytes()
    assert data.startswith(kept)
    tagged = _tagged(out)
    assert [(t.source, line) for t, line in tagged] == [
        ("old", _nmea("GPTXT,kept")[:-2]),
        ("feed", _nmea("GPTXT,tagged upstream")[:-2]),
        ("feed", _nmea("GPTXT,plain")[:-2]),
    ]
    t_new = tagged[1][0].rx_t
    assert t_new is not None and abs(t_new - time.time()) < 5  # our receive time, not the upstream one


def test_a_port_that_disappears_is_noted_once_and_retried(tmp_path: Path) -> None:
    lines = [(i * 0.02, _nmea(f"GPTXT,{i}")) for i in range(150)]  # 3 s
    out = tmp_path / "rec.nmea"
    notes: list[str] = []

    async def main() -> Recorder:
        replayer = Replayer({"alpha": lines}, tmp_path / "ports", speed=1)
        ports = replayer.open()
        recorder = Recorder([spec_from_arg(f"alpha={ports['alpha']}")], out, note=notes.append)
        serve = asyncio.create_task(recorder.serve(install_signals=False))
        await _until(lambda: any("up" in n for n in notes))
        replayer.start()
        try:
            await asyncio.sleep(0.5)
            replayer.unplug("alpha")
            await _until(lambda: any("down" in n for n in notes))
            await asyncio.sleep(0.6)  # several reopen attempts fail meanwhile
            replayer.replug("alpha")
            await _until(lambda: sum("up" in n for n in notes) == 2, timeout=3)
            await asyncio.to_thread(replayer.wait, 10)
        finally:
            recorder.stop()
            await serve
            replayer.close()
        return recorder

    recorder = asyncio.run(asyncio.wait_for(main(), 20))
    assert [n.split(":")[1].split()[0] for n in notes] == ["up", "down", "up"]
    numbers = [int(line.split(b",")[1].split(b"*")[0]) for _, line in _tagged(out)]
    assert numbers == sorted(numbers) and numbers[-1] == 149
    assert 40 < len(numbers) < 140 and recorder.counts["alpha"] == len(numbers)  # the outage is a gap


def test_errors_are_one_liners(tmp_path: Path) -> None:
    with pytest.raises(SepmonError, match="nothing to record"):
        Recorder([], tmp_path / "x.nmea")
    with pytest.raises(SepmonError, match="must not contain"):
        Recorder([SourceSpec(name="a$b", url="loop://", kind="serial")], tmp_path / "x.nmea")
    spec = spec_from_arg("loop://")
    with pytest.raises(SepmonError, match="used twice"):
        Recorder([spec, spec], tmp_path / "x.nmea")
    with pytest.raises(SepmonError, match="cannot open recording"):
        asyncio.run(Recorder([spec], tmp_path).serve(0.1, install_signals=False))

    p = argparse.ArgumentParser()
    record_cmd.add_arguments(p)
    with pytest.raises(SepmonError, match="output is required"):
        record_cmd.run(p.parse_args(["loop://"]))
    with pytest.raises(SepmonError, match="--duration"):
        record_cmd.run(p.parse_args(["loop://", "-o", str(tmp_path / "o.nmea"), "--duration", "-1"]))


def test_cli_records_for_a_duration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sepmon import cli

    feed = tmp_path / "gps.nmea"
    feed.write_bytes(_nmea("GPTXT,1") + _nmea("GPTXT,2"))
    out = tmp_path / "out.nmea"
    assert cli.main(["record", f"file://{feed}", "-o", str(out), "--duration", "0.4"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == f"sepmon record: 2 lines appended to {out} (gps.nmea 2)"
    assert [t.source for t, _ in _tagged(out)] == ["gps.nmea", "gps.nmea"]
