"""BoardLink: what the host keeps per board, and the $PSEPA it sends (flags included)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from sepmon.boardlink.link import ACK_TIMEOUT_S, ALERT_TTL_MS, BoardLink
from sepmon.boardlink.protocol import SEQ_MAX, Ack, AlertCommand, Identity, Status, decode, encode
from sepmon.core.model import Level, Threat
from sepmon.presentation.liveview import board_cells

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))

from sepmon_fw.app import Board  # noqa: E402
from sepmon_fw.hal import FakeHardware  # noqa: E402

IDENT = encode(Identity(1, "e66141", "0.1.0", "pico")).decode()


def quiet(**kw: bool) -> Threat:
    return Threat(Level.NONE, None, math.nan, math.nan, False, **kw)


def sent(link: BoardLink, threat: Threat, now: float = 0.0) -> AlertCommand:
    msg = decode(link.alert(threat, now))
    assert isinstance(msg, AlertCommand)
    return msg


# ---- $PSEPA and its flags


@pytest.mark.parametrize(
    ("own_unknown", "traffic_lost", "flags"),
    [(False, False, ""), (True, False, "N"), (False, True, "L"), (True, True, "NL")],
)
def test_alert_flags_from_threat(own_unknown: bool, traffic_lost: bool, flags: str) -> None:
    link = BoardLink("alpha")
    cmd = sent(link, quiet(own_unknown=own_unknown, traffic_lost=traffic_lost))
    assert cmd == AlertCommand(1, 0, None, None, ALERT_TTL_MS, flags)
    assert link.last_flags == flags


def test_alert_without_flags_is_the_five_field_form() -> None:
    """What boards from before the flags field accept: nothing changes for them while all is well."""
    raw = BoardLink("alpha").alert(quiet(), 0.0)
    assert raw.split(b"*")[0] == b"$PSEPA,1,0,,,3000"


def test_alert_with_intruder_and_flags() -> None:
    threat = Threat(Level.CAUTION, "bravo", 271.6, 1234.4, False, own_unknown=False, traffic_lost=True)
    cmd = sent(BoardLink("alpha"), threat)
    assert (cmd.level, cmd.bearing_deg, cmd.range_m, cmd.flags) == (2, 272, 1234, "L")


def test_lost_intruder_range_not_finite_sends_no_bearing() -> None:
    threat = Threat(Level.ADVISORY, "bravo", math.nan, math.inf, True, traffic_lost=True)
    cmd = sent(BoardLink("alpha"), threat)
    assert (cmd.level, cmd.bearing_deg, cmd.range_m, cmd.flags) == (1, None, None, "L")


@pytest.mark.parametrize(
    ("threat", "pattern"),
    [
        (quiet(), "clear"),
        (quiet(own_unknown=True), "degraded"),
        (quiet(traffic_lost=True), "degraded"),
        (quiet(own_unknown=True, traffic_lost=True), "degraded"),
        (Threat(Level.ADVISORY, "b", 10.0, 5000.0, False, own_unknown=True), "advisory"),
        (Threat(Level.WARNING, "b", 10.0, 900.0, False, traffic_lost=True), "warning"),
    ],
)
def test_what_the_board_shows(threat: Threat, pattern: str) -> None:
    """The host's bytes through the firmware's own loop."""
    link = BoardLink("alpha")
    hw = FakeHardware(board_id="e66141")
    board = Board(hw, "pico")
    board.step(0)
    hw.host_in(link.alert(threat, 0.0))
    board.step(10)
    assert board.pattern == pattern
    acks = [decode(ln) for ln in hw.take_output().split(b"\r\n") if ln.startswith(b"$PSEPK")]
    assert acks == [Ack(1)]


def test_seq_wraps_to_1() -> None:
    link = BoardLink("alpha")
    link.seq = SEQ_MAX - 1
    assert [sent(link, quiet()).seq for _ in range(3)] == [SEQ_MAX, 1, 2]


def test_pending_bounded() -> None:
    link = BoardLink("alpha")
    for i in range(100):
        link.alert(quiet(), float(i))
    assert len(link.sent) == 32
    assert min(link.sent.values()) == 68.0  # the oldest went first


# ---- lines from the board


def test_identity_event_once_then_on_change() -> None:
    link = BoardLink("alpha")
    ev = link.on_line(IDENT, 1.0)
    assert [(e.type, e.a, e.t) for e in ev] == [("board", "alpha", 1.0)]
    assert ev[0].detail == "id e66141 firmware 0.1.0 profile pico proto 1"
    assert link.on_line(IDENT, 11.0) == []  # the same identity every 10 s: no news
    newer = encode(Identity(1, "e66141", "0.2.0", "pico")).decode()
    ev = link.on_line(newer, 21.0)
    assert [e.type for e in ev] == ["board"] and "firmware 0.2.0" in (ev[0].detail or "")
    assert link.identity == Identity(1, "e66141", "0.2.0", "pico")


def test_status_kept() -> None:
    link = BoardLink("alpha")
    line = encode(Status(1000, 5, 1, 200, 180000)).decode()
    assert link.on_line(line, 4.5) == []
    assert link.status == Status(1000, 5, 1, 200, 180000) and link.status_t == 4.5


def test_bad_lines_counted() -> None:
    link = BoardLink("alpha")
    for line in ("$PSEPK,1*00", "$PSEPZ,1*0B", "$PSEPK,x", "hello"):
        assert link.on_line(line, 0.0) == []
    assert link.bad_lines == 4


def test_ack_clears_it_and_every_older_pending_seq() -> None:
    link = BoardLink("alpha")
    for t in (0.0, 1.0, 2.0, 3.0):
        link.alert(quiet(), t)
    assert sorted(link.sent) == [1, 2, 3, 4]
    link.on_line(encode(Ack(3)).decode(), 3.1)
    assert sorted(link.sent) == [4]  # 1 and 2 were superseded by 3
    assert (link.acks, link.last_ack_t) == (1, 3.1)
    link.on_line(encode(Ack(2)).decode(), 3.2)  # late or duplicate: nothing pending, not counted
    assert link.acks == 1 and sorted(link.sent) == [4]
    link.on_line(encode(Ack(4)).decode(), 3.3)
    assert link.sent == {} and link.acks == 2


def test_board_silent_only_after_identity() -> None:
    link = BoardLink("alpha")
    link.alert(quiet(), 0.0)
    # Nothing that identified as a sepmon board on this port (a bare GPS, say): no complaint.
    assert link.check(ACK_TIMEOUT_S + 10) == []
    link.on_line(IDENT, ACK_TIMEOUT_S + 10)
    assert link.check(ACK_TIMEOUT_S - 0.5) == []  # not overdue yet
    ev = link.check(ACK_TIMEOUT_S + 11)
    assert [(e.type, e.a) for e in ev] == [("board_silent", "alpha")]
    assert link.silent
    assert link.check(ACK_TIMEOUT_S + 12) == []  # once
    link.alert(quiet(), 20.0)
    ev = link.on_line(encode(Ack(2)).decode(), 20.1)
    assert [e.type for e in ev] == ["board_acking"]
    assert not link.silent and link.sent == {}
    assert link.check(30.0) == []


def test_not_silent_while_acks_keep_up() -> None:
    link = BoardLink("alpha")
    link.on_line(IDENT, 0.0)
    for i in range(20):
        link.alert(quiet(), float(i))
        assert link.check(float(i) + 0.5) == []
        link.on_line(encode(Ack(i + 1)).decode(), float(i) + 0.1)
    assert link.acks == 20 and not link.silent


def test_summary() -> None:
    link = BoardLink("alpha")
    assert board_cells(link.entry(), 5.0) == ("—", "—", "—", "0 ok", "—")
    link.on_line(IDENT, 1.0)
    link.on_line(encode(Status(1000, 5, 1, 200, 180000)).decode(), 2.0)
    link.alert(quiet(), 2.0)
    link.on_line(encode(Ack(1)).decode(), 2.1)
    assert board_cells(link.entry(), 4.5)[:4] == ("e66141", "0.1.0", "2.5 s ago", "1 ok")
    link.alert(quiet(), 5.0)
    link.check(5.0 + ACK_TIMEOUT_S + 1)
    assert board_cells(link.entry(), 10.0)[3] == "[bold red]not acknowledging[/]"


def test_summary_says_what_the_board_was_told() -> None:
    link = BoardLink("alpha")
    link.alert(Threat(Level.CAUTION, "bravo", 90.0, 4000.0, False), 1.0)
    assert board_cells(link.entry(), 1.5)[4] == "CAUTION"
    link.alert(Threat(Level.NONE, None, math.nan, math.nan, False, own_unknown=True), 2.0)
    assert board_cells(link.entry(), 2.5)[4] == "[bold magenta]DEGRADED[/] N"
    link.alert(Threat(Level.NONE, None, math.nan, math.nan, False), 3.0)
    assert board_cells(link.entry(), 3.5)[4] == "NONE"
