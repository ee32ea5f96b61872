"""EpochAssembler: merging, early emission, learning, dates, validity and bad values."""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import math
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sepmon.core.checksum import frame_sentence
from sepmon.core.epoch import UNUSED, USED, EpochAssembler
from sepmon.core.epoch_reference import ReferenceAssembler
from sepmon.core.framing import LineFramer
from sepmon.core.model import Fix, new_fix
from sepmon.core.nmea import FIELD, Reject, Sentence, parse_line
from sepmon.core.sentences import SENTENCES
from sepmon.core.tagblock import parse_tag_block

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


# --- The per-type adds against the reference path ----------------------------------------
#
# ReferenceAssembler (sepmon.core.epoch_reference) takes every sentence through
# EpochAssembler.add_from_table, which reads every rule from the sentence's entry in
# sepmon.core.sentences; the fast per-type adds are held to it here.  Both are fed the
# same sentences; every outcome, fix, drop counter and learned type must agree.

_NEED = {k: len(v) for k, v in FIELD.items()}
_TIME_IDX = {k: FIELD[k]["timestamp"] for k in ("GGA", "RMC", "GNS", "GLL", "GST")}


def _both(sentences: list[tuple[Sentence, float | None]]) -> None:
    """Feed both assemblers (the per-type one through add and through handler) and compare."""
    ref, new, bound = ReferenceAssembler("a"), EpochAssembler("a"), EpochAssembler("a")
    out_ref: list[Fix] = []
    out_new: list[Fix] = []
    out_bound: list[Fix] = []
    for sentence, rx_t in sentences:
        want = ref.add((sentence[0], sentence[1], list(sentence[2])), rx_t, out_ref)
        got = new.add((sentence[0], sentence[1], list(sentence[2])), rx_t, out_new)
        body = ",".join(sentence[2])
        if sentence[0] == "GSA" and body.isascii():  # as the ingest fast path hands it over
            got_bound = bound.gsa_line(body.encode("ascii"), rx_t, out_bound)
        else:
            got_bound = bound.handler(sentence[0])(list(sentence[2]), rx_t, out_bound)
        assert got == want == got_bound, sentence
        assert new.expected == ref.expected == bound.expected
    for asm, out in ((ref, out_ref), (new, out_new), (bound, out_bound)):
        asm.flush(out)
    # repr: a NaN equals a NaN there, and floats print exactly.
    assert repr(out_new) == repr(out_ref) == repr(out_bound)
    assert new.dropped == ref.dropped == bound.dropped
    assert new.fixes == ref.fixes == bound.fixes


@given(
    st.lists(st.sampled_from(["", "1", "2", "3", "02", "2 ", "23", "A", "3.0", ",", ",,"]), max_size=4),
    st.booleans(),
)
def test_gsa_line_is_the_gsa_handler(fields: list[str], open_epoch: bool) -> None:
    """gsa_line on the bytes gives what the GSA handler gives on the split fields, open or late."""
    body = ",".join(fields)
    got_out: list[Fix] = []
    want_out: list[Fix] = []
    asm, ref = EpochAssembler("a"), EpochAssembler("a")
    for a, out in ((asm, got_out), (ref, want_out)):
        a.add(rmc("120000.00"), None, out)
        if not open_epoch:
            a.flush(out)
    got = asm.gsa_line(body.encode("ascii"), None, got_out)
    want = ref.handler("GSA")(body.split(","), None, want_out)
    assert got == want
    assert asm.expected == ref.expected
    asm.flush(got_out)
    ref.flush(want_out)
    assert repr(got_out) == repr(want_out)


