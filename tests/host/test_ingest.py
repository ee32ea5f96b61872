"""NmeaIngest end to end over hand-made recordings: one per quirk and rejection reason."""

from __future__ import annotations

import calendar
import datetime
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sepmon.apps.analyze import read_recording
from sepmon.core.checksum import frame_sentence
from sepmon.core.ingest import NmeaIngest
from sepmon.core.model import Fix, SourceStats

DATA = Path(__file__).resolve().parent.parent / "data" / "nmea"
KN = 1852.0 / 3600.0
T0 = calendar.timegm((2024, 3, 15, 12, 0, 0))


def std(t: float, source: str = "rec", **kw: object) -> Fix:
    """The fix every standard epoch of the recordings carries."""
    base: dict[str, object] = dict(
        source=source,
        t=t,
        lat=48.5,
        lon=11.25,
        alt_m=547.0,
        sog_mps=pytest.approx(10 * KN),
        cog_deg=90.0,
        quality=1,
        hdop=0.9,
        sats=8,
        rx_t=None,
    )
    base.update(kw)
    return Fix(**base)  # type: ignore[arg-type]


def run(name: str, **kw: object) -> tuple[list[Fix], dict[str, SourceStats]]:
    ing = NmeaIngest("rec", **kw)  # type: ignore[arg-type]
    fixes = list(read_recording(DATA / name, ing))
    for st_ in ing.stats.values():  # every line is accounted for exactly once
        assert st_.lines == sum(st_.rejected.values()) + st_.ignored + st_.proprietary + st_.used + st_.unused
    return fixes, ing.stats


def counts(s: SourceStats) -> tuple[object, ...]:
    return (
        s.lines,
        dict(s.rejected),
        s.ignored,
        s.proprietary,
        s.used,
        s.unused,
        s.fixes,
        dict(s.epochs_dropped),
    )


STD3 = [T0, T0 + 1, T0 + 2]
# Each standard recording has 3 epochs of RMC, VTG, GGA, GSA, GSV.  After the first
# epoch the assembler knows RMC+VTG+GGA arrive every epoch and emits on the GGA, so
# the GSA of epochs 2 and 3 comes late ("unused").
CLEAN = (15, {}, 3, 0, 10, 2, 3, {})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("crlf.nmea", CLEAN),
        ("lf.nmea", CLEAN),
        ("mixed_endings.nmea", CLEAN),
        ("double_dollar.nmea", CLEAN),
        ("merged.nmea", CLEAN),
        ("checksum_lowercase.nmea", CLEAN),
        # leading NULs and NUL runs cost nothing; a NUL-padded truncated RMC at the end has no checksum
        ("nul_runs.nmea", (16, {"checksum": 1}, 3, 0, 10, 2, 3, {})),
        # $PUBX, $GPGGAX, $GNGSTA are not ours: ignored like the GSVs
        ("six_letter.nmea", (18, {}, 6, 0, 10, 2, 3, {})),
        # GLC, THS, TXT, GLGSV interleaved
        ("unknown_types.nmea", (19, {}, 7, 0, 10, 2, 3, {})),
        # 2 AIVDM + 2 JSON lines
        ("ais_json.nmea", (19, {}, 7, 0, 10, 2, 3, {})),
        # a 430-char proprietary line fits the host bound (ignored); a 700-char GGA does not
        ("overlong.nmea", (17, {"overlong": 1}, 4, 0, 10, 2, 3, {})),
        # each UBX frame: 3 junk runs (it contains CR and LF), a "$%&'..." fragment (framing)
        # and a "!\"#" fragment (ignored like AIS); each SiRF frame: junk + a "$..." fragment
        ("binary.nmea", (36, {"framing": 18}, 6, 0, 10, 2, 3, {})),
        # the same epoch twice (two paths): one fix per epoch
        ("duplicates.nmea", (24, {}, 0, 0, 14, 10, 3, {})),
    ],
)
def test_clean_data_in_messy_framing(name: str, expected: tuple[object, ...]) -> None:
    fixes, stats = run(name)
    assert fixes == [std(t) for t in STD3]
    assert list(stats) == ["rec"]
    assert counts(stats["rec"]) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("checksum_missing.nmea", (15, {"checksum": 1}, 3, 0, 11, 0, 3, {})),
        ("checksum_wrong.nmea", (15, {"checksum": 2}, 3, 0, 10, 0, 3, {})),
        # "*G1", "*4" and "*" (nothing after the star)
        ("checksum_malformed.nmea", (15, {"checksum": 3}, 3, 0, 9, 0, 3, {})),
    ],
)
def test_checksum_rejections(name: str, expected: tuple[object, ...]) -> None:
    fixes, stats = run(name)
    assert counts(stats["rec"]) == expected
    # The epochs that lost their GGA still have a position from RMC, HDOP from GSA.
    no_gga = dict(alt_m=None, hdop=1.1, sats=None)
    first_good = {"checksum_missing.nmea": 1, "checksum_wrong.nmea": 2, "checksum_malformed.nmea": 3}[name]
    assert fixes == [std(t, **(no_gga if i < first_good else {})) for i, t in enumerate(STD3)]


