"""NmeaIngest's fast path for plain TAG-blocked lines agrees with the full path on every line.

The reference is the full path only: LineFramer.feed, then parse_tag_block and
parse_line for every line (``NmeaIngest._line``).  Lines are generated around the fast
shape ``\\c:<ms>,s:<name>*hh\\$<addr>,<fields>*hh``: both TAG field orders, odd names
and times, right, wrong and lowercase checksums, used and ignored types, mutated fields.
"""

from __future__ import annotations

from itertools import accumulate
from operator import xor

from hypothesis import given, settings
from hypothesis import strategies as st

from sepmon.core.checksum import nmea_checksum
from sepmon.core.ingest import _FAST_LINE, _LINES, _PLAIN_LINE, _SMALL, NmeaIngest, prefix_xor
from sepmon.core.model import Fix, SourceStats

BODIES = [
    "GPGGA,{t},4716.0000,N,01121.0000,E,1,08,0.9,545.4,M,47.0,M,,",
    "GNGGA,{t},4716.5000,S,01121.2500,W,2,12,1.1,10.0,M,,M,,",
    "GPRMC,{t},A,4716.0000,N,01121.0000,E,12.5,87.0,150324,,,A",
    "GNRMC,{t},A,4716.0000,N,01121.0000,E,0.0,,150324,,,D",
    "GPVTG,87.0,T,,M,12.5,N,23.2,K,A",
    "GNGSA,A,3,01,02,03,04,,,,,,,,,1.8,0.9,1.5",
    "GPGSV,3,1,12,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45",
    "GPGLL,4716.0000,N,01121.0000,E,{t},A,A",
    "GNGNS,{t},4716.0000,N,01121.0000,E,AN,10,0.8,545.4,47.0,,",
    "GPGST,{t},1.0,2.0,1.5,45.0,1.1,1.2,2.0",
    "GPTXT,01,01,02,ANTSTATUS=OK",
    "GPZDA,{t},15,03,2024,00,00",
    "PSEPI,1,2,3",
    "PUBX,00,{t},4716.0000,N",
    "GPGGAX,{t}",
]
TIMES = ["120000.00", "120000.10", "120001.00", "120001.00", "235959.90", "000000.00", "12000", ""]
PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
NAME_CHARS = "abv019XYZ_- .:,*$!\\"


@st.composite
def fields(draw: st.DrawFn) -> str:
    body = draw(st.sampled_from(BODIES)).format(t=draw(st.sampled_from(TIMES)))
    if draw(st.booleans()):
        parts = body.split(",")
        i = draw(st.integers(0, len(parts) - 1))
        parts[i] = draw(
            st.one_of(
                st.text(PRINTABLE, max_size=8),
                st.sampled_from(["", "0", "-1", "nan", "inf", "1e308", "99.9", "A", "V", "N", "gp"]),
            )
        )
        body = ",".join(parts)
    return body