def test_sentence_table_is_pynmea2s() -> None:
    """The table's field counts and positions are pynmea2's (the oracle for field layout)."""
    for kind, spec in SENTENCES.items():
        names = FIELD[kind]
        assert spec.fields == len(names), kind
        for attr, name in (("time", "timestamp"), ("lat", "lat"), ("status", "status"), ("date", "datestamp"),
                           ("sats", "num_sats"), ("alt", "altitude"), ("sep", "geo_sep")):  # fmt: skip
            if getattr(spec, attr) is not None and name in names:
                assert getattr(spec, attr) == names[name], (kind, attr)
    assert SENTENCES["GGA"].quality == FIELD["GGA"]["gps_qual"]
    assert (
        SENTENCES["GSA"].hdop == FIELD["GSA"]["hdop"]
        and SENTENCES["GSA"].fix_type == FIELD["GSA"]["mode_fix_type"]
    )
    assert SENTENCES["RMC"].mode == FIELD["RMC"]["mode_indicator"]
    gst = FIELD["GST"]
    assert (SENTENCES["GST"].sd_lat, SENTENCES["GST"].sd_lon, SENTENCES["GST"].sd_alt) == (
        gst["std_dev_latitude"],
        gst["std_dev_longitude"],
        gst["std_dev_altitude"],
    )
    assert (
        SENTENCES["GLL"].mode == FIELD["GLL"]["faa_mode"]
        and SENTENCES["VTG"].mode == FIELD["VTG"]["faa_mode"]
    )


def test_a_new_sentence_type_is_one_table_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    # A type without a fast add (here a GGA look-alike "GGX") runs on the reference path
    # through the ordinary add, with nothing but its table entry.
    import dataclasses as dc

    from sepmon.core import epoch as epoch_mod

    spec = dc.replace(SENTENCES["GGA"], kind="GGX")
    monkeypatch.setitem(
        epoch_mod._ADD, "GGX", lambda self, f, rx_t, out: self.add_from_table(spec, f, rx_t, out)
    )
    asm = EpochAssembler("a")
    out: list[Fix] = []
    body = gga("120000.00")[2]
    assert asm.add(("GGX", "GP", body), None, out) == USED
    assert asm.add(rmc("120000.00"), None, out) == USED
    asm.flush(out)
    assert out == [fix(sog_mps=pytest.approx(10 * KN))]


def test_field_positions_are_pynmea2s() -> None:
    """The per-type adds index fields by number; these are the numbers of pynmea2's tables."""
    assert _NEED == {"GGA": 14, "RMC": 13, "GNS": 12, "GLL": 7, "GST": 8, "VTG": 9, "GSA": 17, "ZDA": 6}
    assert _TIME_IDX == {"GGA": 0, "RMC": 0, "GNS": 0, "GLL": 4, "GST": 0}
    gga_, rmc_, gns_, gll_, vtg_, gsa_ = (FIELD[k] for k in ("GGA", "RMC", "GNS", "GLL", "VTG", "GSA"))
    assert (gga_["lat"], gga_["gps_qual"], gga_["num_sats"], gga_["horizontal_dil"]) == (1, 5, 6, 7)
    assert (gga_["altitude"], gga_["geo_sep"]) == (8, 10)
    assert (gns_["lat"], gns_["mode_indicator"], gns_["num_sats"], gns_["hdop"]) == (1, 5, 6, 7)
    assert (gns_["altitude"], gns_["geo_sep"]) == (8, 9)
    assert (rmc_["status"], rmc_["lat"], rmc_["spd_over_grnd"], rmc_["true_course"]) == (1, 2, 6, 7)
    assert (rmc_["datestamp"], rmc_["mode_indicator"], rmc_["nav_status"]) == (8, 11, 12)
    assert (gll_["lat"], gll_["status"], gll_["faa_mode"]) == (0, 5, 6)
    assert (vtg_["true_track"], vtg_["true_track_sym"], vtg_["spd_over_grnd_kts"]) == (0, 1, 4)
    assert (vtg_["spd_over_grnd_kmph"], vtg_["faa_mode"]) == (6, 8)
    assert (gsa_["mode_fix_type"], gsa_["hdop"]) == (1, 15)
    zda_ = FIELD["ZDA"]
    assert (zda_["timestamp"], zda_["day"], zda_["month"], zda_["year"]) == (0, 1, 2, 3)


def _recording_sentences(path: Path) -> list[tuple[Sentence, float | None]]:
    got: list[tuple[Sentence, float | None]] = []
    for line in LineFramer().feed(path.read_bytes() + b"\n"):
        tagged = parse_tag_block(line, False)
        if isinstance(tagged, Reject):
            continue
        tags, body = tagged
        sentence = parse_line(body, False)
        if isinstance(sentence, tuple) and sentence[0] != "PSEP":
            got.append((sentence, tags.rx_t))
    return got


RECORDINGS = sorted((Path(__file__).parent.parent / "data" / "nmea").glob("*.nmea"))


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_per_type_adds_match_the_general_add_on_the_recordings(path: Path) -> None:
    _both(_recording_sentences(path))