def test_missing_checksum_accepted_when_not_required_but_wrong_never() -> None:
    fixes, stats = run("checksum_missing.nmea", require_checksum=False)
    assert fixes == [std(t) for t in STD3]
    assert counts(stats["rec"]) == (15, {}, 3, 0, 10, 2, 3, {})
    _, stats = run("checksum_wrong.nmea", require_checksum=False)
    assert stats["rec"].rejected == {"checksum": 2}


def test_all_talkers() -> None:
    fixes, stats = run("talkers.nmea")  # GP GN GL GA GB BD QZ GQ, one epoch each
    assert fixes == [std(T0 + i) for i in range(8)]
    assert counts(stats["rec"]) == (24, {}, 0, 0, 17, 7, 8, {})


def test_cold_start_empty_fields_never_give_zero_zero() -> None:
    fixes, stats = run("empty_fields.nmea")
    assert fixes == [std(T0 + 1), std(T0 + 2)]
    assert all(abs(f.lat) > 1 and abs(f.lon) > 1 for f in fixes)
    # 12 sentences say "no fix" (incl. GGA quality 1 and RMC A with empty lat/lon);
    # epochs 11:59:59 and 12:00:00 have no position.
    assert counts(stats["rec"]) == (22, {"no_fix": 12}, 2, 0, 8, 0, 2, {"no_fix": 2})


def test_bad_rmc_dates() -> None:
    fixes, stats = run("rmc_bad_dates.nmea")  # years 80, 99, empty, 31 Feb, letters; good; 000000
    rmc_only = dict(alt_m=None, hdop=None, sats=None)
    assert fixes == [std(T0 + 5, **rmc_only), std(T0 + 6, **rmc_only)]
    assert counts(stats["rec"]) == (7, {}, 0, 0, 7, 0, 2, {"no_date": 5})


def test_receiver_clock_in_1980_and_2000() -> None:
    fixes, stats = run("clock_1980_2000.nmea")
    assert fixes == [std(T0), std(T0 + 1)]
    assert counts(stats["rec"]) == (10, {"no_fix": 2}, 0, 0, 8, 0, 2, {"no_fix": 1, "no_date": 2})


def test_receiver_clock_in_2000_dated_by_receive_time() -> None:
    ing = NmeaIngest("rec")
    rx = calendar.timegm((2024, 3, 15, 23, 59, 46))
    fixes = ing.feed((DATA / "clock_1980_2000.nmea").read_bytes(), rx_t=rx) + ing.flush()
    day = calendar.timegm((2024, 3, 15, 0, 0, 0))
    assert [f.t for f in fixes] == [day + 86385, day + 86386, T0, T0 + 1]


def test_simulator_and_manual_positions_are_refused() -> None:
    fixes, stats = run("simulator_manual.nmea")
    assert fixes == [std(T0 + 2, quality=6, sog_mps=pytest.approx(10 * KN))]
    assert counts(stats["rec"]) == (6, {"no_fix": 4}, 0, 0, 2, 0, 1, {"no_fix": 2})


