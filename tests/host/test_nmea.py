"""parse_line: start characters, address/type filter, checksum policy, rejection reasons."""

from __future__ import annotations

import pynmea2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sepmon.core.checksum import frame_sentence, nmea_checksum
from sepmon.core.nmea import FIELD, USED_TYPES, Reject, parse_line

GGA_BODY = "GPGGA,120000.00,4830.000,N,01115.000,E,1,08,0.9,500.0,M,47.0,M,,"
GGA = frame_sentence(GGA_BODY).encode()
GGA_FIELDS = GGA_BODY.split(",")[1:]


def line(body: str) -> bytes:
    return frame_sentence(body).encode()


def test_used_sentence_is_split_into_kind_talker_fields() -> None:
    assert parse_line(GGA) == ("GGA", "GP", GGA_FIELDS)


@pytest.mark.parametrize("talker", ["GP", "GN", "GL", "GA", "GB", "BD", "QZ", "GQ"])
def test_all_talkers(talker: str) -> None:
    assert parse_line(line(talker + GGA_BODY[2:])) == ("GGA", talker, GGA_FIELDS)


@pytest.mark.parametrize("kind", sorted(USED_TYPES))
def test_every_used_type_passes(kind: str) -> None:
    got = parse_line(line(f"GN{kind},1,2"))
    assert got == (kind, "GN", ["1", "2"])


def test_lowercase_checksum_is_valid() -> None:
    assert parse_line(GGA[:-2] + GGA[-2:].lower()) == ("GGA", "GP", GGA_FIELDS)


def test_wrong_checksum_is_rejected_whatever_the_policy() -> None:
    wrong = GGA[:-2] + b"%02X" % (nmea_checksum(GGA_BODY) ^ 0x10)
    assert parse_line(wrong) is Reject.CHECKSUM
    assert parse_line(wrong, require_checksum=False) is Reject.CHECKSUM


@pytest.mark.parametrize("suffix", [b"*", b"*6", b"*G3", b"*+6", b"* 6", b"*636"])
def test_malformed_checksum_is_rejected_whatever_the_policy(suffix: bytes) -> None:
    bad = b"$" + GGA_BODY.encode() + suffix
    assert parse_line(bad) is Reject.CHECKSUM
    assert parse_line(bad, require_checksum=False) is Reject.CHECKSUM


def test_missing_checksum_depends_on_policy() -> None:
    bare = b"$" + GGA_BODY.encode()
    assert parse_line(bare) is Reject.CHECKSUM
    assert parse_line(bare, require_checksum=False) == ("GGA", "GP", GGA_FIELDS)


@pytest.mark.parametrize(
    "raw",
    [
        b"!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26",
        b'{"class":"TPV","lat":48.5}',
        line("GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00"),
        line("GPTXT,01,01,02,ANTSTATUS=OK"),
        line("GPGLC,1,5990.0,A,12345.6,A"),
        line("HETHS,123.4,A"),
        line("PUBX,00,120000.00,4830.000,N"),
        line("PGRME,15.0,M,45.0,M,25.0,M"),
        line("GPGGAX,120000.00,4830.000,N,01115.000,E,1,08,0.9,500.0,M,47.0,M,,"),
        line("GPGG,1"),
        line("gpgga,120000.00"),
        line("PSEPXY,1"),
    ],
)
def test_ignored_lines(raw: bytes) -> None:
    assert parse_line(raw) is Reject.IGNORED


def test_ignored_types_do_not_pay_for_a_checksum() -> None:
    # A GSV with a broken checksum is still just "ignored": we never use its content.
    assert parse_line(b"$GPGSV,1,1,00*00") is Reject.IGNORED


def test_our_proprietary_sentences() -> None:
    psep = line("PSEPI,1,board-7,0.3.1,picow")
    assert parse_line(psep) == ("PSEP", "I", ["1", "board-7", "0.3.1", "picow"])
    assert parse_line(psep[:-2] + b"00") is Reject.CHECKSUM
    # Our protocol always carries a checksum, even when GPS lines need not.
    assert parse_line(b"$PSEPS,1,2,3,4,5", require_checksum=False) is Reject.CHECKSUM


@pytest.mark.parametrize(
    "raw",
    [
        b"GPGGA,120000.00*00",  # no start character
        b"\x00\x01\x02",
        b"$\xb5b\x01\x02*00",  # binary behind a '$'
        b"$GP-GA,1*00",  # address not alphanumeric
    ],
)
def test_framing(raw: bytes) -> None:
    assert parse_line(raw) is Reject.FRAMING


def test_non_printable_content_with_right_checksum_is_framing() -> None:
    for body in (b"GPGGA,12\x0100.00,", b"GPGGA,12\xe90.00,"):
        raw = b"$" + body + b"*%02X" % nmea_checksum(body)
        assert parse_line(raw) is Reject.FRAMING


def test_address_without_data_is_unparsable() -> None:
    assert parse_line(line("GPGGA")) is Reject.UNPARSABLE


def test_field_table_comes_from_pynmea2() -> None:
    assert FIELD["GGA"]["lat"] == 1 and FIELD["RMC"]["datestamp"] == 8 and FIELD["GSA"]["hdop"] == 15
    # Our split matches what pynmea2.parse would hold for the same sentence.
    assert pynmea2.parse(GGA.decode()).data == GGA_FIELDS


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_random_bytes_never_raise(raw: bytes) -> None:
    got = parse_line(raw)
    assert isinstance(got, (Reject, tuple))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(GGA) - 1), st.integers(0, 255))
def test_single_byte_corruption_of_a_used_sentence_is_caught(pos: int, value: int) -> None:
    raw = bytearray(GGA)
    if raw[pos] == value:
        return
    raw[pos] = value
    got = parse_line(bytes(raw))
    # One changed byte either breaks the checksum, or changes the type/address (then
    # it is not a sentence we use), or is the start character; never a silent change.
    assert got != ("GGA", "GP", GGA_FIELDS)
    if isinstance(got, tuple):
        assert got[0] != "GGA" or got[1] != "GP"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=1200))
def test_checksum_is_the_xor_of_every_byte(data: bytes) -> None:
    """The checksum equals the plain XOR loop at every length."""
    c = 0
    for b in data:
        c ^= b
    assert nmea_checksum(data) == c