def test_per_type_adds_match_the_general_add_on_all_recordings_in_one_stream() -> None:
    _both([x for path in RECORDINGS for x in _recording_sentences(path)])


_TEMPLATES = [
    "GPGGA,{t},4830.000,N,01115.000,E,1,08,0.9,500.0,M,47.0,M,,",
    "GNGGA,{t},4830.500,S,01115.250,W,4,12,1.1,10.0,M,,M,,",
    "GPRMC,{t},A,4830.000,N,01115.000,E,010.0,090.0,150324,,,A",
    "GNRMC,{t},A,4830.000,N,01115.000,E,0.0,,150324,,,D,S",
    "GPVTG,090.0,T,,M,010.0,N,018.5,K,A",
    "GPVTG,270.0,268.0,001.0,001.9",
    "GNGSA,A,3,04,05,09,12,,,,,,,,,2.0,1.1,1.7",
    "GPGLL,4830.000,N,01115.000,E,{t},A,A",
    "GNGNS,{t},4830.000,N,01115.000,E,AN,10,0.8,545.4,47.0,,",
    "GPGST,{t},1.0,2.0,1.5,45.0,1.1,1.2,2.0",
]
_TIMES = [
    "120000.00",
    "120000.10",
    "120001.00",
    "120002.00",
    "235959.90",
    "000000.00",
    "235960.00",
    "1200",
    "",
]
_VALUES = [
    "",
    "0",
    "-1",
    "-0.0",
    "nan",
    "inf",
    "1e308",
    "-1e308",
    "99.9",
    "60.0",
    "A",
    "V",
    "N",
    "S",
    "T",
    "E",
    "W",
]
_VALUES += [
    "2",
    "3",
    "7",
    "AN",
    "NN",
    "4830.000",
    "9130.000",
    "01160.000",
    "0",
    "1_0",
    " 5",
    "x",
    "311216",
    "010100",
]


@st.composite
def _sentences(draw: st.DrawFn) -> tuple[Sentence, float | None]:
    body = draw(st.sampled_from(_TEMPLATES)).format(t=draw(st.sampled_from(_TIMES)))
    parts = body.split(",")
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(1, len(parts) - 1))
        parts[i] = draw(st.one_of(st.sampled_from(_VALUES), st.text("0123456789.-+eNSAV", max_size=9)))
    if draw(st.integers(0, 9)) == 0:
        parts = parts[: draw(st.integers(2, len(parts)))]  # truncated
    rx_t = draw(st.sampled_from([None, float(T0), T0 + 0.4, T0 - 5e7]))
    return (parts[0][2:], parts[0][:2], parts[1:]), rx_t


@settings(max_examples=400, deadline=None)
@given(st.lists(_sentences(), max_size=60))
def test_per_type_adds_match_the_general_add(sentences: list[tuple[Sentence, float | None]]) -> None:
    _both(sentences)


def _template_sentence(body: str) -> Sentence:
    parts = body.split(",")
    return parts[0][2:], parts[0][:2], parts[1:]


@pytest.mark.parametrize("template", _TEMPLATES)
def test_per_type_adds_match_the_general_add_on_every_single_field_change(template: str) -> None:
    """Every field of every template set to every listed value, first in its epoch and later."""
    before = [(_template_sentence(t.format(t="120000.00")), T0) for t in _TEMPLATES[:3]]
    after = [(_template_sentence(t.format(t="120001.00")), T0) for t in _TEMPLATES]
    parts = template.format(t="120000.00").split(",")
    for i in range(1, len(parts)):
        for value in [*_VALUES, *_TIMES]:
            changed = _template_sentence(",".join([*parts[:i], value, *parts[i + 1 :]]))
            _both([(changed, T0), *after])
            _both([*before, (changed, T0), *after])