def test_bad_field_values_are_unparsable() -> None:
    fixes, stats = run("unparsable.nmea")
    assert fixes == [std(T0 + 8, cog_deg=90.0)]
    assert counts(stats["rec"]) == (12, {"unparsable": 10}, 0, 0, 2, 0, 1, {"no_fix": 7})


def test_midnight_rollover_without_rmc() -> None:
    fixes, _ = run("midnight.nmea")
    day = calendar.timegm((2024, 3, 15, 0, 0, 0))
    assert [f.t for f in fixes] == [day + 86398, day + 86399, day + 86400, day + 86401]


def test_leap_second() -> None:
    fixes, stats = run("leap_second.nmea")
    new_year = calendar.timegm((2017, 1, 1, 0, 0, 0))
    assert [f.t for f in fixes] == [new_year - 1, new_year, new_year + 1]
    assert stats["rec"].epochs_dropped == {"duplicate_time": 1}


def test_tag_blocks_split_sources_and_carry_receive_times() -> None:
    fixes, stats = run("tagged_multi.nmea")
    gga_only = dict(sog_mps=None, cog_deg=None)
    alpha = [std(T0 + i, "alpha", rx_t=pytest.approx(T0 + i + 0.12), **gga_only) for i in range(3)]
    alpha.append(std(T0 + 3, "alpha", rx_t=T0 + 3.5, **gga_only))
    bravo = [
        std(T0 + i, "bravo", lat=pytest.approx(48 + 31 / 60), rx_t=T0 + i + 0.25, **gga_only)
        for i in range(3)
    ]
    assert sorted(fixes, key=lambda f: (f.source, f.t)) == alpha + bravo
    assert counts(stats["alpha"]) == (4, {}, 0, 0, 4, 0, 4, {})
    assert counts(stats["bravo"]) == (3, {}, 0, 0, 3, 0, 3, {})
    # a TAG block with a wrong checksum, and one without: the stream's own source counts them
    assert counts(stats["rec"]) == (2, {"checksum": 2}, 0, 0, 0, 0, 0, {})


def test_proprietary_lines_go_to_the_callback() -> None:
    got: list[tuple[str, str]] = []
    fixes, stats = run("psep.nmea", on_proprietary=lambda src, line: got.append((src, line)))
    assert fixes == [std(T0), std(T0 + 1)]
    assert [line.split(",")[0] for _, line in got] == ["$PSEPI", "$PSEPS"]
    assert got[0] == ("rec", frame_sentence("PSEPI,1,board-7,0.3.1,picow"))
    # no checksum, wrong checksum: refused
    assert counts(stats["rec"]) == (14, {"checksum": 2}, 2, 2, 7, 1, 2, {})


def test_failing_callback_is_counted_not_raised() -> None:
    def boom(src: str, line: str) -> None:
        raise RuntimeError("decoder bug")

    fixes, stats = run("psep.nmea", on_proprietary=boom)
    assert len(fixes) == 2 and stats["rec"].callback_errors == 2


def test_board_line_bound() -> None:
    _, stats = run("overlong.nmea", max_line=120)
    assert stats["rec"].rejected == {"overlong": 2}


def test_read_recording_default_source_is_file_stem() -> None:
    assert {f.source for f in read_recording(DATA / "crlf.nmea")} == {"crlf"}


def test_fix_is_out_as_soon_as_the_epoch_is_complete() -> None:
    ing = NmeaIngest("live")
    lines = (DATA / "crlf.nmea").read_bytes().splitlines(keepends=True)
    emitted_after = [len(ing.feed(line)) for line in lines]
    # epoch 1 is emitted by the first sentence of epoch 2; epochs 2 and 3 by their own GGA (line 3 of 5)
    assert emitted_after == [0] * 5 + [1, 0, 1, 0, 0] + [0, 0, 1, 0, 0]


ALL = sorted(DATA.glob("*.nmea"))


