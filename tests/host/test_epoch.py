"""EpochAssembler: merging, early emission, learning, dates, validity and bad values."""

from __future__ import annotations

import calendar

import pytest

from sepmon.checksum import frame_sentence
from sepmon.epoch import UNUSED, USED, EpochAssembler
from sepmon.model import Fix
from sepmon.nmea import Reject, Sentence, parse_line

KN = 1852.0 / 3600.0
T0 = calendar.timegm((2024, 3, 15, 12, 0, 0))


def s(body: str) -> Sentence:
    got = parse_line(frame_sentence(body).encode())
    assert isinstance(got, tuple)
    return got


def gga(
    t: str,
    q: str = "1",
    lat: str = "4830.000,N",
    lon: str = "01115.000,E",
    rest: str = "08,0.9,500.0,M,47.0,M,,",
) -> Sentence:
    return s(f"GPGGA,{t},{lat},{lon},{q},{rest}")


def rmc(
    t: str,
    st: str = "A",
    date: str = "150324",
    sog: str = "010.0",
    cog: str = "090.0",
    mode: str = "A",
    pos: str = "4830.000,N,01115.000,E",
) -> Sentence:
    return s(f"GPRMC,{t},{st},{pos},{sog},{cog},{date},,,{mode}")


def vtg(cog: str = "090.0", kts: str = "010.0", kmh: str = "018.5", mode: str = "A") -> Sentence:
    return s(f"GPVTG,{cog},T,,M,{kts},N,{kmh},K,{mode}")


GSA = s("GNGSA,A,3,04,05,09,12,,,,,,,,,2.0,1.1,1.7")