def test_new_fix_is_a_fix_in_every_respect() -> None:
    """model.new_fix (the fast constructor _emit uses) against the dataclass constructor."""
    args = ("a", T0, 48.5, 11.25, None, 3.0, 90.0, 2, 0.9, 8, T0 + 0.1)
    fast, slow = new_fix(*args), Fix(*args)
    assert type(fast) is Fix
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert dataclasses.astuple(fast) == (*args, None, None, None)  # geoid_sep_m, eph_m, epv_m: not given
    assert dataclasses.replace(fast, lat=1.0) == Fix("a", T0, 1.0, *args[3:])
    assert pickle.loads(pickle.dumps(fast)) == slow
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.lat = 0.0  # type: ignore[misc]
    # Same fields, same order: a field added to Fix must be added to new_fix too.
    assert [f.name for f in dataclasses.fields(Fix)] == list(new_fix.__code__.co_varnames[:14])
    full = (*args, 47.0, 3.5, 5.25)
    assert repr(new_fix(*full)) == repr(Fix(*full))


@pytest.mark.parametrize("nav_status", ["S", "C", "U", "V"])
def test_rmc_navigational_status_does_not_decide_the_fix(nav_status: str) -> None:
    # Oracle: NMEA 0183 4.10 defines RMC field 13 as the navigational status (S safe,
    # C caution, U unsafe, V "equipment does not provide navigational status"); fix
    # validity is field 2 (A) and the mode indicator.  u-blox's M9/M10/F9 interface
    # descriptions show RMC ending in ",A,V" on every valid fix, as this one (status A,
    # mode A, nav status V; position 48°30'N 11°15'E, 12.0 kn, 45.0°).
    asm = EpochAssembler("a")
    line = s(f"GNRMC,120000.00,A,4830.000,N,01115.000,E,12.0,45.0,150324,,,A,{nav_status}")
    out: list[Fix] = []
    assert asm.add(line, None, out) == USED
    asm.flush(out)
    assert len(out) == 1
    assert out[0].lat == pytest.approx(48.5) and out[0].lon == pytest.approx(11.25)
    assert out[0].sog_mps == pytest.approx(12.0 * KN)


# --- Dates from ZDA, held epochs, broken dates, time steps, GGA's position -----------


def zda(t: str, d: str = "15", m: str = "03", y: str = "2024") -> Sentence:
    return s(f"GPZDA,{t},{d},{m},{y},00,00")


def test_zda_is_the_date_of_a_gga_only_receiver() -> None:
    # Oracle: NMEA 0183 ZDA (hhmmss.ss, day, month, 4-digit year) and the GlobalSat
    # MR-350p recording (tests/data/real/mr-350p.log), which gpsd dates from its ZDA:
    # GGA at hh:mm:ss, then a ZDA with the next second's time.
    asm = EpochAssembler("a")
    out, st = feed(asm, [gga("120000.00"), zda("120001.00"), gga("120001.00"), zda("120002.00")])
    asm.flush(out)
    assert [f.t for f in out] == [T0, T0 + 1]
    assert st == [USED, USED, USED, USED] and asm.dropped == {}
    assert asm.date_sources() == {"ZDA": 2}
    # A ZDA just after midnight dates the epoch just before it on the day before.
    asm = EpochAssembler("a")
    out, _ = feed(asm, [gga("235959.00"), zda("000000.00", d="16")])
    asm.flush(out)
    assert [f.t for f in out] == [calendar.timegm((2024, 3, 15, 23, 59, 59))]


def test_epochs_before_the_first_date_are_held_and_dated_by_it() -> None:
    # A GLL- or GGA-only epoch ahead of the first RMC (tests/data/real/gr601-w.log): gpsd
    # reports its position without a time; sepmon dates it from the next epoch's RMC.
    asm = EpochAssembler("a")
    out, _ = feed(asm, [gga("235958.00"), gga("235959.00"), rmc("000000.00", date="160324")])
    asm.flush(out)
    midnight = calendar.timegm((2024, 3, 16, 0, 0, 0))
    assert [f.t for f in out] == [midnight - 2, midnight - 1, midnight]
    assert asm.dropped == {}


def test_without_any_date_the_default_date_else_a_relative_base() -> None:
    asm = EpochAssembler("a", default_date=datetime.date(2024, 3, 15))
    out, _ = feed(asm, [gga("120000.00"), gga("120001.00")])
    asm.flush(out)
    assert [f.t for f in out] == [T0, T0 + 1] and asm.date_sources() == {"--date": 2}
    asm = EpochAssembler("a")
    out, _ = feed(asm, [gga("120000.00"), gga("120001.00")])
    asm.flush(out)
    # The receiver's time of day on an arbitrary day (1970-01-01): sources stay aligned.
    assert [f.t for f in out] == [43200.0, 43201.0] and asm.date_sources() == {"relative": 2}