def hex2(value: int, draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:  # sometimes wrong
        value ^= draw(st.integers(1, 255))
    return f"{value:02x}" if draw(st.booleans()) else f"{value:02X}"


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    body = draw(fields())
    sentence = f"${body}*{hex2(nmea_checksum(body), draw)}"
    if draw(st.integers(0, 9)) == 0:
        return sentence.encode()  # no TAG block
    name = draw(st.one_of(st.sampled_from(["v01", "v02", "rec"]), st.text(NAME_CHARS, max_size=5)))
    c = draw(
        st.one_of(
            st.integers(1_700_000_000_000, 1_800_000_000_000).map(str),
            st.sampled_from(["0", "1710504000", "99999999999", "100000000001", "9" * 18, "9" * 19, "1.5"]),
        )
    )
    items = [f"c:{c}", f"s:{name}"]
    if draw(st.booleans()):
        items.reverse()
    if draw(st.integers(0, 19)) == 0:
        items.append("n:7")
    content = ",".join(items)
    return f"\\{content}*{hex2(nmea_checksum(content), draw)}\\{sentence}".encode()


def full_path(ing: NmeaIngest, data: bytes, rx_t: float | None) -> list[Fix]:
    """NmeaIngest.feed as it was before the fast path: every line through _line."""
    out: list[Fix] = []
    for line in ing._framer.feed(data):
        ing._line(line, rx_t, out)
    ing._framing_counts()
    return out


def same_fixes(a: list[Fix], b: list[Fix]) -> bool:
    """Equal, field by field (repr: a NaN equals a NaN there, floats print exactly)."""
    return repr(a) == repr(b)


def stats(ing: NmeaIngest) -> dict[str, SourceStats]:
    return ing.stats


@settings(max_examples=300, deadline=None)
@given(
    st.lists(lines(), max_size=40),
    st.booleans(),
    st.booleans(),
    st.sampled_from([None, 1_710_504_000.0]),
    st.sampled_from(["\r\n", "\n", "\r"]),
    st.integers(1, 64),
)
def test_fast_path_agrees_with_full_path(
    batch: list[bytes], trust: bool, require: bool, rx_t: float | None, eol: str, max_len_extra: int
) -> None:
    data = b"".join(x + eol.encode() for x in batch)
    max_line = 60 + 8 * max_len_extra  # some lines are over-long
    fast = NmeaIngest("rec", require_checksum=require, max_line=max_line, trust_tags=trust)
    ref = NmeaIngest("rec", require_checksum=require, max_line=max_line, trust_tags=trust)
    cut = len(data) // 2
    got = fast.feed(data[:cut], rx_t) + fast.feed(data[cut:], rx_t) + fast.flush()
    want = full_path(ref, data[:cut], rx_t) + full_path(ref, data[cut:], rx_t) + ref.flush()
    assert same_fixes(got, want)
    assert stats(fast) == stats(ref)


def test_generated_lines_take_the_fast_path() -> None:
    """The generator above exercises the fast path, not only the fallback."""
    line = b"\\c:1710504000000,s:v01*%02X\\" % nmea_checksum(b"c:1710504000000,s:v01")
    body = b"GPGGA,120000.00,4716.0000,N,01121.0000,E,1,08,0.9,545.4,M,47.0,M,,"
    assert _FAST_LINE.fullmatch(line + b"$" + body + b"*%02X\r\n" % nmea_checksum(body))
    assert _FAST_LINE.fullmatch(b"\\s:v 01,c:0*00\\$GPGSV,*00\n")
    assert _FAST_LINE.fullmatch(b"\\s:v 01,c:0*00\\$GPGSV,*00\r")
    assert not _FAST_LINE.fullmatch(b"\\s:v 01,c:0*00\\$GPGSV,*00")  # not a whole line yet
    assert not _FAST_LINE.fullmatch(b"\\s:v01,c:0,n:1*00\\$GPGGA,*00\n")
    assert not _FAST_LINE.fullmatch(b"\\s:v01,c:0*00\\$PSEPI,*00\n")
    assert _PLAIN_LINE.fullmatch(b"$" + body + b"*%02x\n" % nmea_checksum(body))
    assert not _PLAIN_LINE.fullmatch(b"$PSEPI,1*00\n")
    assert not _PLAIN_LINE.fullmatch(b"$GPGGA,1$GPGGA,2*00\n")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(fields(), max_size=30),
    st.sampled_from([None, 1_710_504_000.0]),
    st.sampled_from(["\r\n", "\n", "\r"]),
    st.integers(1, 64),
)
def test_plain_lines_read_one_at_a_time_like_the_full_path(
    bodies: list[str], rx_t: float | None, eol: str, max_len_extra: int
) -> None:
    """A live link: untagged lines, one read each, with the caller's receive time."""
    max_line = 40 + 4 * max_len_extra  # some lines are over-long
    fast = NmeaIngest("link", max_line=max_line)
    ref = NmeaIngest("link", max_line=max_line)
    got: list[Fix] = []
    want: list[Fix] = []
    for i, body in enumerate(bodies):
        ck = nmea_checksum(body) ^ (1 if i % 7 == 3 else 0)
        data = f"${body}*{ck:02X}{eol}".encode()
        t = None if rx_t is None else rx_t + i
        got += fast.feed(data, t)
        want += full_path(ref, data, t)
    got += fast.flush()
    want += ref.flush()
    assert same_fixes(got, want)
    assert stats(fast) == stats(ref)