def _fixes_and_counts(data: bytes, cuts: list[int]) -> tuple[list[Fix], dict[str, tuple[object, ...]]]:
    ing = NmeaIngest("rec")
    out: list[Fix] = []
    pos = 0
    for cut in sorted(cuts):
        out += ing.feed(data[pos:cut])
        pos = cut
    out += ing.feed(data[pos:])
    out += ing.flush()
    return out, {k: counts(v) for k, v in ing.stats.items()}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ALL), st.lists(st.integers(0, 4000), max_size=25))
def test_chunk_boundaries_do_not_change_anything(path: Path, cuts: list[int]) -> None:
    data = path.read_bytes()
    cuts = [c % (len(data) + 1) for c in cuts]
    assert _fixes_and_counts(data, cuts) == _fixes_and_counts(data, [])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=10))
def test_random_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    fixes, _ = _fixes_and_counts(data, [c % (len(data) + 1) for c in cuts])
    assert fixes == []  # random bytes essentially never carry two valid checksums and a fix


SEED_LINES = [line for p in ALL for line in p.read_bytes().splitlines(keepends=True)][:400]


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 40))
def test_mutated_real_sentences_never_raise(rnd: random.Random, n: int) -> None:
    lines = [bytearray(rnd.choice(SEED_LINES)) for _ in range(n)]
    for line in lines:
        for _ in range(rnd.randint(0, 3)):
            op = rnd.randrange(4)
            i = rnd.randrange(len(line) + 1)
            if op == 0 and line:  # flip a byte
                line[min(i, len(line) - 1)] = rnd.randrange(256)
            elif op == 1:  # insert a reserved or binary byte
                line[i:i] = bytes([rnd.choice(b"$!\\*,\r\n\x00\xb5.-9")])
            elif op == 2:  # truncate
                del line[i:]
            else:  # duplicate a slice
                line[i:i] = line[rnd.randrange(len(line) + 1) :][:20]
    data = b"".join(lines)
    ing = NmeaIngest("rec", require_checksum=rnd.random() < 0.5)
    fixes = ing.feed(data) + ing.flush()
    for f in fixes:
        assert -90 <= f.lat <= 90 and -180 <= f.lon <= 180
        assert (f.lat, f.lon) != (0.0, 0.0)
    for s in ing.stats.values():
        assert s.lines == sum(s.rejected.values()) + s.ignored + s.proprietary + s.used + s.unused


def test_recorded_json_line_with_a_sentence_inside_is_not_a_fix() -> None:
    # Issue 13, item 13: `record` keeps a JSON line as received, behind its TAG block;
    # `analyze` framed the "$GPGGA..." inside the JSON as a sentence of no source and made
    # a fix of a source named after the file.  A TAG block followed by "{" is one line,
    # ignored on the TAG's source (oracle: NMEA 4.10 TAG blocks prefix one sentence/line).
    gga = frame_sentence("GPGGA,120000.00,4830.000,N,01115.000,E,1,08,0.9,500.0,M,47.0,M,,")
    rmc = frame_sentence("GPRMC,120000.00,A,4830.000,N,01115.000,E,010.0,090.0,150324,,,A")
    tag = frame_sentence("c:1710504000000,s:alpha")[1:]
    data = (f'\\{tag}\\{{"class":"X","raw":"{gga}"}}\r\n\\{tag}\\{{{rmc}\r\n').encode()
    ing = NmeaIngest("rec")
    assert ing.feed(data) + ing.flush() == []
    assert set(ing.stats) == {"rec", "alpha"}
    assert ing.stats["alpha"].ignored == 2 and ing.stats["rec"].lines == 0


def test_default_date_for_a_recording_without_any() -> None:
    gga = frame_sentence("GPGGA,120000.00,4830.000,N,01115.000,E,1,08,0.9,500.0,M,47.0,M,,")
    ing = NmeaIngest("rec", default_date=datetime.date(2024, 3, 15))
    fixes = ing.feed(f"{gga}\r\n".encode()) + ing.flush()
    assert [f.t for f in fixes] == [T0] and ing.stats["rec"].dated_by == {"--date": 1}