def test_a_broken_date_is_not_rescued_by_a_later_one() -> None:
    # A date the receiver got wrong leaves its time of day in doubt too (clock not set):
    # dropped, as before, not dated by the next good RMC.
    asm = EpochAssembler("a")
    out, _ = feed(asm, [rmc("235945.00", date="010100"), rmc("120000.00")])
    asm.flush(out)
    assert [f.t for f in out] == [T0] and asm.dropped == {"no_date": 1}


def test_year_99_from_a_receiver_that_missed_the_2019_rollover() -> None:
    # Oracle: the GPS week number rolled over on 2019-04-06/07; a receiver that missed it
    # counts from 1999-08-22 again (1024 weeks early).  tests/data/real/april6_2019.log:
    # Telit HE910, RMC date 220899 at 00:02:31.42, which gpsd reports as 2019-04-07.
    asm = EpochAssembler("a")
    out, _ = feed(asm, [rmc("000231.42", date="220899")])
    asm.flush(out)
    assert [f.t for f in out] == [calendar.timegm((2019, 4, 7, 0, 2, 31)) + 0.42]


def test_time_stepping_back_is_not_taken_for_duplicates() -> None:
    # Issue 13, item 2: a receiver whose time steps back 3 s (less than the duplicate
    # window) lost its epochs until its time passed the old one, counted under no reason.
    # Each stepped-back epoch carries a new position: a new epoch, not a duplicate.
    asm = EpochAssembler("a")
    pos = [f"48{30 + i // 60:02d}.{i % 60:03d},N,01115.000,E" for i in range(12)]
    times = [f"1200{t:02d}.00" for t in (0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 7)]
    out, st = feed(asm, [rmc(t, pos=p) for t, p in zip(times, pos, strict=True)])
    asm.flush(out)
    assert len(out) == 12 and UNUSED not in st
    assert [f.t - T0 for f in out] == [0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 7]
    # The same epoch again (a second path) is still a duplicate.
    asm = EpochAssembler("a")
    out, st = feed(asm, [rmc("120000.00"), rmc("120001.00"), rmc("120000.00")])
    asm.flush(out)
    assert len(out) == 2 and st[-1] == UNUSED


def test_gga_position_wins_over_rmc_of_the_same_epoch() -> None:
    # tests/data/real/ch-4701.log: RMC 5356.21447 N, GGA 5356.21451 N in one epoch; gpsd
    # reports GGA's, the position its height and quality belong to.
    asm = EpochAssembler("a")
    out, _ = feed(asm, [rmc("120000.00", pos="4830.001,N,01115.001,E"), gga("120000.00")])
    asm.flush(out)
    assert (out[0].lat, out[0].lon) == (48.5, 11.25)


def test_zda_and_held_epochs_agree_with_the_reference() -> None:
    _both([(x, None) for x in [gga("120000.00"), zda("120001.00"), gga("120001.00"), rmc("120002.00")]])
    _both([(x, None) for x in [gga("235959.00"), rmc("000000.00", date="160324"), zda("000001.00", d="16")]])


# ---- GST: the receiver's own error estimates -------------------------------------------
# Oracles: the sentences are a real receiver's (tests/data/real/isync.log, gr8013-w.log,
# skytraq-fix.log: gpsd's regression logs; gpsd 3.22 reads isync's GST as lat 0.700,
# lon 0.490, alt 1.100 m -- its regression check file), NMEA 0183's GST definition
# (fields 6-8: standard deviations of latitude, longitude and altitude error, metres) and
# scipy's distributions for the 95 % bounds: a circular normal error with sigma per axis
# lies within sqrt(chi2(2).ppf(0.95)) sigma (2.448; NovAtel APN-029: R95 = 2.45 sigma) 95 %
# of the time; a normal one within norm.ppf(0.975) sigma (1.96).

