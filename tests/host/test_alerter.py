"""The Alerter (core/alerter.py) and its geometry (core/detection.py).

Oracles, named per test: the DO-365 well-clear definition (WCV_TAUMOD, TCOA) evaluated by brute
force on sampled straight-line motion, written here from the definition and not from
core/detection's closed form; geometry worked out by hand; FLARM's data port specification
(FTD-012) for the flarm preset; DO-365B DWC Phase I (as DAIDALUS's DO_365B_no_SUM configuration)
for the do365 preset; DAIDALUS's documented alerting logic for confirmation. The DAIDALUS
conformance suite itself is tests/daidalus/test_alerter_conformance.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sepmon.core.alerter import (
    FT,
    NMI,
    PRESET_TABLE,
    PRESETS,
    Alerter,
    AlertLevel,
    Confirmation,
    ConfirmationTable,
    PairConfirmation,
    customise,
    preset,
)
from sepmon.core.detection import (
    Volume,
    horizontal_miss_distance,
    modified_tau,
    time_to_coaltitude,
    time_to_volume,
)
from sepmon.core.model import Level, Minima

# --- detection: closed form against the definition sampled ---------------------------------------


def _violates(volume: Volume, s: np.ndarray, v: np.ndarray, sz: np.ndarray, vz: float) -> np.ndarray:
    """The DO-365 WCV definition at each sampled state, straight from its text (not detection.py)."""
    r2 = (s * s).sum(axis=0)
    sv = (s * v[:, None]).sum(axis=0)
    v2 = float(v @ v)
    d2 = volume.dthr_m**2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tcpa = np.where(v2 > 0, -sv / v2, 0.0)
        hmd = np.hypot(s[0] + tcpa * v[0], s[1] + tcpa * v[1])
        taumod = np.where(sv < 0, (d2 - r2) / sv, -1.0)
        tcoa = np.where(sz * vz < 0, -sz / vz, -1.0)
    horizontal = (r2 <= d2) | ((hmd <= volume.dthr_m) & (taumod >= 0) & (taumod <= volume.tthr_s))
    vertical = (np.abs(sz) <= volume.zthr_m) | ((tcoa >= 0) & (tcoa <= volume.tcoa_s))
    return np.asarray(horizontal & vertical)


def _sampled_first(
    volume: Volume,
    p: tuple[float, float],
    v: tuple[float, float],
    dz: float,
    dvz: float,
    t: np.ndarray,
    lasting: bool = True,
) -> float:
    """First sample time of a violation (``lasting``: that holds at the next sample too, not a graze)."""
    s = np.array(p)[:, None] + np.array(v)[:, None] * t
    with np.errstate(over="ignore"):
        hit = _violates(volume, s, np.array(v), dz + dvz * t, dvz)
    if lasting:
        hit = hit[:-1] & hit[1:]
    return float(t[hit.argmax()]) if hit.any() else math.inf


coord = st.floats(-20_000, 20_000)
speed = st.floats(-300, 300)


@settings(max_examples=300, deadline=None)
@given(
    pe=coord,
    pn=coord,
    ve=speed,
    vn=speed,
    dz=st.floats(-800, 800),
    dvz=st.floats(-25, 25),
    dthr=st.floats(50, 3000),
    zthr=st.floats(10, 300),
    tthr=st.floats(0, 60),
    tcoa=st.floats(0, 30),
)
def test_time_to_volume_is_the_first_sampled_violation_of_the_do365_definition(
    pe: float,
    pn: float,
    ve: float,
    vn: float,
    dz: float,
    dvz: float,
    dthr: float,
    zthr: float,
    tthr: float,
    tcoa: float,
) -> None:
    # Oracle: DO-365's WCV_TAUMOD/TCOA definition evaluated at every 5 ms of the look-ahead.
    volume, lookahead, dt = Volume(dthr, zthr, tthr, tcoa), 120.0, 0.005
    ours = float(time_to_volume(volume, pe, pn, ve, vn, dz, dvz, lookahead))
    sampled = _sampled_first(volume, (pe, pn), (ve, vn), dz, dvz, np.arange(0.0, lookahead, dt))
    if math.isfinite(sampled):
        assert sampled - dt - 1e-6 <= ours <= sampled + 1e-6
    elif math.isfinite(ours):
        # A violation shorter than two sample steps: it must show on a finer grid right after ours.
        fine = ours + np.linspace(0.0, 2 * dt, 401)
        assert math.isfinite(_sampled_first(volume, (pe, pn), (ve, vn), dz, dvz, fine, lasting=False))


def test_formulas_by_hand() -> None:
    # Oracle: geometry worked out by hand.
    # Head-on 20 km apart at 500 m/s closure, DTHR 0.66 nmi, TTHR 35 s: modified tau reaches
    # 35 s where r² − 35·500·r − DTHR² = 0, i.e. r = 17585.2 m, 4.830 s from now.
    d = 0.66 * NMI
    r = (35 * 500 + math.sqrt((35 * 500) ** 2 + 4 * d * d)) / 2
    assert float(time_to_volume(Volume(d, 137.16, 35.0), -20_000, 0, 500, 0, 0, 0, 180)) == pytest.approx(
        (20_000 - r) / 500, abs=1e-9
    )
    assert float(modified_tau(-20_000, 0, 500, 0, d)) == pytest.approx((d * d - 20_000**2) / (-20_000 * 500))
    assert math.isnan(float(modified_tau(20_000, 0, 500, 0, d)))  # opening: not defined
    # Passing 600 m abeam: HMD 600 m whatever the along-track distance.
    assert float(horizontal_miss_distance(-5000, 600, 100, 0)) == pytest.approx(600)
    # 300 m above, closing at 10 m/s: co-altitude in 30 s; diverging: none.
    assert float(time_to_coaltitude(300, -10)) == pytest.approx(30)
    assert math.isnan(float(time_to_coaltitude(300, 10)))
    # Vertical-only, ZTHR 137 m: |300 − 10 t| ≤ 137 from t = 16.3 s; TCOA 20 s brings the
    # entry to 30 − 20 = 10 s; TCOA 10 s (30 − 10 = 20 > 16.3) changes nothing.
    for tcoa, entry in ((0.0, 16.3), (10.0, 16.3), (20.0, 10.0)):
        got = float(time_to_volume(Volume(1000, 137.0, 0.0, tcoa), 0, 0, 0, 0, 300, -10, 60))
        assert got == pytest.approx(entry)
    # Parked 1.4 × DTHR apart: never; 0.9 × DTHR apart: now.
    assert float(time_to_volume(Volume(1000, 100), 1400, 0, 0, 0, 0, 0, 60)) == math.inf
    assert float(time_to_volume(Volume(1000, 100), 900, 0, 0, 0, 0, 0, 60)) == 0.0


# --- the invariant and bad configurations -------------------------------------------------------


def _level(dthr: float, zthr: float, tthr: float, alerting: float, early: float) -> AlertLevel:
    return AlertLevel(Volume(dthr, zthr, tthr), alerting, early)


@pytest.mark.parametrize(
    ("levels", "needle"),
    [
        # Oracle: issue 15's invariant (a higher level's volume and times imply the lower ones),
        # DAIDALUS's assumption that a severe alert's thresholds lie inside a less severe one's.
        ([_level(1000, 100, 0, 20, 30), _level(1200, 100, 0, 10, 20)], "level 2's volume"),
        ([_level(1000, 100, 0, 20, 30), _level(1000, 150, 0, 10, 20)], "level 2's volume"),
        ([_level(1000, 100, 10, 20, 30), _level(1000, 100, 20, 10, 20)], "level 2's volume"),
        ([_level(1000, 100, 0, 20, 30), _level(1000, 100, 0, 25, 30)], "level 2's alerting times"),
        (
            [_level(1000, 100, 0, 20, 30), _level(1000, 100, 0, 20, 30), _level(900, 90, 0, 10, 40)],
            "level 3's alerting times",
        ),
    ],
)
def test_a_higher_level_that_does_not_imply_the_lower_is_refused_with_one_line_naming_it(
    levels: list[AlertLevel], needle: str
) -> None:
    with pytest.raises(ValueError, match=needle) as err:
        Alerter("mine", tuple(levels), lookahead_s=60)
    assert "\n" not in str(err.value) and "'mine'" in str(err.value)


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda: Volume(-1, 100), "dthr_m"),
        (lambda: Volume(100, math.nan), "zthr_m"),
        (lambda: AlertLevel(Volume(100, 100), 30, 20), "early alerting time"),
        (lambda: Confirmation(3, 2), "M of N"),
        (lambda: Confirmation(1, 1, -1.0), "hysteresis_s"),
        (lambda: Alerter("x", (), 60), "levels"),
        (lambda: Alerter("x", (AlertLevel(Volume(1, 1), 1, 1),), 0), "look-ahead"),
        (lambda: preset("nope"), "known: distance, do365, do365-sum, flarm, sepmon"),
        # Unknown data must never read as "no violation".
        (lambda: preset("do365").level_now(0, 0, 0, 0, math.nan, 0), "'dz' must be finite"),
        (lambda: preset("do365").levels_now([1e4, math.inf], 0, 0, 0, 0, 0), "'pe' must be finite"),
    ],
)
def test_bad_settings_give_one_line_errors(build: Callable[[], object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle) as err:
        build()
    assert "\n" not in str(err.value)


# --- presets ---------------------------------------------------------------------------------------


def test_do365_preset_is_do365b_dwc_phase_one() -> None:
    # Oracle: RTCA DO-365B DWC Phase I without SUM, as NASA DAIDALUS v2.0.4's DO_365B_no_SUM.conf
    # (values quoted in tests/data/daidalus/README.md): 0.66 nmi, 700/450/450 ft, TTHR 35 s,
    # TCOA 0, alerting 55/55/25 s, early 75/75/55 s, 2 of 4, hysteresis 5 s, persistence 4 s, 180 s.
    a = preset("do365")
    assert [lv.volume.dthr_m for lv in a.levels] == pytest.approx([1222.32] * 3)
    assert [lv.volume.zthr_m for lv in a.levels] == pytest.approx([213.36, 137.16, 137.16])
    assert [lv.volume.tthr_s for lv in a.levels] == [35.0] * 3
    assert [lv.volume.tcoa_s for lv in a.levels] == [0.0] * 3
    assert [lv.alerting_time_s for lv in a.levels] == [55.0, 55.0, 25.0]
    assert [lv.early_alerting_time_s for lv in a.levels] == [75.0, 75.0, 55.0]
    assert a.confirmation == Confirmation(m=2, n=4, hysteresis_s=5.0, persistence_s=4.0)
    assert a.lookahead_s == 180.0
    assert FT == 0.3048 and NMI == 1852.0  # international foot and nautical mile


def test_do365_sum_preset_is_do365b_dwc_phase_one_with_sum() -> None:
    # Oracle: DAIDALUS v2.0.4's DO_365B_SUM configuration as quoted in
    # tests/data/daidalus-sum/README.md: do365's volumes, alerting times 50/50/25 s, early
    # 75/75/55 s, SUM z-scores 1.5 / 0.5-1.0 (5 nmi) / 0.75 / 1.5.
    a, b = preset("do365-sum"), preset("do365")
    assert [lv.volume for lv in a.levels] == [lv.volume for lv in b.levels]
    assert [lv.alerting_time_s for lv in a.levels] == [50, 50, 25]
    assert [lv.early_alerting_time_s for lv in a.levels] == [75, 75, 55]
    assert (a.lookahead_s, a.confirmation) == (b.lookahead_s, b.confirmation)
    assert a.sum is not None and not a.uncertainty
    s = a.sum
    assert (s.h_pos_z, s.h_vel_z_min, s.h_vel_z_max, s.v_pos_z, s.v_vel_z) == (1.5, 0.5, 1.0, 0.75, 1.5)
    assert s.h_vel_z_distance_m == pytest.approx(5 * NMI)
    # No uncertainty: the plain volumes. A position sigma brings a still pair 1,300 m away
    # (beyond DTHR 1,222.3 m) inside: 1.5 x (30 + 30) = 90 m.
    assert a.levels_now(1300, 0, 0, 0, 0, 0).tolist() == [0]
    assert a.levels_now(1300, 0, 0, 0, 0, 0, sigma=[[60.0], [0.0], [0.0], [0.0]]).tolist() == [3]
    assert a.reach_sigma() == (1.5, 110.0) and b.reach_sigma() == (0.0, 0.0)


def test_every_preset_is_in_the_one_table_with_its_source() -> None:
    assert set(PRESETS) == set(PRESET_TABLE) >= {"do365", "flarm", "sepmon"}
    for name, row in PRESET_TABLE.items():
        assert row.source.strip(), name
        assert len(PRESETS[name].levels) == len(row.levels)


def test_sepmon_preset_is_the_minima_defaults_without_range_only_rings() -> None:
    # Oracle: model.Minima's documented defaults (levels by predicted violation within
    # advisory_s/caution_s/warning_s), and issue 15 (no alert on range alone).
    m, a = Minima(), preset("sepmon")
    assert [lv.volume for lv in a.levels] == [Volume(m.horizontal_m, m.vertical_m)] * 3
    assert [lv.alerting_time_s for lv in a.levels] == [m.advisory_s, m.caution_s, m.warning_s]
    # Parallel traffic at 1.2× the minima (the old caution ring) and 1.8× (the old advisory
    # ring), same speed and course: nothing.
    for k in (1.2, 1.8):
        assert a.level_now(k * m.horizontal_m, 0, 0, 0, 0, 0) == Level.NONE
        assert a.level_now(0, k * m.horizontal_m, 0, 0, 0, 0) == Level.NONE


def test_distance_preset_alerts_on_range_alone_now_and_only_when_asked_for() -> None:
    # Oracle: SoftRF's distance mode and sepmon's old rings (issue 15): levels by the range
    # now, at the minima (3 km / 300 m) × 2, × 1.5, × 1; geometry by hand.
    a = preset("distance")
    assert preset("sepmon").level_now(5000, 0, 0, 0, 0, 0) == Level.NONE  # the default does not
    for r, want in ((6100, 0), (5900, 1), (4400, 2), (2900, 3)):
        assert a.level_now(r, 0, 0, 0, 0, 0) == want, r
    # Converging fast from 6.1 km: nothing predicted, range alone.
    assert a.level_now(6100, 0, -500, 0, 0, 0) == Level.NONE


def test_customise_applies_explicit_keys_over_a_preset() -> None:
    # Oracle: DO-365B's own ratio of level 1's ZTHR to levels 2-3's (700 ft / 450 ft), kept
    # when the innermost ZTHR is set; times by the configuration's names.
    a = customise(preset("do365"), horizontal_m=2000, vertical_m=90, warning_s=20, persistence_s=2)
    assert [lv.volume.dthr_m for lv in a.levels] == [2000] * 3
    assert [lv.volume.zthr_m for lv in a.levels] == pytest.approx([140, 90, 90])
    assert [lv.alerting_time_s for lv in a.levels] == [55, 55, 20]
    assert [lv.early_alerting_time_s for lv in a.levels] == [75, 75, 55]
    assert a.confirmation == Confirmation(2, 4, 5.0, 2)
    b = customise(preset("sepmon"), advisory_s=60)
    assert b.lookahead_s == 60 and b.levels[0].early_alerting_time_s == 60
    with pytest.raises(ValueError, match="range rings"):
        customise(preset("do365"), caution_factor=1.2)
    d = customise(preset("distance"), horizontal_m=50, vertical_m=30, caution_factor=1.2)
    assert [lv.volume.dthr_m for lv in d.levels] == pytest.approx([100, 60, 50])


def test_uncertainty_margins_widen_the_volumes_only_when_the_alerter_mitigates() -> None:
    # Oracle: geometry by hand. A pair 3,100 m apart, still: outside the 3,000 m cylinder,
    # inside it widened by 150 m.
    sep, do = preset("sepmon"), customise(preset("do365"), horizontal_m=3000)
    assert sep.uncertainty and not do.uncertainty
    assert sep.levels_now(3100, 0, 0, 0, 0, 0).tolist() == [0]
    assert sep.levels_now(3100, 0, 0, 0, 0, 0, 150.0, 0.0).tolist() == [3]
    assert do.levels_now(3100, 0, 0, 0, 0, 0, 150.0, 0.0).tolist() == [0]
    with pytest.raises(ValueError, match="'margin_h' must be finite"):
        sep.levels_now(0, 0, 0, 0, 0, 0, math.nan, 0.0)


@pytest.mark.parametrize(
    ("seconds_to_violation", "level"),
    [(0.0, 3), (7.5, 3), (8.5, 2), (11.5, 2), (12.5, 1), (17.5, 1), (18.5, 0), (60.0, 0)],
)
def test_flarm_preset_levels_are_flarm_alarm_levels_by_time_to_impact(
    seconds_to_violation: float, level: int
) -> None:
    # Oracle: FLARM's data port specification (FLARM Technology, "Data Port Interface Control
    # Document", FTD-012), AlarmLevel: 1 = 13-18 s, 2 = 9-12 s, 3 = 0-8 s to impact; and a
    # head-on whose violation of the volume is worked out by hand: range − DTHR = closure × t.
    a = preset("flarm")
    dthr = a.levels[0].volume.dthr_m
    closure = 60.0
    start = dthr + closure * seconds_to_violation - (1.0 if seconds_to_violation == 0 else 0.0)
    assert a.level_now(-start, 0, closure, 0, 0, 0) == Level(level)
    # Above the volume, the same head-on raises nothing.
    assert a.level_now(-start, 0, closure, 0, a.levels[0].volume.zthr_m + 1, 0) == Level.NONE


# --- the prefilter's bounds ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(PRESETS)),
    r=st.floats(0, 60_000),
    bearing=st.floats(0, 2 * math.pi),
    heading=st.floats(0, 2 * math.pi),
    speed_=st.floats(0, 600),
    dz=st.floats(-2000, 2000),
    dvz=st.floats(-40, 40),
)
def test_a_pair_beyond_the_reach_never_alerts(
    name: str, r: float, bearing: float, heading: float, speed_: float, dz: float, dvz: float
) -> None:
    # Oracle: the alerter's own instantaneous level; the reach must be a safe bound on it.
    a = PRESETS[name]
    pe, pn = r * math.sin(bearing), r * math.cos(bearing)
    ve, vn = speed_ * math.sin(heading), speed_ * math.cos(heading)
    if r > float(a.reach_m(speed_)) or abs(dz) > float(a.vertical_reach_m(dvz)):
        assert a.level_now(pe, pn, ve, vn, dz, dvz) == Level.NONE


# --- confirmation -----------------------------------------------------------------------------------

DO365 = Confirmation(m=2, n=4, hysteresis_s=5.0, persistence_s=4.0)


def _run(rule: Confirmation, raw: list[int], times: list[float] | None = None) -> list[int]:
    c = PairConfirmation(rule)
    return [c.update(x, float(t)) for x, t in zip(raw, times or range(len(raw)), strict=True)]


def test_two_of_four_confirms_a_rise_one_report_later_and_ignores_a_single_spike() -> None:
    # Oracle: the M-of-N rule (DO-365 / DAIDALUS: a level shows once M of the last N reports reach it).
    assert _run(DO365, [0, 0, 1, 1, 1]) == [0, 0, 0, 1, 1]
    assert _run(DO365, [0, 0, 3, 0, 0, 0, 0]) == [0] * 7
    assert _run(DO365, [0, 0, 3, 0, 2, 0, 0, 0, 0]) == [0, 0, 0, 0, 2, 2, 2, 2, 0]  # 3 and 2 both reach 2


def test_a_fall_waits_for_m_of_n_and_persistence() -> None:
    # Oracle: DAIDALUS's outputs in tests/data/daidalus (every fall 2 s after the instantaneous
    # one with 2 of 4 at 1 Hz) and the persistence rule (a risen level stays >= 4 s).
    assert _run(DO365, [0, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0]) == [0, 0, 3, 3, 3, 3, 3, 3, 3, 0, 0]
    # Up at 2, down reports from 3: 2 of 4 would drop at 5, persistence holds it until 2 + 4 = 6.
    assert _run(DO365, [0, 3, 3, 0, 0, 0, 0, 0]) == [0, 0, 3, 3, 3, 3, 0, 0]


def test_the_first_report_and_one_after_a_gap_longer_than_the_hysteresis_time_show_at_once() -> None:
    # Oracle: DAIDALUS's alerting logic (a report more than the hysteresis time after the last,
    # or the first, starts afresh and counts M times).
    assert _run(DO365, [3, 3, 0, 0, 0]) == [3, 3, 3, 3, 0]
    assert _run(DO365, [0, 0, 2, 2], [0, 1, 7, 8]) == [0, 0, 2, 2]  # 6 s gap > 5 s
    assert _run(DO365, [0, 0, 2, 2], [0, 1, 5, 6]) == [0, 0, 0, 2]  # 4 s gap: M of N goes on


def test_reports_out_of_order_or_repeated() -> None:
    # Oracle: the documented rule (a report at the previous time replaces it; an older one is ignored).
    c = PairConfirmation(DO365)
    assert [c.update(x, t) for x, t in ((0, 0.0), (1, 1.0), (1, 2.0))] == [0, 0, 1]
    assert c.update(0, 2.0) == 0  # the report at 2 s was 0 after all: 1 is no longer confirmed
    assert c.update(3, 1.5) == 0  # older than the last: ignored
    assert c.update(1, 3.0) == 1  # reports 0, 1, 0, 1: two of the last four reach 1


def test_one_of_one_with_no_times_passes_levels_through() -> None:
    seq = [0, 2, 3, 1, 0, 3, 0]
    assert _run(Confirmation(), seq) == seq


@pytest.mark.parametrize(
    "rule", [DO365, Confirmation(1, 1), Confirmation(3, 5, 2.5, 3.0), Confirmation(2, 2, 9, 0)]
)
def test_the_table_gives_what_one_pair_confirmation_per_pair_gives(rule: Confirmation) -> None:
    # Oracle: PairConfirmation, the readable rule, pair by pair (random reports, gaps,
    # repeated and older times, pairs joining late and skipping updates).
    rnd = random.Random(15)
    table = ConfirmationTable(rule)
    pairs: dict[int, PairConfirmation] = {}
    t = 0.0
    for _ in range(600):
        t += rnd.choice([0.0, 0.5, 1.0, 1.0, 1.0, 3.0, 7.0])
        when = t - rnd.choice([0.0, 0.0, 0.0, 0.0, 2.0])
        ids = sorted(rnd.sample(range(150), rnd.randint(1, 40)))
        raw = [rnd.choice([0, 0, 0, 1, 2, 3]) for _ in ids]
        got = table.update(ids, raw, when)
        want = [
            pairs.setdefault(p, PairConfirmation(rule)).update(x, when) for p, x in zip(ids, raw, strict=True)
        ]
        assert got.tolist() == want


@pytest.mark.parametrize(
    "rule", [DO365, Confirmation(1, 1), Confirmation(3, 5, 2.5, 3.0), Confirmation(2, 2, 9, 0)]
)
def test_steady_reports_only_touched_give_what_one_pair_confirmation_per_pair_gives(
    rule: Confirmation,
) -> None:
    # Oracle: PairConfirmation, the readable rule. The monitor sends most reports through
    # steady()/touch() (times only) and the rest through update(); the levels must not differ.
    rnd = random.Random(16)
    table = ConfirmationTable(rule)
    pairs: dict[int, PairConfirmation] = {}
    t = 0.0
    touched = 0
    for _ in range(800):
        t += rnd.choice([0.0, 0.5, 1.0, 1.0, 1.0, 3.0, 7.0])
        when = t - rnd.choice([0.0, 0.0, 0.0, 0.0, 2.0])
        ids = np.array(sorted(rnd.sample(range(60), rnd.randint(1, 30))), dtype=np.intp)
        raw = np.array([rnd.choice([0, 0, 0, 0, 0, 0, 1, 2, 3]) for _ in ids], dtype=np.int8)
        steady = table.steady(ids, raw)
        touched += int(steady.sum())
        table.touch(ids[steady], when)
        table.update(ids[~steady], raw[~steady], when)
        want = [
            pairs.setdefault(int(p), PairConfirmation(rule)).update(int(x), when)
            for p, x in zip(ids, raw, strict=True)
        ]
        assert table.level[ids].tolist() == want
    assert touched > 1000  # the cheap path was really taken


def test_the_table_refuses_bad_reports() -> None:
    table = ConfirmationTable(DO365)
    for ids, raw, needle in (
        ([0, 0], [1, 1], "distinct"),
        ([0], [4], "levels"),
        ([0, 1], [1], "same length"),
    ):
        with pytest.raises(ValueError, match=needle):
            table.update(ids, raw, 0.0)
