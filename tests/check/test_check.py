"""``sepmon check``: recordings judged against the expectation files beside them.

Oracles: the simulator's analytic ground truth (``sim.truth.first_violation``: exact
times the pair is inside the minima, from straight-line geometry) for every expected
alert time, with the design's 8 s WARNING look-ahead of the default minima
(docs/design.md); the edits made to recordings on purpose (a source's lines removed
over a known window, plus the configured ``stale_s``); the Jenkins xunit plugin's JUnit
schema (tests/data/check/junit-10.xsd) for the JUnit XML.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import tty
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from sepmon.apps.check import (
    LATENCY_S,
    evaluate,
    load_expectations,
    observe_offline,
    read_recorded,
)
from sepmon.apps.checklive import observe_live
from sepmon.apps.virtualboard import VirtualBoard
from sepmon.core.config import parse_config
from sepmon.core.model import Minima
from sepmon.core.tagblock import parse_tag_block
from sepmon.sim import Simulation, recording_bytes, simulate

DATA = Path(__file__).resolve().parents[1] / "data" / "check"
WARNING_S = Minima().warning_s  # the design's WARNING look-ahead of the default minima
H, V = Minima().horizontal_m, Minima().vertical_m
SPEED = 3.0  # live runs: times in the recording are SPEED x wall-clock latency
SPEED_AGREE = 2.0  # offline vs live within one update: 0.75 s of wall-clock latency at 1 Hz


def head_on() -> Simulation:
    return simulate("head-on", seed=5, rate=1, bystander=True, separation=7200.0, duration=45.0)


def dropout_sim() -> Simulation:
    return simulate("crossing", seed=7, rate=2, separation=6000.0, duration=50.0)


def drop_lines(data: bytes, source: str, start_s: float, end_s: float) -> bytes:
    """``source``'s lines received in [start_s, end_s) after the first line of the file, removed."""
    out = []
    t0 = None
    for line in data.splitlines(keepends=True):
        parsed = parse_tag_block(line.rstrip(b"\r\n"))
        assert isinstance(parsed, tuple)
        tags = parsed[0]
        assert tags.rx_t is not None
        t0 = tags.rx_t if t0 is None else t0
        if tags.source == source and start_s <= tags.rx_t - t0 < end_s:
            continue
        out.append(line)
    return b"".join(out)