@given(
    st.lists(st.sampled_from([b"\\c:1,s:v*00\\$GPGGA,1*00", b"x", b"", b"\\c:1,s:v*00\\"]), max_size=8),
    st.lists(st.sampled_from([b"\r\n", b"\r", b"\n"]), min_size=8, max_size=8),
)
def test_lines_pattern_hands_over_every_line_in_order(parts: list[bytes], terms: list[bytes]) -> None:
    """_LINES.findall over a block of whole lines: each line once, in order, fast or other."""
    block = b"".join(p + t for p, t in zip(parts, terms, strict=False))
    lines = block.splitlines(keepends=True)
    got = _LINES.findall(block)
    assert len(got) == len(lines)
    for line, (c, name, name2, c2, _tag_ck, _addr, body, _ck, term, other) in zip(lines, got, strict=True):
        if other:
            assert other == line and not _FAST_LINE.fullmatch(line)
        else:  # the length _block derives a fast line's end from
            assert _FAST_LINE.fullmatch(line)
            assert len(line) == 20 + len(c + c2) + len(name + name2) + len(body) + len(term)


def test_fast_path_counts_and_sources_like_the_full_path() -> None:
    """A hand-made mix through both paths: TAG checksum wrong, sentence checksum wrong, ignored."""
    content = b"c:1710504000000,s:v01"
    good_tag = b"\\%s*%02X\\" % (content, nmea_checksum(content))
    bad_tag = b"\\%s*%02X\\" % (content, nmea_checksum(content) ^ 1)
    gga = b"GPGGA,120000.00,4716.0000,N,01121.0000,E,1,08,0.9,545.4,M,47.0,M,,"
    good = b"$%s*%02X" % (gga, nmea_checksum(gga))
    bad = b"$%s*%02X" % (gga, nmea_checksum(gga) ^ 1)
    gsv = b"$GPGSV,3,1,12*00"  # wrong checksum, but ignored all the same
    data = b"\r\n".join([bad_tag + good, good_tag + bad, good_tag + gsv, good_tag + good, b""])
    fast, ref = NmeaIngest("rec"), NmeaIngest("rec")
    got = fast.feed(data) + fast.flush()
    want = full_path(ref, data, None) + ref.flush()
    assert got == want and len(got) == 1
    assert fast.stats == ref.stats
    assert fast.stats["rec"].rejected["checksum"] == 1
    assert fast.stats["v01"].rejected["checksum"] == 1
    assert fast.stats["v01"].ignored == 1


def test_fast_path_receive_times_like_the_full_path() -> None:
    """``c:`` in seconds or milliseconds, around the threshold, in both field orders."""
    gga = b"GPGGA,120000.00,4716.0000,N,01121.0000,E,1,08,0.9,545.4,M,47.0,M,,"
    sentence = b"$%s*%02X" % (gga, nmea_checksum(gga))
    for c in (b"0", b"1710504000", b"99999999999", b"100000000000", b"100000000001", b"1710504000123"):
        for content in (b"c:%s,s:v01" % c, b"s:v01,c:%s" % c):
            line = b"\\%s*%02X\\%s\r\n" % (content, nmea_checksum(content), sentence)
            assert _FAST_LINE.fullmatch(line)
            fast, ref = NmeaIngest("rec"), NmeaIngest("rec")
            got = fast.feed(line) + fast.flush()
            want = full_path(ref, line, None) + ref.flush()
            assert repr(got) == repr(want)
            assert fast.stats == ref.stats