ISYNC = [
    "GPRMC,131519.00,A,4153.85990,N,08738.63638,W,0.048,,030216,,,D",
    "GPVTG,,T,,M,0.048,N,0.089,K,D",
    "GPGGA,131519.00,4153.85990,N,08738.63638,W,2,12,0.95,218.1,M,-33.8,M,,0000",
    "GPGSA,A,3,20,29,13,15,21,05,18,02,51,26,16,30,1.62,0.95,1.31",
    "GPGST,131519.00,11,,,,0.70,0.49,1.1",
    "GPZDA,131519.00,03,02,2016,00,00",
    "GPRMC,131520.00,A,4153.85991,N,08738.63642,W,0.049,,030216,,,D",
    "GPVTG,,T,,M,0.049,N,0.090,K,D",
    "GPGGA,131520.00,4153.85991,N,08738.63642,W,2,12,0.93,218.1,M,-33.8,M,,0000",
    "GPGSA,A,3,20,29,13,15,21,05,18,02,51,26,16,30,1.57,0.93,1.26",
    "GPGST,131520.00,18,,,,0.70,0.49,1.1",
    "GPZDA,131520.00,03,02,2016,00,00",
    "GPRMC,131521.00,A,4153.85988,N,08738.63646,W,0.048,,030216,,,D",
]


def _r95(sig_lat: float, sig_lon: float) -> float:
    from scipy.stats import chi2

    return float(math.sqrt(chi2.ppf(0.95, 2)) * math.sqrt((sig_lat**2 + sig_lon**2) / 2))


def _z95(sig: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.975) * sig)


def test_gst_sigmas_become_the_fixs_95_percent_error_estimates() -> None:
    out, statuses = feed(EpochAssembler("a"), [s(x) for x in ISYNC])
    assert statuses.count(USED) == len(ISYNC) and len(out) == 2
    for f in out:
        assert f.eph_m == pytest.approx(_r95(0.70, 0.49), rel=1e-12)
        assert f.epv_m == pytest.approx(_z95(1.1), rel=1e-12)
        assert f.hdop in (0.95, 0.93)  # GST adds to the epoch, it replaces nothing


def test_gst_bounds_hold_95_percent_of_the_errors() -> None:
    # scipy: a round error (sigma 2 m on each axis) is a Rayleigh distance; the height a normal.
    from scipy.stats import norm, rayleigh

    asm = EpochAssembler("a")
    out, _ = feed(asm, [rmc("120000.00"), s("GPGST,120000.00,5.0,,,,2.0,2.0,3.0")])
    asm.flush(out)
    (f,) = out
    assert f.eph_m is not None and f.epv_m is not None
    assert rayleigh.cdf(f.eph_m, scale=2.0) == pytest.approx(0.95, abs=1e-9)
    assert norm.cdf(f.epv_m, scale=3.0) - norm.cdf(-f.epv_m, scale=3.0) == pytest.approx(0.95, abs=1e-9)


def test_gst_is_waited_for_once_learned_and_completes_the_epoch() -> None:
    # Receivers send GST after the epoch's other sentences (u-blox: after GLL; isync after
    # GSV): once learned, the epoch is emitted on its GST, carrying the estimates.
    asm = EpochAssembler("a")
    out: list[Fix] = []
    emitted_on = []
    for line in ISYNC:
        before = len(out)
        asm.add(s(line), None, out)
        if len(out) > before:
            emitted_on.append(line[2:5])
    assert emitted_on == ["RMC", "GST"]  # epoch 1 by the next time; epoch 2 on its GST
    assert "GST" in asm.expected