def sepmon(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sepmon", "check", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def copy_case(tmp_path: Path, name: str) -> Path:
    shutil.copy(DATA / f"{name}.nmea", tmp_path)
    shutil.copy(DATA / f"{name}.check.toml", tmp_path)
    return tmp_path / f"{name}.nmea"


def test_data_recordings_are_the_simulators_output() -> None:
    # The truth used below belongs to these very files.
    assert (DATA / "head-on.nmea").read_bytes() == b"".join(recording_bytes(head_on().lines))
    raw = b"".join(recording_bytes(dropout_sim().lines))
    assert (DATA / "dropout.nmea").read_bytes() == drop_lines(raw, "bravo", 8.0, 18.0)


def test_data_recordings_pass_offline(tmp_path: Path) -> None:
    # The two recordings beside their expectations, through the command as a user runs it
    # (the suites in the subdirectories: test_suites.py).
    res = sepmon(DATA / "head-on.nmea", DATA / "dropout.nmea", "--junit", tmp_path / "r.xml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "checked 2 recording(s) offline: 2 passed, 0 failed" in res.stdout
    assert "FAIL" not in res.stdout and "Traceback" not in res.stderr


@pytest.mark.parametrize("scenario", ["head-on", "crossing", "climbing"])
@pytest.mark.parametrize("rate", [1, 5])
def test_first_violation_from_the_recording_follows_sim_truth(
    tmp_path: Path, scenario: str, rate: int
) -> None:
    sim = simulate(scenario, seed=3, rate=rate, separation=6000.0)
    path = tmp_path / "r.nmea"
    path.write_bytes(b"".join(recording_bytes(sim.lines)))
    rd = read_recorded(path, parse_config({}))
    truth = sim.truth.first_violation("alpha", "bravo", H, V)
    assert truth is not None
    # Receive times run a few tens of ms behind fix times; noise is metres at 60+ m/s closing.
    assert rd.violations["alpha/bravo"] == pytest.approx(truth - rd.start, abs=0.25)


def _expect(path: Path, body: str) -> Path:
    exp = path.with_name(path.stem + ".check.toml")
    exp.write_text(body)
    return exp


def test_alert_lead_from_sim_truth_passes_and_a_stricter_one_fails(tmp_path: Path) -> None:
    sim = head_on()
    path = tmp_path / "head-on.nmea"
    shutil.copy(DATA / "head-on.nmea", path)
    rd = read_recorded(path, parse_config({}))
    violation = sim.truth.first_violation("alpha", "bravo", H, V)
    assert violation is not None
    v_rel = violation - rd.start
    interval = 1.0  # --rate 1
    # What the analytic geometry allows: WARNING 8 s ahead, less one update and latency.
    ok_lead = WARNING_S - interval - LATENCY_S
    # More than any monitor looking 8 s ahead can give: two updates beyond the look-ahead.
    strict_lead = WARNING_S + 2 * interval
    _expect(
        path,
        f'[[pair]]\npair = ["alpha", "bravo"]\nreaches = "WARNING"\nlead_s = {ok_lead}\n'
        f"by_s = {v_rel - ok_lead:.1f}\n",
    )
    res = sepmon(path)
    assert res.returncode == 0, res.stdout
    _expect(path, f'[[pair]]\npair = ["bravo", "alpha"]\nreaches = "WARNING"\nlead_s = {strict_lead}\n')
    res = sepmon(path)
    assert res.returncode == 1
    fail = next(ln for ln in res.stdout.splitlines() if ln.startswith("FAIL"))
    # Expected, seen and where: the truth's violation time and the onset it was measured against.
    m = re.search(
        r"WARNING ([\d.]+) s before the first violation at \+([\d.]+) s.*: ([\d.]+) s late; at \+([\d.]+) s",
        fail,
    )
    assert m, fail
    lead, viol_at, late, onset = map(float, m.groups())
    assert viol_at == pytest.approx(v_rel, abs=0.25)
    assert onset == pytest.approx(viol_at - lead, abs=0.11)  # three figures printed to 0.1 s
    assert late == pytest.approx(strict_lead - lead, abs=0.1)
    assert WARNING_S - interval - LATENCY_S <= lead <= WARNING_S + interval


def test_encounter_moved_later_fails_by_the_delay(tmp_path: Path) -> None:
    # The same encounter 2400 m further apart: at 120 m/s closing it happens 20 s later.
    orig = head_on()
    later = simulate("head-on", seed=5, rate=1, bystander=True, separation=9600.0, duration=90.0)
    v0 = orig.truth.first_violation("alpha", "bravo", H, V)
    v1 = later.truth.first_violation("alpha", "bravo", H, V)
    assert v0 is not None and v1 is not None
    delay = (v1 - later.start) - (v0 - orig.start)
    assert delay == pytest.approx(20.0, abs=0.01)
    path = tmp_path / "session.nmea"
    path.write_bytes(b"".join(recording_bytes(later.lines)))
    by = v0 - orig.start - WARNING_S + 1.5  # the original's WARNING deadline, from its truth
    _expect(path, f'[[pair]]\npair = ["alpha", "bravo"]\nreaches = "WARNING"\nby_s = {by:.1f}\n')
    res = sepmon(path)
    assert res.returncode == 1
    fail = next(ln for ln in res.stdout.splitlines() if ln.startswith("FAIL"))
    m = re.search(r"([\d.]+) s after \+", fail)
    assert m, fail
    assert float(m.group(1)) == pytest.approx(delay - 1.5, abs=1.5)


def test_dropped_source(tmp_path: Path) -> None:
    path = copy_case(tmp_path, "dropout")
    exp = path.with_name("dropout.check.toml")
    res = sepmon(path)
    assert res.returncode == 0, res.stdout  # untouched: lost and regained as expected
    # Expect bravo never to be lost: it is, stale_s (5 s, the default) after its last line at +8 s.
    exp.write_text(exp.read_text().replace("lost_and_regained = true", "never_lost = true"))
    res = sepmon(path)
    assert res.returncode == 1
    fails = [ln for ln in res.stdout.splitlines() if ln.startswith("FAIL")]
    assert len(fails) == 1 and "source bravo is never lost; seen lost" in fails[0]
    m = re.search(r"at \+([\d.]+) s", fails[0])
    assert m and float(m.group(1)) == pytest.approx(8.0 + parse_config({}).stale_s, abs=1.0)
    # Bravo dropped altogether: everything about bravo fails, and says why.
    path.write_bytes(drop_lines(path.read_bytes(), "bravo", -1.0, 1e9))
    shutil.copy(DATA / "dropout.check.toml", exp)
    res = sepmon(path)
    assert res.returncode == 1
    fails = [ln for ln in res.stdout.splitlines() if ln.startswith("FAIL")]
    bravo = [f for f in fails if "bravo" in f.split("; seen")[0]]
    assert len(bravo) == 5 and all("seen no source 'bravo' in the recording" in f for f in bravo)
    # Alone, alpha's board has nothing to warn about.
    assert [f for f in fails if f not in bravo] == [
        f"FAIL {path}: expected board alpha shows warning; seen told by the host (no board seen): clear; "
        "never warning"
    ]


def test_update_says_what_it_wrote(tmp_path: Path) -> None:
    path = tmp_path / "session.nmea"
    shutil.copy(DATA / "head-on.nmea", path)
    exp = tmp_path / "session.check.toml"
    res = sepmon(path, "--update")
    assert res.returncode == 0, res.stdout
    assert f"wrote {exp} (new):" in res.stdout and exp.read_text().splitlines()[5] in res.stdout
    res = sepmon(path, "--update")
    assert f"{exp}: unchanged" in res.stdout
    exp.write_text(exp.read_text().replace('max = "NONE"', 'max = "ADVISORY"', 1))
    res = sepmon(path, "--update")
    assert f"updated {exp}:" in res.stdout
    assert '-max = "ADVISORY"' in res.stdout and '+max = "NONE"' in res.stdout
    # Written from offline analysis, checked against the simulator's truth: WARNING at least
    # lead_s before the true first violation, and never earlier than the look-ahead allows.
    doc = load_expectations(exp)
    (reach,) = [e for e in doc.items if e.kind == "reaches"]
    assert reach.subject == "alpha/bravo" and reach.args["level"] == "WARNING"
    assert WARNING_S - 1.0 - LATENCY_S - 1.0 <= reach.args["lead_s"] <= WARNING_S


def test_bad_input_is_one_line_and_never_a_pass(tmp_path: Path) -> None:
    runs = [res := sepmon(tmp_path / "nothing.nmea")]
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "no such file" in res.stderr
    path = copy_case(tmp_path, "dropout")
    exp = path.with_name("dropout.check.toml")
    exp.write_text(exp.read_text().replace("reaches =", "reachs ="))
    runs.append(res := sepmon(path))
    assert res.returncode == 1
    assert "ERROR" in res.stdout and "unknown key 'reachs'" in res.stdout
    exp.unlink()
    runs.append(res := sepmon(path))
    assert res.returncode == 1 and "no expectation file" in res.stdout
    runs.append(res := sepmon(path, "--boards", "virtual"))
    assert res.returncode == 2 and "--boards needs --live" in res.stderr
    exp.write_text("[run]\nno_traceback = true\n")
    runs.append(res := sepmon(path, "--live", "--boards", "alpha=/dev/null"))
    assert res.returncode == 1 and "cannot open board alpha at /dev/null" in res.stdout  # not a serial port
    assert not [r for r in runs if "Traceback" in r.stderr + r.stdout]


def test_junit_validates_against_the_jenkins_schema(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    copy_case(tmp_path / "a", "head-on")  # passes, with skips (acknowledges: no boards offline)
    (tmp_path / "b").mkdir()
    broken = copy_case(tmp_path / "b", "dropout")
    bexp = broken.with_name("dropout.check.toml")
    bexp.write_text(bexp.read_text().replace("lost_and_regained", "never_lost"))  # one failure
    shutil.copy(DATA / "head-on.nmea", tmp_path / "b" / "orphan.nmea")  # no expectations: an error
    xml_path = tmp_path / "r.xml"
    res = sepmon(tmp_path / "a", tmp_path / "b", "--junit", xml_path)
    assert res.returncode == 1
    schema = xmlschema.XMLSchema(DATA / "junit-10.xsd")
    schema.validate(xml_path)  # raises with the offending element when it does not
    root = ET.parse(xml_path).getroot()
    suites = {Path(s.get("name", "")).name: s for s in root.iter("testsuite")}
    assert set(suites) == {"head-on.nmea", "dropout.nmea", "orphan.nmea"}
    assert (
        suites["head-on.nmea"].get("failures") == "0" and int(suites["head-on.nmea"].get("skipped", 0)) == 3
    )
    assert suites["dropout.nmea"].get("failures") == "1"
    (failure,) = suites["dropout.nmea"].iter("failure")
    assert "source bravo is never lost" in failure.get("message", "")
    assert suites["orphan.nmea"].get("errors") == "1"
    assert root.get("failures") == "1" and root.get("errors") == "1"


def test_live_with_virtual_boards_agrees_with_offline(tmp_path: Path) -> None:
    path = DATA / "head-on.nmea"
    config = parse_config({})
    exp = load_expectations(DATA / "head-on.check.toml")
    rd = read_recorded(path, config)
    offline = observe_offline(path, config, rd)
    live = observe_live(path, config, speed=SPEED_AGREE, boards="virtual", workdir=tmp_path, recorded=rd)
    verdicts = {o.name: o for o in evaluate(exp, live)}
    assert all(o.status == "pass" for o in verdicts.values()), [o.explain() for o in verdicts.values()]
    # Boards were in the loop: what they showed, not what they were told, and every alert acked.
    assert verdicts["board alpha shows warning"].seen == "the board showed warning"
    assert verdicts["board bravo acknowledges every alert"].status == "pass"
    # The same level changes, each within one update (1 s at 1 Hz) plus latency of the offline time.
    assert [(c.pair, c.level) for c in live.levels] == [(c.pair, c.level) for c in offline.levels]
    for a, b in zip(offline.levels, live.levels, strict=True):
        assert abs(a.t - b.t) <= 1.0 + LATENCY_S, (offline.levels, live.levels)
    # And both warn before the truth's first violation, by at least what the expectation says.
    truth = head_on().truth.first_violation("alpha", "bravo", H, V)
    assert truth is not None
    warn = next(c.t for c in live.levels if c.level == 3)
    assert warn <= truth - rd.start - exp.items[0].args["lead_s"]


def test_live_command_on_the_dropout_recording(tmp_path: Path) -> None:
    # The user's command: boards in the loop, a source that goes silent and comes back.
    path = copy_case(tmp_path, "dropout")
    res = sepmon(path, "--live", "--boards", "virtual", "--speed", str(SPEED), "--junit", tmp_path / "j.xml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "live, virtual boards" in res.stdout and "SKIP" not in res.stdout
    xmlschema.XMLSchema(DATA / "junit-10.xsd").validate(tmp_path / "j.xml")


class StandInBoard:
    """The firmware's logic wired as a real board is: its own USB port, its GPS RX on a USB-serial adapter.

    The adapter is a pty whose far end feeds the board's GPS UART; the real-board path of
    ``sepmon check`` (``--boards NAME=PORT --gps-feed NAME=DEVICE``) cannot tell it from hardware.
    """

    def __init__(self, name: str, directory: Path) -> None:
        self.board = VirtualBoard(name, directory / f"usb-{name}")
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.adapter = os.ttyname(slave)
        self.patterns: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            with contextlib.suppress(BlockingIOError):
                self.board.write_gps(os.read(self._master, 4096))
            self.board.poll()
            p = self.board.view().pattern
            if not self.patterns or self.patterns[-1] != p:
                self.patterns.append(p)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.board.close()
        for fd in (self._master, self._slave):
            os.close(fd)


def test_real_board_path_with_stand_in_boards(tmp_path: Path) -> None:
    # Real hardware is not here: stand-ins run the firmware's logic behind a USB port and a GPS adapter.
    sim = simulate("head-on", seed=2, rate=2, separation=4200.0, duration=32.0)
    path = tmp_path / "enc.nmea"
    path.write_bytes(b"".join(recording_bytes(sim.lines)))
    violation = sim.truth.first_violation("alpha", "bravo", H, V)
    assert violation is not None
    lead = WARNING_S - 3.0  # the look-ahead, less updates for latency, the adapter hops and load
    _expect(
        path,
        f'[[pair]]\npair = ["alpha", "bravo"]\nreaches = "WARNING"\nlead_s = {lead}\n'
        '[[board]]\nboard = "alpha"\nshows = "warning"\nacknowledges = true\n'
        '[[board]]\nboard = "bravo"\nshows = "warning"\nacknowledges = true\n'
        "[run]\nno_traceback = true\nno_data_loss = true\n",
    )
    boards = {name: StandInBoard(name, tmp_path) for name in ("alpha", "bravo")}
    try:
        config = parse_config({})
        obs = observe_live(
            path,
            config,
            speed=SPEED,
            boards={n: b.board.port for n, b in boards.items()},
            gps_feeds={n: b.adapter for n, b in boards.items()},
            gps_baud=115200,
            workdir=tmp_path / "work",
        )
    finally:
        for b in boards.values():
            b.close()
    verdicts = evaluate(load_expectations(path.with_name("enc.check.toml")), obs)
    assert obs.mode == "live, real boards"
    assert all(o.status == "pass" for o in verdicts), [o.explain() for o in verdicts]
    # A real board's lights are not visible to the host: judged on what it was told.
    assert {o.seen for o in verdicts if o.expectation.kind == "shows"} == {
        "told by the host (no board seen) warning"
    }
    # What the stand-ins really showed (the firmware's logic, fed through the adapter): warning.
    assert all("warning" in b.patterns for b in boards.values()), {n: b.patterns for n, b in boards.items()}
    warn = next(c.t for c in obs.levels if c.level == 3)
    assert warn <= violation - obs.start - lead


def test_the_configuration_named_in_the_file_sets_the_minima(tmp_path: Path) -> None:
    # 5 km minima: the first violation comes when the truth says 5 km, not 3 km.
    sim = head_on()
    path = copy_case(tmp_path, "head-on")
    (tmp_path / "wide.toml").write_text("[separation]\nhorizontal_m = 5000\n")
    exp = path.with_name("head-on.check.toml")
    exp.write_text('[check]\nconfig = "wide.toml"\n' + exp.read_text())
    res = sepmon(path)
    assert res.returncode == 0, res.stdout  # WARNING still comes, earlier: the 3 km lead is kept
    exp.write_text(exp.read_text().replace("lead_s = 5.0", "lead_s = 30.0"))
    res = sepmon(path)
    fail = next(ln for ln in res.stdout.splitlines() if ln.startswith("FAIL"))
    m = re.search(r"first violation at \+([\d.]+) s", fail)
    truth = sim.truth.first_violation("alpha", "bravo", 5000.0, V)
    assert m and truth is not None
    assert float(m.group(1)) == pytest.approx(truth - read_recorded(path, parse_config({})).start, abs=0.25)