JUNK = [
    b"",
    b"   ",
    b"\x00\x00\x00",
    b"$GPGGA,120000.00,4716.0000,N",  # truncated, no checksum
    b"garbage \xb5\x62\x01\x07",
    b"$$",
    b"\\c:1,s:v01*00\\",
    b'{"class":"TPV"}',
    b"!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26",
]


@st.composite
def messy_lines(draw: st.DrawFn) -> bytes:
    """A fast-shaped line, junk, or a fast-shaped line with something glued to either end."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.sampled_from(JUNK))
    line = draw(lines())
    if kind == 1:
        return draw(st.sampled_from([*JUNK, b"x", b"*", b"\\"])) + line  # junk before: not at a line start
    if kind == 2:
        return line + draw(st.sampled_from([b"x", b"$GPTXT,1*00", b"\x00", b" ", b"*"]))
    return line


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(messy_lines(), st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\r\n", b"\n\n"])), max_size=40
    ),
    st.booleans(),
    st.lists(st.integers(0, 4000), max_size=6),
)
def test_fast_path_agrees_with_full_path_among_junk(
    batch: list[tuple[bytes, bytes]], trust: bool, cuts: list[int]
) -> None:
    """Blocks of whole lines mixing fast lines and everything else, fed in arbitrary pieces."""
    data = b"".join(line + eol for line, eol in batch)
    fast = NmeaIngest("rec", max_line=120, trust_tags=trust)
    ref = NmeaIngest("rec", max_line=120, trust_tags=trust)
    got: list[Fix] = []
    want: list[Fix] = []
    prev = 0
    for cut in [*sorted(c for c in cuts if c < len(data)), len(data)]:
        got += fast.feed(data[prev:cut])
        want += full_path(ref, data[prev:cut], None)
        prev = cut
    got += fast.flush()
    want += ref.flush()
    assert same_fixes(got, want)
    assert stats(fast) == stats(ref)


def test_fast_lines_with_junk_between_and_before() -> None:
    """Gaps of other lines between fast lines, and a fast-shaped tail after junk on one line."""
    content = b"c:1710504000000,s:v01"
    tag = b"\\%s*%02X\\" % (content, nmea_checksum(content))
    gga = b"GPGGA,120000.00,4716.0000,N,01121.0000,E,1,08,0.9,545.4,M,47.0,M,,"
    good = tag + b"$%s*%02X" % (gga, nmea_checksum(gga))
    for data in (
        b"junk\r\n" + good + b"\r\n\r\n" + b"x" + good + b"\n" + good + b"\r",
        good + b"\n\x00\x00\n" + b"$GPGGA,1*00\n" + good + b"\n",
        b"\r" + good + b"\r" + good[:30],
    ):
        fast, ref = NmeaIngest("rec"), NmeaIngest("rec")
        got = fast.feed(data) + fast.flush()
        want = full_path(ref, data, None) + ref.flush()
        assert repr(got) == repr(want)
        assert fast.stats == ref.stats


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 3))
def test_prefix_xor_is_the_running_xor(data: bytes, repeat: int) -> None:
    """Every length (word edges included) and long inputs: the running XOR byte by byte."""
    data = data * (1 + 40 * repeat)
    want = bytearray()
    c = 0
    for b in data:
        c ^= b
        want.append(c)
    assert prefix_xor(data) == bytes(want)


def test_prefix_xor_on_both_sides_of_the_small_block_bound() -> None:
    """Below _SMALL bytes it runs without numpy: the same running XOR either side."""
    data = bytes(range(256)) * 3
    for n in (0, 1, 7, 8, 9, _SMALL - 1, _SMALL, _SMALL + 1, 700):
        assert prefix_xor(data[:n]) == bytes(accumulate(data[:n], xor))
