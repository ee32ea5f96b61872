from __future__ import annotations

from fwtest import GGA, RMC, nmea

from sepmon_fw.framer import MAX_LINE, LineFramer


class Sink:
    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.framer = LineFramer(self.take)

    def take(self, buf: bytearray, n: int) -> None:
        assert bytes(buf[n : n + 2]) == b"\r\n"
        self.lines.append(bytes(buf[: n + 2]))

    def feed(self, data: bytes, chunk: int = 7) -> None:
        for i in range(0, len(data), chunk):
            part = bytearray(data[i : i + chunk])
            self.framer.feed(part, len(part))


def test_lines_pass_whole_across_chunks_and_line_endings() -> None:
    s = Sink()
    s.feed(GGA + RMC.replace(b"\r\n", b"\n") + GGA.replace(b"\r\n", b"\r"))
    assert s.lines == [GGA, RMC, GGA]
    assert s.framer.dropped == 0


def test_feed_respects_count() -> None:
    s = Sink()
    buf = bytearray(GGA + b"$GPXXX,garbage-after-count")
    s.framer.feed(buf, len(GGA))
    assert s.lines == [GGA]


def test_overlong_dropped_and_counted_then_recovers() -> None:
    s = Sink()
    long_body = "GPGSV," + "1" * (MAX_LINE + 10)
    s.feed(nmea(long_body) + GGA)
    assert s.lines == [GGA]
    assert s.framer.dropped == 1


def test_exactly_max_length_passes() -> None:
    body = "GPTXT," + "A" * (MAX_LINE - 4 - 6)
    line = nmea(body)
    assert len(line) - 2 == MAX_LINE
    s = Sink()
    s.feed(line)
    assert s.lines == [line]


def test_non_printable_bytes_drop_the_line() -> None:
    s = Sink()
    bad = GGA[:20] + b"\x00\x00\x00" + GGA[20:]
    s.feed(bad + b"\xb5\x62\x01\x07" + RMC)
    assert s.lines == [RMC]
    assert s.framer.dropped == 1


def test_bad_checksum_dropped_missing_checksum_passed() -> None:
    s = Sink()
    wrong = GGA[:-4] + b"00\r\n"
    no_ck = b"$GPGLL,4916.45,N,12311.12,W,225444,A\r\n"
    lower = GGA[:-4] + GGA[-4:-2].lower() + b"\r\n"
    s.feed(wrong + no_ck + lower)
    assert s.lines == [no_ck, lower]
    assert s.framer.dropped == 1


def test_merged_sentences_and_double_dollar() -> None:
    s = Sink()
    s.feed(GGA[:-2] + RMC + b"$" + GGA)
    # The unterminated GGA was cut by RMC's "$": dropped. "$$GPGGA" is read as GGA.
    assert s.lines == [RMC, GGA]
    assert s.framer.dropped == 1


def test_junk_text_counted_once_per_line() -> None:
    s = Sink()
    s.feed(b'{"class":"TPV"}\r\n' + GGA + b"hello\n")
    assert s.lines == [GGA]
    assert s.framer.dropped == 2