def fix(t: float = T0, **kw: object) -> Fix:
    base: dict[str, object] = dict(
        source="a",
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


def feed(
    asm: EpochAssembler, sentences: list[Sentence], rx_t: float | None = None
) -> tuple[list[Fix], list[str]]:
    out: list[Fix] = []
    statuses = [asm.add(x, rx_t, out) for x in sentences]
    return out, statuses


def test_one_epoch_merges_all_sentences() -> None:
    asm = EpochAssembler("a")
    out, st = feed(asm, [rmc("120000.00"), vtg(), gga("120000.00"), GSA])
    assert out == [] and st == [USED] * 4  # nothing learned yet: wait for the next time
    asm.flush(out)
    assert out == [fix()]
    assert asm.fixes == 1


def test_learned_epoch_is_emitted_on_its_last_sentence() -> None:
    asm = EpochAssembler("a")
    out, _ = feed(asm, [rmc("120000.00"), vtg(), gga("120000.00"), GSA, rmc("120001.00"), vtg()])
    assert out == [fix()]  # epoch 0, closed by the new time
    assert asm.expected == {"RMC", "VTG", "GGA"}
    more, st = feed(asm, [gga("120001.00")])
    assert more == [fix(T0 + 1)]  # no need to wait for 12:00:02
    # The GSA after the GGA is late for an emitted epoch: unused, no second fix.
    late, st = feed(asm, [GSA, gga("120001.00")])
    assert late == [] and st == [UNUSED, UNUSED]


def test_type_showing_up_late_is_learned() -> None:
    asm = EpochAssembler("a")
    out, _ = feed(asm, [gga("120000.00"), gga("120001.00")], rx_t=T0)
    assert asm.expected == {"GGA"}
    out, st = feed(asm, [gga("120002.00"), vtg()], rx_t=T0)
    assert st == [USED, UNUSED] and out[-1].sog_mps is None
    assert asm.expected == {"GGA", "VTG"}
    out, _ = feed(asm, [gga("120003.00")], rx_t=T0)
    assert out == []  # now waits for the VTG
    out, _ = feed(asm, [vtg(kts="002.0")], rx_t=T0)
    assert out == [fix(T0 + 3, sog_mps=pytest.approx(2 * KN), rx_t=T0)]


def test_type_forgotten_after_three_missing_epochs() -> None:
    asm = EpochAssembler("a")
    feed(asm, [rmc("120000.00"), gga("120000.00")])
    got = [[f.t for f in feed(asm, [gga(f"1200{i:02d}.00")])[0]] for i in range(1, 6)]
    # Epochs 1-3 wait for an RMC that never comes (each is emitted when the next time
    # arrives); the third miss forgets RMC, so epochs 4 and 5 go out at once.
    assert got == [[T0], [T0 + 1], [T0 + 2], [T0 + 3, T0 + 4], [T0 + 5]]
    assert asm.expected == {"GGA"}


def test_no_fix_sentence_with_new_time_closes_the_open_epoch() -> None:
    asm = EpochAssembler("a")
    out, st = feed(asm, [gga("120000.00"), gga("120001.00", q="0", lat=",", lon=",")], rx_t=T0)
    assert out == [fix(sog_mps=None, cog_deg=None, rx_t=T0)]
    assert st == [USED, Reject.NO_FIX]


@pytest.mark.parametrize(
    "bad",
    [
        gga("120000.00", q="0"),
        gga("120000.00", q="7"),
        gga("120000.00", q="8"),
        gga("120000.00", lat=",N"),
        gga("120000.00", lon=",E"),
        rmc("120000.00", st="V"),
        rmc("120000.00", mode="N"),
        rmc("120000.00", mode="S"),
        rmc("120000.00", pos=",,,"),
        s("GPRMC,120000.00,A,4830.000,N,01115.000,E,010.0,090.0,150324,,,A,V"),
        s("GNGNS,120000.00,4830.000,N,01115.000,E,NNN,08,0.9,500.0,47.0,,"),
        s("GNGNS,120000.00,4830.000,N,01115.000,E,S,08,0.9,500.0,47.0,,"),
        s("GPGLL,4830.000,N,01115.000,E,120000.00,V,N"),
        s("GPGLL,4830.000,N,01115.000,E,120000.00,A,N"),
    ],
)
def test_no_fix_sentences_never_become_a_position(bad: Sentence) -> None:
    asm = EpochAssembler("a")
    out, st = feed(asm, [bad])
    asm.flush(out)
    assert st == [Reject.NO_FIX] and out == []
    assert asm.dropped == {"no_fix": 1}


def test_no_fix_velocity_and_dop_sentences() -> None:
    asm = EpochAssembler("a")
    _, st = feed(asm, [gga("120000.00"), vtg(mode="N"), s("GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99")])
    assert st == [USED, Reject.NO_FIX, Reject.NO_FIX]


def test_gns_gll_and_southern_western_hemispheres() -> None:
    asm = EpochAssembler("a")
    out, _ = feed(asm, [s("GNGNS,120000.00,3330.000,S,07015.000,W,DAN,12,0.7,100.0,-20.0,,")], rx_t=T0)
    asm.flush(out)
    assert out == [
        fix(
            lat=-33.5,
            lon=-70.25,
            alt_m=80.0,
            sog_mps=None,
            cog_deg=None,
            quality=2,
            hdop=0.7,
            sats=12,
            rx_t=T0,
        )
    ]
    asm = EpochAssembler("a")
    out, _ = feed(asm, [s("GPGLL,4830.000,N,01115.000,E,120000.00,A,D"), rmc("120000.00")])
    asm.flush(out)
    assert out == [fix(alt_m=None, quality=2, hdop=None, sats=None)]


def test_quality_from_gga_wins_over_rmc_mode() -> None:
    asm = EpochAssembler("a")
    out, _ = feed(asm, [rmc("120000.00"), gga("120000.00", q="6")])
    asm.flush(out)
    assert out[0].quality == 6


def test_hdop_from_gsa_when_no_gga_and_gsa_is_learned() -> None:
    asm = EpochAssembler("a")
    out, _ = feed(asm, [rmc("120000.00"), GSA, rmc("120001.00")])
    assert out == [fix(alt_m=None, hdop=1.1, sats=None)]
    assert asm.expected == {"RMC", "GSA"}
    out, _ = feed(asm, [GSA])
    assert out == [fix(T0 + 1, alt_m=None, hdop=1.1, sats=None)]


def test_missing_geoid_separation_and_2d_fix() -> None:
    asm = EpochAssembler("a")
    out, _ = feed(
        asm, [gga("120000.00", rest="08,0.9,500.0,M,,M,,"), gga("120001.00", rest="05,2.0,,,,,,")], T0
    )
    asm.flush(out)
    assert [f.alt_m for f in out] == [500.0, None]


def test_vtg_variants() -> None:
    asm = EpochAssembler("a")
    legacy = s("GPVTG,270.0,268.0,001.0,001.9")
    out, _ = feed(asm, [gga("120000.00"), vtg(kts="", kmh="036.0"), gga("120001.00"), legacy], T0)
    asm.flush(out)
    assert [(f.sog_mps, f.cog_deg) for f in out] == [(pytest.approx(10.0), 90.0), (pytest.approx(KN), 270.0)]


def test_bad_values_reject_the_line_and_merge_nothing() -> None:
    asm = EpochAssembler("a")
    bad = [
        rmc("120000.00", pos="48x0.000,N,01115.000,E", sog="003.0"),  # sog must not leak into the fix
        gga("120000.00", lat="9130.000,N"),
        gga("120000.00", lon="01160.000,E"),
        gga("120000.00", lat="4830.000,Q"),
        gga("120000.00", lat="0,N"),
        gga("120000.00", rest="08,nan,500.0,M,47.0,M,,"),
        gga("120000.00", rest="-1,0.9,500.0,M,47.0,M,,"),
        gga("120000.00", rest="08,0.9,5.0.0,M,47.0,M,,"),
        rmc("120000.00", sog="-1.0"),
        rmc("120000.00", cog="inf"),
        gga("1200"),
        gga("240000.00"),
        gga("126000.00"),
        gga("120000.0x"),
        gga("", q="1"),
    ]
    out, st = feed(asm, [*bad, gga("120000.00"), vtg()], T0)
    asm.flush(out)
    assert st == [Reject.UNPARSABLE] * len(bad) + [USED, USED]
    assert out == [fix(rx_t=T0)]


def test_short_sentences_are_padded_not_crashing() -> None:
    asm = EpochAssembler("a")
    out, st = feed(asm, [s("GPGGA,120000.00,4830.000,N,01115.000,E,1"), s("GPRMC,120000.00,A")], T0)
    asm.flush(out)
    assert st == [USED, Reject.NO_FIX]
    assert out == [fix(alt_m=None, sog_mps=None, cog_deg=None, hdop=None, sats=None, rx_t=T0)]


@pytest.mark.parametrize("date", ["", "150380", "150399", "010100", "310224", "abcdef", "000000"])
def test_bad_or_untrusted_rmc_dates_fall_back(date: str) -> None:
    asm = EpochAssembler("a")
    out, _ = feed(asm, [rmc("120000.00"), rmc("120001.00", date=date)])
    asm.flush(out)
    assert [f.t for f in out] == [T0, T0 + 1]  # the second takes the last known date
    asm = EpochAssembler("a")
    out, _ = feed(asm, [rmc("120001.00", date=date)])
    asm.flush(out)
    assert out == [] and asm.dropped == {"no_date": 1}


def test_date_from_receive_time_picks_the_nearest_day() -> None:
    asm = EpochAssembler("a")
    rx = calendar.timegm((2024, 3, 16, 0, 0, 0)) + 0.4  # received just after midnight
    out, _ = feed(asm, [gga("235959.80")], rx_t=rx)
    asm.flush(out)
    assert out[0].t == pytest.approx(calendar.timegm((2024, 3, 15, 23, 59, 59)) + 0.8)
    assert out[0].rx_t == rx


def test_rmc_date_more_than_a_day_off_the_receive_time_gives_way_to_it() -> None:
    # GPS week rollover: the receiver says 2004-07-30 (1024 weeks back) on 2024-03-15.
    # The receive time's day wins, so epochs with and without RMC agree on the date.
    rolled = "300704"
    asm = EpochAssembler("a")
    sentences = [
        rmc("120000.00", date=rolled),
        gga("120000.00"),
        gga("120001.00"),
        rmc("120002.00", date=rolled),
    ]
    out, _ = feed(asm, sentences, rx_t=T0 + 0.1)
    asm.flush(out)
    assert [f.t for f in out] == [T0, T0 + 1, T0 + 2]
    # Within a day the receiver's own date stands (just after midnight, a late line).
    asm = EpochAssembler("a")
    out, _ = feed(asm, [rmc("235959.80")], rx_t=calendar.timegm((2024, 3, 16, 0, 0, 0)) + 0.4)
    asm.flush(out)
    assert out[0].t == pytest.approx(calendar.timegm((2024, 3, 15, 23, 59, 59)) + 0.8)
    # Without a receive time (a plain file read offline) there is nothing better than the RMC date.
    asm = EpochAssembler("a")
    out, _ = feed(asm, [rmc("120000.00", date=rolled)])
    asm.flush(out)
    assert out[0].t == calendar.timegm((2004, 7, 30, 12, 0, 0))


def test_midnight_rollover_without_rmc() -> None:
    asm = EpochAssembler("a")
    out, _ = feed(asm, [rmc("235959.00"), gga("235959.00"), gga("000000.00"), gga("000001.00")])
    asm.flush(out)
    day = calendar.timegm((2024, 3, 15, 0, 0, 0))
    assert [f.t for f in out] == [day + 86399, day + 86400, day + 86401]


def test_leap_second_does_not_crash() -> None:
    asm = EpochAssembler("a")
    out, _ = feed(
        asm,
        [
            rmc("235960.00", date="311216"),
            gga("235960.00"),
            rmc("000000.00", date="010117"),
            gga("000000.00"),
        ],
    )
    asm.flush(out)
    assert [f.t for f in out] == [calendar.timegm((2017, 1, 1, 0, 0, 0))]
    assert asm.dropped == {"duplicate_time": 1}


def test_tenth_of_a_second_epochs() -> None:
    asm = EpochAssembler("a")
    out, _ = feed(asm, [gga(f"120000.{i}0") for i in range(5)], T0)
    asm.flush(out)
    assert [f.t for f in out] == pytest.approx([T0 + i / 10 for i in range(5)])
