"""NMEA 4.10 TAG blocks: reading (any order, s/c, ms vs s, checksum policy) and writing."""

from __future__ import annotations

import pytest

from sepmon.core.checksum import nmea_checksum
from sepmon.core.nmea import Reject
from sepmon.core.tagblock import TagBlock, format_tag_block, parse_tag_block

SENTENCE = b"$GPGGA,120000.00,4830.000,N,01115.000,E,1,08,0.9,500.0,M,47.0,M,,*63"


def tag(body: str, cs: str | None = None) -> bytes:
    given = f"{nmea_checksum(body):02X}" if cs is None else cs
    return f"\\{body}*{given}\\".encode() + SENTENCE


def test_source_and_seconds() -> None:
    assert parse_tag_block(tag("s:alpha,c:1710504000")) == (TagBlock("alpha", 1710504000.0), SENTENCE)


def test_milliseconds_any_order_and_other_tags_tolerated() -> None:
    got = parse_tag_block(tag("n:17,c:1710504000250,g:1-2-3,s:bravo,d:x"))
    assert got == (TagBlock("bravo", pytest.approx(1710504000.25)), SENTENCE)


def test_fractional_seconds_and_absent_fields() -> None:
    assert parse_tag_block(tag("c:1710504000.5")) == (TagBlock(None, 1710504000.5), SENTENCE)
    assert parse_tag_block(tag("s:")) == (TagBlock(None, None), SENTENCE)


def test_lowercase_checksum_is_valid() -> None:
    body = "s:a,c:1710504000"
    assert parse_tag_block(tag(body, f"{nmea_checksum(body):02x}")) == (TagBlock("a", 1710504000.0), SENTENCE)


def test_wrong_or_malformed_checksum() -> None:
    body = "s:a,c:1710504000"
    wrong = f"{nmea_checksum(body) ^ 1:02X}"
    assert parse_tag_block(tag(body, wrong)) is Reject.CHECKSUM
    assert parse_tag_block(tag(body, wrong), require_checksum=False) is Reject.CHECKSUM
    assert parse_tag_block(tag(body, "Z1")) is Reject.CHECKSUM
    assert parse_tag_block(tag(body, "")) is Reject.CHECKSUM


def test_missing_checksum_depends_on_policy() -> None:
    line = b"\\s:a,c:1710504000\\" + SENTENCE
    assert parse_tag_block(line) is Reject.CHECKSUM
    assert parse_tag_block(line, require_checksum=False) == (TagBlock("a", 1710504000.0), SENTENCE)


def test_broken_tag_blocks() -> None:
    assert parse_tag_block(b"\\s:a,c:1*00") is Reject.FRAMING  # never closed
    assert parse_tag_block(tag("s:a,c:soon")) is Reject.UNPARSABLE
    assert parse_tag_block(tag("s:a,c:nan")) is Reject.UNPARSABLE
    assert parse_tag_block(tag("s:a,c:-5")) is Reject.UNPARSABLE
    assert parse_tag_block(tag("s:a,oops")) is Reject.UNPARSABLE
    raw = b"s:\xff"
    assert parse_tag_block(b"\\" + raw + b"*%02X\\" % nmea_checksum(raw) + SENTENCE) is Reject.FRAMING


def test_line_without_tag_passes_through() -> None:
    assert parse_tag_block(SENTENCE) == (TagBlock(None, None), SENTENCE)


def test_format_round_trip_keeps_milliseconds() -> None:
    block = format_tag_block("board-7", 1710504000.1)
    assert block == f"\\c:1710504000100,s:board-7*{nmea_checksum('c:1710504000100,s:board-7'):02X}\\"
    tags, rest = parse_tag_block(block.encode() + SENTENCE)  # type: ignore[misc]
    assert tags == TagBlock("board-7", pytest.approx(1710504000.1, abs=1e-6))
    assert rest == SENTENCE
    assert format_tag_block("x", None) == f"\\s:x*{nmea_checksum('s:x'):02X}\\"


@pytest.mark.parametrize("bad", ["", "a,b", "a*b", "a\\b", "a$b", "a!b", "tab\there", "é"])
def test_format_refuses_unframeable_source(bad: str) -> None:
    with pytest.raises(ValueError):
        format_tag_block(bad, 1710504000.0)


def test_format_refuses_times_that_would_read_back_as_seconds() -> None:
    with pytest.raises(ValueError):
        format_tag_block("a", 12.5)
    with pytest.raises(ValueError):
        format_tag_block("a", float("inf"))
