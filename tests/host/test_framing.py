"""LineFramer: terminators, partial reads, junk between lines, merged and over-long sentences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sepmon.core.checksum import frame_sentence
from sepmon.core.framing import LineFramer

GGA = frame_sentence("GPGGA,120000.00,4830.000,N,01115.000,E,1,08,0.9,500.0,M,47.0,M,,").encode()
RMC = frame_sentence("GPRMC,120000.00,A,4830.000,N,01115.000,E,010.0,090.0,150324,,,A").encode()
TAGGED = b"\\s:a,c:1710504000000*51\\" + GGA


def feed_all(data: bytes, chunks: list[int] | None = None, max_len: int = 512) -> tuple[list[bytes], dict]:
    fr = LineFramer(max_len)
    out: list[bytes] = []
    if chunks is None:
        out += fr.feed(data)
    else:
        pos = 0
        for n in chunks:
            out += fr.feed(data[pos : pos + n])
            pos += n
        out += fr.feed(data[pos:])
    out += fr.flush()
    return out, dict(fr.counts)


@pytest.mark.parametrize("sep", [b"\r\n", b"\n", b"\r"])
def test_every_line_ending(sep: bytes) -> None:
    assert feed_all(GGA + sep + RMC + sep) == ([GGA, RMC], {})


def test_mixed_line_endings_and_blank_lines() -> None:
    data = GGA + b"\r\n" + RMC + b"\n\n\r\r\n" + GGA + b"\r" + RMC + b"\n"
    assert feed_all(data) == ([GGA, RMC, GGA, RMC], {})


def test_partial_reads_and_crlf_split_across_reads() -> None:
    fr = LineFramer()
    assert fr.feed(GGA[:10]) == []
    assert fr.feed(GGA[10:] + b"\r") == [GGA]
    assert fr.feed(b"\n" + RMC[:5]) == []
    assert fr.feed(RMC[5:] + b"\r\n") == [RMC]
    assert fr.flush() == []


def test_byte_by_byte_equals_whole() -> None:
    data = (GGA + b"\r\n" + b"\x00" * 5 + RMC + b"\n" + TAGGED + b"\r\n") * 3
    assert feed_all(data, [1] * len(data)) == feed_all(data)


def test_nul_runs_are_padding_not_errors() -> None:
    data = b"\x00" * 30 + GGA + b"\r\n\x00\x00\x00\r\n" + b"\x00\x00" + RMC + b"\x00\x00\r\n"
    assert feed_all(data) == ([GGA, RMC], {})


def test_binary_frames_between_lines_do_not_poison_the_next_line() -> None:
    ubx = bytes.fromhex("b56201070400") + b"\x01\x02\x03\x04" + bytes.fromhex("0a0b")
    sirf = bytes.fromhex("a0a2000902") + b"\x00\x00" + bytes.fromhex("b0b3")
    data = GGA + b"\r\n" + ubx + RMC + b"\r\n" + sirf + GGA + b"\r\n"
    lines, counts = feed_all(data)
    assert lines == [GGA, RMC, GGA]
    # The UBX frame contains a 0x0a, so it is two junk runs; the SiRF frame is one.
    assert counts == {"framing": 3}


def test_junk_after_checksum_is_cut_and_counted() -> None:
    assert feed_all(GGA + b"\xb5b\x01\r\n") == ([GGA], {"framing": 1})
    assert feed_all(GGA + b"   \r\n") == ([GGA], {})


def test_merged_sentences_are_split() -> None:
    assert feed_all(GGA + RMC + GGA + b"\r\n") == ([GGA, RMC, GGA], {})
    # A truncated sentence merged into the next: the fragment is handed on (its
    # checksum is missing, so the parser rejects it) and the next sentence survives.
    lines, counts = feed_all(RMC[:30] + GGA + b"\r\n")
    assert lines == [RMC[:30], GGA] and counts == {}


def test_double_dollar_prefix_collapses() -> None:
    assert feed_all(b"$" + GGA + b"\r\n$$" + RMC + b"\r\n") == ([GGA, RMC], {})


def test_tag_block_stays_with_its_sentence() -> None:
    assert feed_all(TAGGED + b"\r\n" + TAGGED + TAGGED + b"\r\n") == ([TAGGED] * 3, {})
    assert feed_all(b"\x00junk" + TAGGED + b"\r\n") == ([TAGGED], {"framing": 1})


def test_json_and_ais_lines_are_passed_on() -> None:
    js = b'{"class":"TPV","lat":48.5,"note":"$ and !"}'
    ais = b"!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26"
    assert feed_all(js + b"\r\n" + ais + b"\r\n") == ([js, ais], {})


def test_overlong_lines_dropped_and_counted() -> None:
    long_line = b"$GPTXT," + b"A" * 430 + b"*00"
    assert feed_all(long_line + b"\r\n" + GGA + b"\r\n") == ([long_line, GGA], {})
    assert feed_all(long_line + b"\r\n" + GGA + b"\r\n", max_len=120) == ([GGA], {"overlong": 1})
    # Only the long sentence of a merged line is lost.
    assert feed_all(GGA + long_line + RMC + b"\r\n", max_len=120) == ([GGA, RMC], {"overlong": 1})


def test_endless_line_is_bounded_and_dropped_once() -> None:
    fr = LineFramer(100)
    out: list[bytes] = []
    for _ in range(50):  # 5000 bytes without a terminator
        out += fr.feed(b"$GPGGA," + b"1" * 93)
    assert len(fr._buf) <= fr.max_physical
    out += fr.feed(b"still the same line\r\n" + GGA + b"\r\n")
    assert out == [GGA]
    assert dict(fr.counts) == {"overlong": 1}


def test_flush_returns_unterminated_last_line() -> None:
    fr = LineFramer()
    assert fr.feed(GGA + b"\r\n" + RMC) == [GGA]
    assert fr.flush() == [RMC]
    assert fr.flush() == []


def test_lone_start_character_is_framing() -> None:
    assert feed_all(b"$\r\n" + GGA + b"\r\n") == ([GGA], {"framing": 1})


def test_text_without_start_character_is_framing() -> None:
    assert feed_all(b"u-blox AG - www.u-blox.com\r\n" + GGA + b"\r\n") == ([GGA], {"framing": 1})


def test_max_len_must_be_sane() -> None:
    with pytest.raises(ValueError):
        LineFramer(4)


PIECES = [GGA, RMC, TAGGED, b"\r\n", b"\n", b"\r", b"\x00\x00", b"$", b"\\", b"!", b"*", b"\xb5b\x01", b"{"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=20)), max_size=40),
    st.lists(st.integers(1, 60), max_size=30),
)
def test_chunk_boundaries_do_not_matter(parts: list[bytes], chunks: list[int]) -> None:
    data = b"".join(parts)
    assert feed_all(data, chunks, max_len=64) == feed_all(data, max_len=64)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(1, 50), max_size=20))
def test_random_bytes_never_raise_and_lines_are_bounded(data: bytes, chunks: list[int]) -> None:
    lines, _ = feed_all(data, chunks, max_len=32)
    for line in lines:
        assert 0 < len(line) <= 32
        assert b"\r" not in line and b"\n" not in line
