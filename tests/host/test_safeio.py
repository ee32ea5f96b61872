"""safeio: inputs read without blocking, outputs that would eat an input, writes off the loop.

Oracles: POSIX (a FIFO opened O_NONBLOCK for reading returns at once; hard and symbolic
links name one inode; a pipe holds F_SETPIPE_SZ bytes and then blocks its writer;
``/dev/full`` fails every write with ENOSPC), and the bytes handed to the writer.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from sepmon.apps.safeio import BackgroundWriter, ThreadExecutor, check_outputs, read_regular
from sepmon.core.errors import SepmonError

F_SETPIPE_SZ = 1031  # linux/fcntl.h (F_LINUX_SPECIFIC_BASE + 7)


def test_read_regular_refuses_a_fifo_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    with pytest.raises(SepmonError, match="not a regular file"):
        read_regular(fifo, "configuration")
    with pytest.raises(SepmonError, match="a directory"):
        read_regular(tmp_path, "configuration")
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * 2000)
    with pytest.raises(SepmonError, match="too large"):
        read_regular(big, "configuration", limit=1000)
    assert read_regular(big, "configuration") == b"#" * 2000


def test_check_outputs_knows_a_file_by_its_inode(tmp_path: Path) -> None:
    src = tmp_path / "rec.nmea"
    src.write_text("x")
    os.link(src, tmp_path / "hard")
    (tmp_path / "soft").symlink_to(src)
    for alias in (tmp_path / "hard", tmp_path / "soft", tmp_path / "." / "rec.nmea"):
        with pytest.raises(SepmonError, match="refusing to write over an input"):
            check_outputs([("recording", src)], [("--events", alias)])
    with pytest.raises(SepmonError, match="two outputs cannot be one file"):
        check_outputs([], [("-o", tmp_path / "new"), ("--truth", tmp_path / "new")])
    # A device overwrites nothing: /dev/null may be named for every output.
    check_outputs([("recording", src)], [("--events", "/dev/null"), ("--tracks", "/dev/null")])
    check_outputs([("recording", src)], [("--events", tmp_path / "e.jsonl"), ("--tracks", None)])


def test_a_reader_that_does_not_read_never_blocks_the_writer_and_loses_nothing() -> None:
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, 4096)  # the kernel's smallest pipe: one page
    lines = [f"line {i:05d} {'x' * 90}\n".encode() for i in range(400)]  # ~40 kB, ten times the pipe
    writer = BackgroundWriter("pipe", lambda: w, max_lines=1000)
    for line in lines:
        writer.write(line)  # returns at once although nobody reads yet
    assert writer.pending > 0
    got = bytearray()
    expected = b"".join(lines)
    while len(got) < len(expected):
        got += os.read(r, 65536)
    assert writer.close(5.0) == 0
    assert bytes(got) == expected  # in order, none cut, none twice
    os.close(r)


def test_writes_that_fail_are_held_bounded_and_said_once() -> None:
    said: list[tuple[str, str]] = []
    done = threading.Event()

    def notify(kind: str, detail: str) -> None:
        said.append((kind, detail))
        done.set()

    fd = os.open("/dev/full", os.O_WRONLY)
    writer = BackgroundWriter("full", lambda: fd, notify=notify, max_lines=5, retry_s=0.05)
    for i in range(8):
        writer.write(f"{i}\n".encode())
    assert done.wait(10)
    assert writer.dropped == 3  # the first five are held, the newer three dropped and counted
    left = writer.close(1.0)
    assert left == 5
    assert [k for k, _ in said] == ["error"] and "No space left on device" in said[0][1]


def test_the_executor_never_waits_for_a_call_that_does_not_return() -> None:
    gate = threading.Event()
    ex = ThreadExecutor(max_threads=1)
    stuck = ex.submit(gate.wait)
    refused = ex.submit(lambda: 1)  # the one slot is taken: refused at once, not queued
    with pytest.raises(RuntimeError):
        refused.result(timeout=5)
    ex.shutdown(wait=True)  # returns although `stuck` is still running
    assert not stuck.done()
    gate.set()
    assert stuck.result(timeout=5) is True
