"""``file://`` sources: followed off the event loop, whatever the path is.

Oracle: the bytes each test writes itself, and the loop's own responsiveness (a
callback scheduled every 10 ms must keep running while a reader is blocked).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sepmon.links.sources import FileLink, spec_from_arg


async def _follow(
    path: Path, act: object, *, seconds: float = 3.0
) -> tuple[bytes, list[tuple[bool, str]], int]:
    """Run a FileLink on ``path`` while ``act(step)`` writes; returns (data, states, loop ticks)."""
    loop = asyncio.get_running_loop()
    got = bytearray()
    states: list[tuple[bool, str]] = []
    link = FileLink(
        spec_from_arg(f"feed=file://{path}"),
        loop,
        lambda _k, data, _t: got.extend(data),
        lambda _k, up, detail: states.append((up, detail)),
    )
    link.start()
    ticks = 0
    try:
        for step in range(int(seconds / 0.01)):
            act(step)  # type: ignore[operator]
            await asyncio.sleep(0.01)
            ticks += 1
    finally:
        link.stop()
    return bytes(got), states, ticks


def test_a_pipe_without_a_writer_blocks_nothing_and_is_read_once_a_writer_comes(tmp_path: Path) -> None:
    fifo = tmp_path / "feed.fifo"
    os.mkfifo(fifo)
    fds: list[int] = []

    def act(step: int) -> None:
        if step == 100:  # a writer turns up after a second
            fds.append(os.open(fifo, os.O_WRONLY))
            os.write(fds[0], b"$GPGGA,one*00\r\n")
        if step == 150:
            os.write(fds[0], b"$GPGGA,two*00\r\n")

    data, states, ticks = asyncio.run(_follow(fifo, act))
    for fd in fds:
        os.close(fd)
    assert ticks == 300  # the loop ran all along
    assert data == b"$GPGGA,one*00\r\n$GPGGA,two*00\r\n"
    assert states and states[0][0] is True


def test_a_growing_file_is_followed_and_a_truncated_one_read_again(tmp_path: Path) -> None:
    log = tmp_path / "feed.nmea"
    log.write_bytes(b"first\r\n")

    def act(step: int) -> None:
        if step == 50:
            with log.open("ab") as fh:
                fh.write(b"second\r\n")
        if step == 120:
            log.write_bytes(b"new\r\n")  # rotated: shorter than what was read

    data, _, _ = asyncio.run(_follow(log, act))
    assert data == b"first\r\nsecond\r\nnew\r\n"


def test_a_missing_file_is_reported_once_not_silently_waited_for(tmp_path: Path) -> None:
    _, states, _ = asyncio.run(_follow(tmp_path / "nope.nmea", lambda _s: None, seconds=2.5))
    assert states == [(False, f"{tmp_path / 'nope.nmea'}: No such file or directory")]