@pytest.mark.parametrize(
    ("body", "status", "eph", "epv"),
    [
        ("GPGST,{t},,,,,,,", USED, None, None),  # skytraq-fix.log: a GST without any value
        ("GNGST,{t},46,,,,4.7,1.9,5.3", USED, _r95(4.7, 1.9), _z95(5.3)),  # gr8013-w.log: no ellipse
        # NovAtel's OEM7 GPGST page example: 0.00 (under 5 mm, or not computed) is no estimate.
        ("GPGST,{t},1.18,0.00,0.00,0.0000,0.00,0.00,0.00", USED, None, None),
        ("GPGST,{t},1.0,,,,1.5,,2.0", USED, None, _z95(2.0)),  # no longitude sigma: no radius
        ("GPGST,{t},1.0,,,,1.5,0,2.0", USED, None, _z95(2.0)),
        ("GPGST,{t},1.0", USED, None, None),  # truncated (checksum-valid): padded
        ("GPGST,{t},1.0,,,,-1.5,1.0,2.0", Reject.UNPARSABLE, None, None),  # a negative sigma
        ("GPGST,{t},1.0,,,,1.5,nan,2.0", Reject.UNPARSABLE, None, None),
        ("GPGST,{t},1.0,,,,1.5,1.0,inf", Reject.UNPARSABLE, None, None),
        ("GPGST,{t},1.0,,,,1.5,1.0,x", Reject.UNPARSABLE, None, None),
        ("GPGST,{t},1.0,,,,1.5,1.0,1e308", Reject.UNPARSABLE, None, None),  # 1.96 sigma overflows
        ("GPGST,{t},1.0,,,,1e308,1e308,1.0", Reject.UNPARSABLE, None, None),
    ],
)
def test_gst_empty_zero_or_bad_sigmas_give_none_never_zero(
    body: str, status: str, eph: float | None, epv: float | None
) -> None:
    for order in ("before", "after"):  # GST first (opens the epoch) or after its RMC
        gst = s(body.format(t="120000.00"))
        sentences = [gst, rmc("120000.00")] if order == "before" else [rmc("120000.00"), gst]
        asm = EpochAssembler("a")
        out, statuses = feed(asm, sentences)
        asm.flush(out)
        assert statuses[0 if order == "before" else 1] == status
        (f,) = out  # the position is never lost over a bad GST
        assert (f.lat, f.lon) == (48.5, 11.25)
        assert f.eph_m == (pytest.approx(eph, rel=1e-12) if eph is not None else None)
        assert f.epv_m == (pytest.approx(epv, rel=1e-12) if epv is not None else None)


def test_a_gst_of_another_time_does_not_apply() -> None:
    asm = EpochAssembler("a")
    # Epoch 12:00:00 gets a GST stamped 12:00:01: that GST opens the next epoch.
    out, statuses = feed(
        asm,
        [
            rmc("120000.00"),
            gga("120000.00"),
            s("GPGST,120001.00,1,,,,3.0,3.0,4.0"),
            rmc("120001.00"),
            gga("120001.00"),
            # A late GST for the epoch already emitted changes nothing.
            s("GPGST,120000.00,1,,,,0.1,0.1,0.1"),
            rmc("120002.00"),
            gga("120002.00"),
        ],
    )
    asm.flush(out)
    assert statuses[5] == UNUSED
    assert [f.t - T0 for f in out] == [0.0, 1.0, 2.0]
    assert (out[0].eph_m, out[0].epv_m) == (None, None)
    assert out[1].eph_m == pytest.approx(_r95(3.0, 3.0)) and out[1].epv_m == pytest.approx(_z95(4.0))
    assert (out[2].eph_m, out[2].epv_m) == (None, None)  # nothing carried into the next epoch


def test_held_epochs_keep_their_gst_estimates() -> None:
    # A GGA + GST receiver dated only by ZDA (offline: the epoch is held until the date).
    asm = EpochAssembler("a")
    out, _ = feed(
        asm,
        [gga("120000.00"), s("GPGST,120000.00,1,,,,1.0,2.0,3.0"), s("GPZDA,120000.00,15,03,2024,00,00")],
    )
    asm.flush(out)
    (f,) = out
    assert f.t == T0 and f.eph_m == pytest.approx(_r95(1.0, 2.0)) and f.epv_m == pytest.approx(_z95(3.0))


def test_gga_after_rmc_with_the_same_digits_is_held_to_its_hemispheres() -> None:
    # Oracle: NMEA 0183 GGA, whose position is latitude, N/S, longitude, E/W: without a
    # hemisphere letter it is malformed (unparsable, nothing of it merged), and with another
    # letter than RMC's it is another position, which the fix takes (GGA's position wins).
    # The fast path once compared only the digits with RMC's (found by the comparison with
    # the reference path above).
    for lat, status, want_lat, want_sats in (
        ("4830.000,", Reject.UNPARSABLE, 48.5, None),
        ("4830.000,S", USED, -48.5, 8),
    ):
        sentences = [rmc("120000.00"), gga("120000.00", lat=lat)]
        asm = EpochAssembler("a")
        out, statuses = feed(asm, sentences)
        asm.flush(out)
        assert statuses == [USED, status]
        assert (out[0].lat, out[0].sats) == (want_lat, want_sats)
        _both([(x, None) for x in sentences])
