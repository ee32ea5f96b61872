"""Every command against bad inputs: none hangs, none eats an input, one schema everywhere.

Each case runs the real ``sepmon`` command in a child process with a time limit, so
a hang fails the test instead of stalling the suite. Oracles are outside sepmon:
POSIX (``open()`` of a FIFO without a writer blocks unless O_NONBLOCK; ``/dev/full``
fails every write with ENOSPC; hard and symbolic links name one inode), RFC 793
(a TCP port is a 16-bit field: 0-65535), the TOML 1.0 specification (what a table
is), CPython's documented 4300-digit limit on int parsing, and the input file's
own bytes (its SHA-256 before and after).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sepmon.sim import simulate, write_recording

TIMEOUT_S = 60.0


def sepmon(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line; a hang is a test failure (TimeoutExpired), never a stuck suite."""
    return subprocess.run(
        [sys.executable, "-m", "sepmon", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(proc: subprocess.CompletedProcess[str], status: int, *needles: str) -> None:
    """Exit ``status`` with one ``error:`` line on stderr naming each needle; no traceback."""
    err = proc.stderr.strip()
    assert proc.returncode == status, (proc.returncode, proc.stdout[-500:], err)
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(err.splitlines()) == 1 and "error:" in err, err
    for n in needles:
        assert n in err, (n, err)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "headon.nmea"
    write_recording(simulate("head-on", seed=1, duration=20.0), path)
    return path


# ---- item 3: no command writes over one of its inputs ----------------------------------------


@pytest.mark.parametrize("option", ["--events", "--tracks"])
def test_analyze_refuses_to_write_over_its_recording(tmp_path: Path, rec: Path, option: str) -> None:
    copy = tmp_path / "r.nmea"
    copy.write_bytes(rec.read_bytes())
    before = digest(copy)
    # Spelt differently (./r.nmea), and through a hard link: the same inode either way.
    os.link(copy, tmp_path / "hard.nmea")
    for out in ("./r.nmea", "hard.nmea"):
        proc = sepmon("analyze", "r.nmea", option, out, "-q", cwd=tmp_path)
        one_line_error(proc, 2, option, "input")
        assert digest(copy) == before


def test_analyze_refuses_one_file_for_both_outputs_and_writing_over_its_config(
    tmp_path: Path, rec: Path
) -> None:
    proc = sepmon("analyze", rec, "--events", tmp_path / "x", "--tracks", tmp_path / "x", "-q")
    one_line_error(proc, 2, "--tracks")
    assert not (tmp_path / "x").exists()
    config = tmp_path / "c.toml"
    config.write_text("[separation]\nhold_s = 3\n")
    (tmp_path / "link.toml").symlink_to(config)
    proc = sepmon("analyze", rec, "-c", config, "--events", tmp_path / "link.toml", "-q")
    one_line_error(proc, 2, "--events")
    assert config.read_text() == "[separation]\nhold_s = 3\n"


def test_record_refuses_to_record_into_its_config_or_a_file_source(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[sources]]\nname = "a"\nurl = "loop://"\n')
    before = digest(config)
    one_line_error(sepmon("record", "-c", config, "-o", config, "--duration", "1"), 2, "-o")
    assert digest(config) == before
    followed = tmp_path / "feed.nmea"
    followed.write_bytes(b"$GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,*5B\r\n")
    before = digest(followed)
    proc = sepmon("record", f"feed=file://{followed}", "-o", followed, "--duration", "1")
    one_line_error(proc, 2, "-o")
    assert digest(followed) == before


def test_simulate_refuses_truth_over_its_recording(tmp_path: Path) -> None:
    out = tmp_path / "o.nmea"
    proc = sepmon("simulate", "head-on", "-o", out, "--truth", out, "--duration", "5")
    one_line_error(proc, 2, "--truth")
    assert not out.exists()


def test_report_and_replay_refuse_to_write_over_their_inputs(tmp_path: Path, rec: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    events = out / "report.html"  # an event log that happens to sit where the page goes
    proc = sepmon("analyze", rec, "--events", tmp_path / "e.jsonl", "-q")
    assert proc.returncode == 0, proc.stderr
    events.write_bytes((tmp_path / "e.jsonl").read_bytes())
    before = digest(events)
    one_line_error(sepmon("report", events, "-o", out), 2, "report")
    assert digest(events) == before
    ports = tmp_path / "rec-copy.nmea"
    ports.write_bytes(rec.read_bytes())
    before = digest(ports)
    one_line_error(sepmon("replay", ports, "--ports-file", ports, "--speed", "0"), 2, "--ports-file")
    assert digest(ports) == before


# ---- item 8: a port number past 65535 -------------------------------------------------------


@pytest.mark.parametrize("url", ["tcp://127.0.0.1:65536", "tcp-listen://127.0.0.1:70000", "udp://:99999"])
def test_a_port_number_past_65535_fails_check_config(tmp_path: Path, url: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[[sources]]\nname = "a"\nurl = "{url}"\n')
    one_line_error(sepmon("run", "--check-config", "-c", config), 2, "sources[0].url", "port")


def test_check_config_warns_about_a_missing_file_source(tmp_path: Path) -> None:
    missing = tmp_path / "not-there.nmea"
    proc = sepmon("run", "--check-config", f"feed=file://{missing}")
    assert proc.returncode == 0
    assert str(missing) in proc.stderr and "warning" in proc.stderr, proc.stderr


# ---- item 9: a named pipe where a file is expected -----------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("analyze", "REC", "--config", "FIFO"),
        ("run", "--check-config", "--config", "FIFO"),
        ("run", "--config", "FIFO", "loop://"),
        ("record", "--config", "FIFO", "-o", "OUT", "--duration", "1"),
        ("report", "EVENTS", "--config", "FIFO", "-o", "OUTDIR"),
        ("replay", "FIFO"),
    ],
)
def test_a_named_pipe_as_input_is_refused_not_waited_for(
    tmp_path: Path, rec: Path, args: tuple[str, ...]
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # nobody ever writes: open() for reading would block forever
    events = tmp_path / "e.jsonl"
    events.write_text('{"t":1.0,"type":"acquired","a":"x"}\n')
    subst = {"FIFO": fifo, "REC": rec, "OUT": tmp_path / "o.nmea", "EVENTS": events, "OUTDIR": tmp_path / "r"}
    proc = sepmon(*(subst.get(a, a) for a in args))
    one_line_error(proc, 2 if "--config" in args else 1, str(fifo), "regular file")


# ---- item 10: huge numbers, deep nesting, a full disk ---------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[separation]\nhorizontal_m = " + "9" * 5000 + "\n", "4300"),  # CPython's int limit
        ("a = " + "[" * 1000 + "]" * 1000 + "\n", "recursion"),
    ],
)
@pytest.mark.parametrize("command", ["run", "analyze", "record", "report"])
def test_hostile_toml_is_a_config_error_for_every_command(
    tmp_path: Path, rec: Path, text: str, needle: str, command: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    args = {
        "run": ("run", "--check-config", "-c", config),
        "analyze": ("analyze", rec, "-q", "-c", config),
        "record": ("record", "loop://", "-o", tmp_path / "o.nmea", "--duration", "1", "-c", config),
        "report": ("report", tmp_path / "none.jsonl", "-o", tmp_path / "r", "-c", config),
    }[command]
    one_line_error(sepmon(*args), 2, "c.toml", needle)


def test_analyze_tracks_on_a_full_disk_is_one_line(rec: Path) -> None:
    one_line_error(sepmon("analyze", rec, "--tracks", "/dev/full", "-q"), 1, "/dev/full", "No space left")


# ---- item 11: one schema, checked the same by every command ---------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[daemon]\nbogus = 1\n", "daemon.bogus"),
        ('[[sources]]\nname = "a"\nurl = "loop://"\nbogus = 1\n', "sources[0].bogus"),
        ('[[sources]]\nname = "a"\nurl = "tcp://127.0.0.1:99999"\n', "sources[0].url"),
        ("[outputs.flarm]\nbogus = 1\n", "outputs.flarm.bogus"),
        ("[outputs.nosuch]\n", "outputs.nosuch"),
    ],
)
@pytest.mark.parametrize("command", ["run", "analyze", "record", "report"])
def test_every_command_refuses_what_run_refuses(
    tmp_path: Path, rec: Path, text: str, key: str, command: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    events = tmp_path / "e.jsonl"
    events.write_text('{"t":1.0,"type":"acquired","a":"x"}\n')
    args = {
        "run": ("run", "--check-config", "-c", config),
        "analyze": ("analyze", rec, "-q", "-c", config),
        "record": ("record", "loop://", "-o", tmp_path / "o.nmea", "--duration", "1", "-c", config),
        "report": ("report", events, "-o", tmp_path / "r", "-c", config),
    }[command]
    one_line_error(sepmon(*args), 2, key)


# ---- item 13: record bounds the source names it writes into every line -----------------------


def test_record_refuses_a_name_its_recording_could_not_carry(tmp_path: Path) -> None:
    out = tmp_path / "o.nmea"
    proc = sepmon("record", f"{'x' * 5000}=loop://", "-o", out, "--duration", "1")
    one_line_error(proc, 2, "at most")
    assert not out.exists() or out.stat().st_size == 0
    one_line_error(sepmon("record", "a/b=loop://", "-o", out, "--duration", "1"), 2, "must not contain")


def test_the_longest_name_record_accepts_reads_back(tmp_path: Path) -> None:
    """Oracle: the recording itself. Whatever record accepts, analyze reads back as that source."""
    from sepmon.links.sources import MAX_NAME

    name = "n" * MAX_NAME
    feed = tmp_path / "feed.nmea"
    write_recording(simulate("head-on", seed=2, duration=5.0), tmp_path / "sim.nmea")
    # The simulator's alpha, untagged, as a followed file.
    lines = [
        ln.split(b"\\")[-1] for ln in (tmp_path / "sim.nmea").read_bytes().splitlines() if b"s:alpha" in ln
    ]
    feed.write_bytes(b"\r\n".join(lines) + b"\r\n")
    out = tmp_path / "o.nmea"
    proc = sepmon("record", f"{name}=file://{feed}", "-o", out, "--duration", "2")
    assert proc.returncode == 0, proc.stderr
    tracks = tmp_path / "t.csv"
    ana = sepmon("analyze", out, "-q", "--tracks", tracks)
    assert ana.returncode == 0, ana.stderr
    rows = [r.split(",") for r in tracks.read_text().splitlines()[1:]]
    assert len(rows) >= 5 and {r[1] for r in rows} == {name}


@pytest.mark.parametrize("command", ["run", "analyze"])
def test_a_named_pipe_as_password_file_is_refused_not_waited_for(
    tmp_path: Path, rec: Path, command: str
) -> None:
    fifo = tmp_path / "pw"
    os.mkfifo(fifo, 0o600)  # nobody ever writes the password into it
    config = tmp_path / "c.toml"
    config.write_text(
        f'[outputs.mqtt]\nhost = "127.0.0.1"\nsite = "a"\nusername = "u"\npassword_file = "{fifo}"\n'
        "allow_plaintext_password = true\n"
    )
    config.chmod(0o600)
    args = (
        ("run", "--check-config", "-c", config) if command == "run" else ("analyze", rec, "-q", "-c", config)
    )
    one_line_error(sepmon(*args), 2, "password_file", "regular file")
