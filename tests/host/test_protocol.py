"""Host protocol codec, and agreement with the firmware's own encoder/decoder."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sepmon.boardlink.protocol import (
    Ack,
    AlertCommand,
    Identity,
    ProtocolError,
    SelfTest,
    Status,
    alert_flags,
    decode,
    encode,
    try_decode,
)
from sepmon.core.checksum import frame_line

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))

from sepmon_fw import nmea as fw  # noqa: E402


def test_encode_examples() -> None:
    assert encode(Ack(7)) == frame_line("PSEPK,7")
    assert encode(AlertCommand(3, 2, 271.4, 849.6, 1500)) == frame_line("PSEPA,3,2,271,850,1500")
    assert encode(AlertCommand(3, 0, None, None, 1500)) == frame_line("PSEPA,3,0,,,1500")
    assert encode(AlertCommand(3, 1, 359.7, 5, 1500)) == frame_line("PSEPA,3,1,0,5,1500")
    assert encode(SelfTest("all")) == frame_line("PSEPT,all")
    assert encode(Identity(1, "e661", "0.1.0", "pico")) == frame_line("PSEPI,1,e661,0.1.0,pico")
    assert encode(Status(1, 2, 3, 4, 5)) == frame_line("PSEPS,1,2,3,4,5")
    # flags: a 6th field when there are any; none, the 5-field form older boards take
    assert encode(AlertCommand(3, 0, None, None, 3000, "N")) == frame_line("PSEPA,3,0,,,3000,N")
    assert encode(AlertCommand(3, 0, None, None, 3000, "NL")) == frame_line("PSEPA,3,0,,,3000,NL")
    assert encode(AlertCommand(3, 0, None, None, 3000, "")) == frame_line("PSEPA,3,0,,,3000")
    assert encode(SelfTest("degraded")) == frame_line("PSEPT,degraded")


def test_alert_flags_in_fixed_order() -> None:
    assert alert_flags(own_unknown=False, traffic_lost=False) == ""
    assert alert_flags(own_unknown=True, traffic_lost=False) == "N"
    assert alert_flags(own_unknown=False, traffic_lost=True) == "L"
    assert alert_flags(own_unknown=True, traffic_lost=True) == "NL"


@pytest.mark.parametrize(
    "msg",
    [
        AlertCommand(70000, 1, None, None, 1000),
        AlertCommand(1, 4, None, None, 1000),
        AlertCommand(1, 1, None, None, 0),
        AlertCommand(1, 1, float("nan"), None, 1000),
        AlertCommand(1, 1, None, -5, 1000),
        AlertCommand(1, 0, None, None, 1000, "n"),
        AlertCommand(1, 0, None, None, 1000, "N,L"),
        AlertCommand(1, 0, None, None, 1000, "NLNLNLNLN"),
        SelfTest("disco"),
        Identity(1, "has,comma", "0.1", "pico"),
        Status(-1, 0, 0, 0, 0),
        Ack(True),
    ],
)
def test_encode_rejects_out_of_range(msg: AlertCommand | SelfTest | Identity | Status | Ack) -> None:
    with pytest.raises(ProtocolError):
        encode(msg)


def test_decode_examples() -> None:
    assert decode(frame_line("PSEPI,1,e661,0.1.0,pico")) == Identity(1, "e661", "0.1.0", "pico")
    assert decode(frame_line("PSEPS,1000,5,1,200,180000").decode()) == Status(1000, 5, 1, 200, 180000)
    assert decode(frame_line("PSEPK,65535")) == Ack(65535)
    assert decode(frame_line("PSEPA,1,3,10.5,,2000")) == AlertCommand(1, 3, 10.5, None, 2000)
    assert decode(frame_line("PSEPA,1,0,,,2000,")) == AlertCommand(1, 0, None, None, 2000, "")
    assert decode(frame_line("PSEPA,1,0,,,2000,NL")) == AlertCommand(1, 0, None, None, 2000, "NL")
    # unknown letters (a newer host) are kept on the host and ignored by the board
    assert decode(frame_line("PSEPA,1,0,,,2000,XNZ")) == AlertCommand(1, 0, None, None, 2000, "XNZ")
    assert decode(frame_line("PSEPT,degraded")) == SelfTest("degraded")
    assert decode(frame_line("GPGGA,1,2")) is None
    assert decode(b"hello") is None


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"$PSEPK,1\r\n", "checksum missing"),
        (frame_line("PSEPK,1")[:-4] + b"00\r\n", "checksum mismatch"),
        (frame_line("PSEPK,1,2"), "expected 1 fields"),
        (frame_line("PSEPK,x"), "not an unsigned integer"),
        (frame_line("PSEPA,1,5,,,100"), "level out of range"),
        (frame_line("PSEPA,1,1,360,,100"), "bearing_deg out of range"),
        (frame_line("PSEPA,1,1,,,0"), "ttl_ms out of range"),
        (frame_line("PSEPA,1,1,,,100,N,L"), "expected 5 or 6 fields"),
        (frame_line("PSEPA,1,1,,100"), "expected 5 or 6 fields"),
        (frame_line("PSEPA,1,1,,,100,n"), "flags"),
        (frame_line("PSEPA,1,1,,,100,N1"), "flags"),
        (frame_line("PSEPA,1,1,,,100,ABCDEFGHI"), "flags"),
        (frame_line("PSEPT,disco"), "unknown self-test pattern"),
        (frame_line("PSEPZ,1"), "unknown sentence type"),
        (frame_line("PSEPI,1,a b,0.1,pico"), "bad board_id"),
        (b"$PSEPK,\xff\xfe*00\r\n", "printable ASCII"),
        (frame_line("PSEPS," + "1," * 60 + "1"), "longer than"),
    ],
)
def test_decode_errors_are_clear(line: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        decode(line)
    assert try_decode(line) is None


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_decode_never_crashes_on_garbage(data: bytes | str) -> None:
    with contextlib.suppress(ProtocolError):
        decode(data)
    prefixed = (b"$PSEP" + data) if isinstance(data, bytes) else ("$PSEP" + data)
    with contextlib.suppress(ProtocolError):
        decode(prefixed)


# ---- host <-> firmware agreement


def fw_decode(line: bytes) -> tuple[object, ...] | None:
    buf = bytearray(line)
    r = fw.decode_command(buf, len(buf))
    return None if r is None else tuple(r)


def fw_flag_bits(flags: str) -> int:
    """What the board makes of a flags field: N and L are bits, other letters ignored."""
    return (fw.FLAG_OWN_UNKNOWN if "N" in flags else 0) | (fw.FLAG_TRAFFIC_LOST if "L" in flags else 0)


def test_flag_letters_agree() -> None:
    for own, lost, bits in ((True, False, fw.FLAG_OWN_UNKNOWN), (False, True, fw.FLAG_TRAFFIC_LOST)):
        line = encode(AlertCommand(1, 0, None, None, 1000, alert_flags(own_unknown=own, traffic_lost=lost)))
        assert fw_decode(line) == ("A", 1, 0, -1, -1, 1000, bits)
    assert fw.FLAGS_MAX == 8


@given(
    seq=st.integers(0, 65535),
    level=st.integers(0, 3),
    bearing=st.none() | st.floats(0, 359.49),
    rng=st.none() | st.floats(0, 1e7),
    ttl=st.integers(1, 60000),
    flags=st.from_regex(r"[A-Z]{0,8}", fullmatch=True),
)
def test_host_alert_accepted_by_firmware(
    seq: int, level: int, bearing: float | None, rng: float | None, ttl: int, flags: str
) -> None:
    line = encode(AlertCommand(seq, level, bearing, rng, ttl, flags))
    assert fw_decode(line) == (
        "A",
        seq,
        level,
        -1 if bearing is None else round(bearing),
        -1 if rng is None else round(rng),
        ttl,
        fw_flag_bits(flags),
    )


@given(st.text(alphabet=st.characters(codec="ascii", exclude_characters="*$\r\n"), max_size=10))
def test_host_and_firmware_agree_on_which_flags_fields_are_valid(flags: str) -> None:
    line = frame_line(f"PSEPA,9,0,,,1000,{flags}")
    host = try_decode(line)
    board = fw_decode(line)
    assert (host is None) == (board is None), (flags, host, board)
    if isinstance(host, AlertCommand):
        assert board == ("A", 9, 0, -1, -1, 1000, fw_flag_bits(host.flags))


@pytest.mark.parametrize(
    "name", ["clear", "advisory", "caution", "warning", "offline", "nogps", "degraded", "all"]
)
def test_host_selftest_accepted_by_firmware(name: str) -> None:
    assert fw_decode(encode(SelfTest(name))) == ("T", name)


def test_host_pattern_names_are_the_firmwares() -> None:
    from sepmon.boardlink.protocol import PATTERNS
    from sepmon_fw.patterns import ORDER, ORDER_BYTES, SINGLES
    from sepmon_fw.patterns import PATTERNS as FW_PATTERNS

    assert PATTERNS == ORDER
    assert set(FW_PATTERNS) == set(ORDER)
    assert tuple(n.encode() for n in ORDER) == ORDER_BYTES
    assert tuple((n,) for n in ORDER) == SINGLES


def test_corrupted_host_command_rejected_by_firmware() -> None:
    line = bytearray(encode(AlertCommand(5, 3, 90, 1000, 2000)))
    line[9] ^= 0x01  # flip a bit in the level field
    assert fw_decode(bytes(line)) is None


@given(
    u=st.integers(0, 2**31),
    f=st.integers(0, 2**31),
    d=st.integers(0, 2**31),
    g=st.integers(0, 2**31),
    m=st.integers(0, 2**31),
    seq=st.integers(0, 65535),
    board=st.from_regex(r"[0-9a-f]{4,16}", fullmatch=True),
    profile=st.sampled_from(["pico", "esp32_devkit", "tbeam"]),
)
def test_firmware_sentences_accepted_by_host(
    u: int, f: int, d: int, g: int, m: int, seq: int, board: str, profile: str
) -> None:
    w = fw.Writer()
    fw.encode_status(w, u, f, d, g, m)
    assert decode(w.value()) == Status(u, f, d, g, m)
    fw.encode_ack(w, seq)
    assert decode(w.value()) == Ack(seq)
    fw.encode_identity(w, 1, board, "0.1.0", profile)
    assert decode(w.value()) == Identity(1, board, "0.1.0", profile)
    # byte-identical to the host's own encoding
    assert w.value() == encode(Identity(1, board, "0.1.0", profile))


def test_firmware_board_output_decodes_on_host() -> None:
    from sepmon_fw.app import Board
    from sepmon_fw.hal import FakeHardware

    hw = FakeHardware(board_id="e66141", mem=99)
    b = Board(hw, "tbeam")
    hw.host_in(encode(AlertCommand(12, 2, 45, 700, 1500)))
    for t in range(0, 2100, 10):
        b.step(t)
    msgs = [decode(ln) for ln in hw.take_output().split(b"\r\n") if ln]
    assert msgs[0] == Identity(1, "e66141", "0.1.0", "tbeam")
    assert Ack(12) in msgs
    assert next(m for m in msgs if isinstance(m, Status)) == Status(1000, 0, 0, 1000, 99)


def test_status_of_a_board_up_for_years_still_decodes() -> None:
    """uptime_ms passes 10 digits after 116 days; a long-running board must not go unheard."""
    from sepmon.boardlink.protocol import STATUS_MAX, Status, decode, encode

    long_up = Status(3 * 365 * 86_400_000, 10**11, 5, 0, 150_000)
    assert decode(encode(long_up)) == long_up
    biggest = Status(STATUS_MAX, STATUS_MAX, STATUS_MAX, STATUS_MAX, STATUS_MAX)
    assert decode(encode(biggest)) == biggest
