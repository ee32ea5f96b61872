"""DAIDALUS conformance of sepmon's sensor uncertainty mitigation (core/sum.py), issue 15's ``do365-sum``.

Oracle: NASA DAIDALUS v2.0.4 with its ``DO_365B_SUM`` configuration (WCV_TAUMOD_SUM detectors),
run on our own encounters whose ``.daa`` files carry per-aircraft sensor uncertainty
(tests/data/daidalus-sum/README.md says how): its per-second alert level without hysteresis
(``level_nohyst``) and its time to each level's volume.

sepmon is fed the exact ``.daa`` states (the intruder relative to the ownship in the
ownship's east/north frame from geographiclib's WGS-84 geodesic, as in
test_alerter_conformance.py) and the ``.daa``'s σ columns: each aircraft's horizontal σ by
:func:`horizontal_sigma`, the pair's σ the sum of both, z-scores :data:`DO365B_SUM`. Levels
are the Alerter's rule (the highest level whose time to volume is within its alerting time)
with DO_365B_SUM's alerting times 50/50/25 s (the do365 preset's volumes; that preset's
55/55/25 s are DO_365B_no_SUM's).

Measured when written (15 variants, 2 935 rows): every instantaneous level equals DAIDALUS's
``level_nohyst`` at every second except 3 rows, and every time to volume is within 0.3 s plus
the earth-model share of test_alerter_conformance.py (DAIDALUS's sphere against our ellipsoid
moves a time by up to 0.4 % of the time the range takes to close, here at the worst case's
closing speed); with the range rescaled to DAIDALUS's own horizontal separation the largest
difference was 0.015 s. The 3 exceptions (``EXCEPTIONS``, cpa-headon-hmd1400--degraded at
65-67 s) are a graze that the sphere's 5 m shorter miss distance decides; a test checks that.

Confirmed levels (DAIDALUS's ``level``, with hysteresis, persistence and 2 of 4): equal on
every variant through the Alerter's confirmation, the level shown being judged by its early
alerting time (DAIDALUS's hold; on 3 vertical variants it decides the fall).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from daidalus_oracle import DaaState, relative_state
from geographiclib.geodesic import Geodesic

from sepmon.core.alerter import Alerter, AlertLevel, preset
from sepmon.core.detection import horizontal_miss_distance
from sepmon.core.sum import DO365B_SUM, horizontal_sigma, pair_errors, sum_times_to_volume

DATA = Path(__file__).resolve().parents[1] / "data" / "daidalus-sum"
GEOD = Geodesic.WGS84
DO365 = preset("do365")
VOLUMES = tuple(lv.volume for lv in DO365.levels)  # DO-365B DWC Phase I, as DO_365B_SUM
ALERTING_S = (50.0, 50.0, 25.0)  # DO_365B_SUM's DWC_Phase_I_SUM alerting times
LOOKAHEAD_S = 180.0
# do365's volumes, look-ahead and confirmation (2 of 4, hysteresis 5 s, persistence 4 s: the
# same in DO_365B_SUM) with DO_365B_SUM's alerting and early alerting times.
SUM_ALERTER = Alerter(
    "do365-sum (test)",
    tuple(
        AlertLevel(v, at, early) for v, at, early in zip(VOLUMES, ALERTING_S, (75.0, 75.0, 55.0), strict=True)
    ),
    LOOKAHEAD_S,
    DO365.confirmation,
)
TIME_TOL_S = 0.3
MODEL_REL = 0.004

with (DATA / "sum_scenarios.csv").open(encoding="ascii", newline="") as _f:
    VARIANTS = [r["name"] for r in csv.DictReader(_f)]

# Where sepmon and DAIDALUS may disagree, with the reason: (variant, traffic, time) -> reason.
_GRAZE = (
    "earth model at a graze: the worst case's exit condition |s + v t| = DTHR + e_s + e_v t only just "
    "reaches the 1400 m miss (1290 m + 2 m/s x ~55 s); DAIDALUS's sphere puts the miss at 1395.1 m "
    "(its projected HMD 0.7533 nmi), WGS-84 at 1400.0 m, so DAIDALUS alerts for 3 s (19-17 s to the "
    "volume) and the ellipsoid does not; fed DAIDALUS's own geometry, sepmon agrees (tested below)"
)
EXCEPTIONS: dict[tuple[str, str, float], str] = {
    ("cpa-headon-hmd1400--degraded", "intruder", t): _GRAZE for t in (65.0, 66.0, 67.0)
}


@dataclass(frozen=True)
class State(DaaState):
    """One ``.daa`` row with its SUM columns (σ in m and m/s)."""

    sig: tuple[float, ...]  # s_EW s_NS s_EN sz v_EW v_NS v_EN vz


SUM_UNITS = {
    "lat": "[deg]", "lon": "[deg]", "alt": "[m]", "trk": "[deg]", "gs": "[knot]", "vs": "[m/s]",
    "time": "[s]",
    "s_EW_std": "[m]", "s_NS_std": "[m]", "s_EN_std": "[m]", "sz_std": "[m]",
    "v_EW_std": "[m/s]", "v_NS_std": "[m/s]", "v_EN_std": "[m/s]", "vz_std": "[m/s]",
}  # fmt: skip


def read_sum_daa(path: Path) -> list[State]:
    """Rows of a SUM ``.daa`` (checks the header's columns and units)."""
    lines = [
        ln for ln in path.read_text(encoding="ascii").splitlines() if ln.strip() and not ln.startswith("#")
    ]
    names, units = lines[0].split(), lines[1].split()
    assert names[0] == "NAME" and {c: u for c, u in zip(names[1:], units[1:], strict=True)} == SUM_UNITS
    idx = {c: i for i, c in enumerate(names)}
    out = []
    for ln in lines[2:]:
        f = [x.strip() for x in ln.split(",")]
        sig = tuple(float(f[idx[c]]) for c in list(SUM_UNITS)[7:])
        out.append(
            State(f[0], *(float(f[idx[c]]) for c in ("lat", "lon", "alt", "trk", "gs", "vs", "time")), sig)
        )
    return out


def _inf(x: str) -> float:
    return math.inf if x == "infty" else float(x)


@cache
def _case(name: str) -> tuple[list[dict[str, str]], np.ndarray, np.ndarray, np.ndarray]:
    """DAIDALUS's rows, sepmon's times (levels, rows), DAIDALUS's times, and the tolerances."""
    d = DATA / name
    states = {(s.name, s.t): s for s in read_sum_daa(d / f"{name}.daa")}
    with (d / "daidalus.csv").open(encoding="ascii", newline="") as f:
        rows = list(csv.DictReader(f))
    rel, sig = [], []
    for r in rows:
        o, i = states[(r["ownship"], float(r["time_s"]))], states[(r["traffic"], float(r["time_s"]))]
        rel.append(relative_state(o, i))
        # The pair's σ: each aircraft's (worst-direction horizontal), added.
        sig.append(
            (
                float(
                    horizontal_sigma(o.sig[0], o.sig[1], o.sig[2])
                    + horizontal_sigma(i.sig[0], i.sig[1], i.sig[2])
                ),
                o.sig[3] + i.sig[3],
                float(
                    horizontal_sigma(o.sig[4], o.sig[5], o.sig[6])
                    + horizontal_sigma(i.sig[4], i.sig[5], i.sig[6])
                ),
                o.sig[7] + i.sig[7],
            )
        )
    p = np.array(rel).T
    s = np.array(sig).T
    errors = pair_errors(p[0], p[1], s[0], s[1], s[2], s[3], DO365B_SUM)
    ours = np.stack([sum_times_to_volume(v, *p, errors, LOOKAHEAD_S) for v in VOLUMES])
    theirs = np.array([[_inf(r[f"time_to_volume_{lv}_s"]) for r in rows] for lv in (1, 2, 3)])
    # Sphere against ellipsoid: a time moves by that share of the time the range takes to
    # close at the worst case's speed (the nominal speed plus the velocity bound).
    speed = np.hypot(p[2], p[3]) + errors.vel_h_mps
    with np.errstate(divide="ignore", invalid="ignore"):
        tol = TIME_TOL_S + np.where(speed > 0, MODEL_REL * np.hypot(p[0], p[1]) / speed, 0.0)
    return rows, ours, theirs, tol


def _levels(ttv: np.ndarray) -> np.ndarray:
    """The Alerter's rule: the highest level whose volume is reached within its alerting time."""
    return SUM_ALERTER.levels_from_times(ttv).astype(int)


def test_the_set_covers_the_brief() -> None:
    kinds = {n.split("-")[0] for n in VARIANTS}
    assert {"jet", "vertical", "nuisance", "cpa"} <= kinds and len(VARIANTS) >= 10
    assert {n.split("--")[1] for n in VARIANTS} == {"gps", "degraded", "ellipse"}


@pytest.mark.parametrize("name", VARIANTS)
def test_daidalus_levels_follow_its_times_with_the_sum_alerting_times(name: str) -> None:
    # A check of the oracle data itself: DO_365B_SUM's alerting times (50/50/25 s) turn its
    # times to volume into its level_nohyst; the do365 (no-SUM) 55 s would not everywhere.
    rows, _, theirs, _ = _case(name)
    assert _levels(theirs).tolist() == [int(r["level_nohyst"]) for r in rows]


@pytest.mark.parametrize("name", VARIANTS)
def test_sum_level_is_daidalus_level_without_hysteresis(name: str) -> None:
    rows, ours, _, _ = _case(name)
    got = _levels(ours)
    diff = [
        (r["traffic"], float(r["time_s"]), int(g), int(r["level_nohyst"]))
        for r, g in zip(rows, got, strict=True)
        if g != int(r["level_nohyst"]) and (name, r["traffic"], float(r["time_s"])) not in EXCEPTIONS
    ]
    assert not diff, f"(traffic, t, sepmon, DAIDALUS): {diff[:8]} of {len(diff)}"


def _confirmed(name: str) -> list[tuple[str, float, int, int]]:
    """(traffic, t, sepmon, DAIDALUS) where the confirmed SUM level differs from DAIDALUS's ``level``.

    The instantaneous level is the Alerter's (levels_from_times) given the level shown at the
    previous report, which it judges by its early alerting time (DAIDALUS's hold).
    """
    rows, ours, _, _ = _case(name)
    excused = {(t, tt) for (n, t, tt) in EXCEPTIONS if n == name}
    diff = []
    for traffic in sorted({r["traffic"] for r in rows}):
        confirm = SUM_ALERTER.pair_confirmation()
        shown = 0
        for k, r in enumerate(rows):
            if r["traffic"] != traffic:
                continue
            t = float(r["time_s"])
            raw = int(SUM_ALERTER.levels_from_times(ours[:, k : k + 1], shown=[shown])[0])
            shown = confirm.update(raw, t)
            # An excepted instantaneous row may move the confirmed level for up to N (4) reports.
            if shown != int(r["level"]) and not any(traffic == a and 0 <= t - b <= 4 for a, b in excused):
                diff.append((traffic, t, shown, int(r["level"])))
    return diff


@pytest.mark.parametrize("name", VARIANTS)
def test_confirmed_sum_level_is_daidalus_level_with_hysteresis_persistence_and_m_of_n(name: str) -> None:
    # The instantaneous SUM levels (Alerter.levels_from_times, with the early-alerting hold of
    # the level shown) through the Alerter's confirmation (do365's rule, DO_365B_SUM's) against
    # DAIDALUS's ``level``. The hold matters on the vertical variants, where the uncertain
    # vertical rate keeps a finite, growing time to volume after the pass.
    diff = _confirmed(name)
    assert not diff, f"(traffic, t, sepmon, DAIDALUS): {diff[:8]} of {len(diff)}"


@pytest.mark.parametrize("name", VARIANTS)
def test_sum_time_to_each_volume_is_daidalus_time_to_volume(name: str) -> None:
    rows, ours, theirs, tol = _case(name)
    bad = []
    for lv in range(3):
        for k, r in enumerate(rows):
            a, b = ours[lv, k], theirs[lv, k]
            if (name, r["traffic"], float(r["time_s"])) in EXCEPTIONS:
                continue
            if math.isinf(a) or math.isinf(b):
                # They may differ only where the volume is grazed at the end of the look-ahead.
                ok = math.isinf(a) == math.isinf(b) or min(a, b) > LOOKAHEAD_S - 2
            else:
                ok = abs(a - b) <= tol[k]
            if not ok:
                bad.append((lv + 1, float(r["time_s"]), round(float(a), 3), b))
    assert not bad, f"(level, t, sepmon, DAIDALUS): {bad[:8]} of {len(bad)}"


def test_sum_is_not_the_plain_volume_on_this_data() -> None:
    # The data must exercise the mitigation: DAIDALUS's SUM times differ from the plain
    # WCV_TAUMOD's (detection.time_to_volume on the same states) on most rows of the set.
    from sepmon.core.detection import time_to_volume

    differ = total = 0
    for name in VARIANTS:
        rows, _, theirs, _ = _case(name)
        d = DATA / name
        states = {(s.name, s.t): s for s in read_sum_daa(d / f"{name}.daa")}
        p = np.array(
            [
                relative_state(
                    states[(r["ownship"], float(r["time_s"]))], states[(r["traffic"], float(r["time_s"]))]
                )
                for r in rows
            ]
        ).T
        plain = time_to_volume(VOLUMES[0], *p, LOOKAHEAD_S)
        fin = np.isfinite(theirs[0]) | np.isfinite(plain)
        differ += int(
            np.sum(
                fin
                & ~np.isclose(
                    np.nan_to_num(plain, posinf=1e9), np.nan_to_num(theirs[0], posinf=1e9), atol=0.5
                )
            )
        )
        total += int(fin.sum())
    assert differ > 0.5 * total


@pytest.mark.parametrize("key", sorted(EXCEPTIONS))
def test_each_exception_is_a_graze_smaller_than_the_earth_model_difference(
    key: tuple[str, str, float],
) -> None:
    # The uncertain exit condition misses on WGS-84 by less than the sphere moves the miss
    # distance: slack = min over the look-ahead of |s + v t| − (DTHR + e_s + e_v t) is > 0 here
    # (no violation) but below our HMD minus DAIDALUS's projected HMD, so on DAIDALUS's sphere
    # the condition is met. (The rows are too close to the edge to rebuild DAIDALUS's geometry
    # from its 4-decimal output and compare times.)
    name, traffic, t = key
    rows, ours, theirs, _ = _case(name)
    k = next(i for i, r in enumerate(rows) if r["traffic"] == traffic and float(r["time_s"]) == t)
    assert math.isinf(ours[0, k]) and math.isfinite(theirs[0, k])
    states = {(s.name, s.t): s for s in read_sum_daa(DATA / name / f"{name}.daa")}
    o, i = states[(rows[k]["ownship"], t)], states[(traffic, t)]
    pe, pn, ve, vn, _, _ = relative_state(o, i)
    sig_h = float(horizontal_sigma(*o.sig[0:3]) + horizontal_sigma(*i.sig[0:3]))
    sig_vh = float(horizontal_sigma(*o.sig[4:7]) + horizontal_sigma(*i.sig[4:7]))
    e = pair_errors(pe, pn, sig_h, o.sig[3] + i.sig[3], sig_vh, o.sig[7] + i.sig[7], DO365B_SUM)
    tt = np.arange(0.0, LOOKAHEAD_S, 0.01)
    slack = np.min(np.hypot(pe + ve * tt, pn + vn * tt) - (VOLUMES[0].dthr_m + e.pos_h_m + e.vel_h_mps * tt))
    hmd_ours = float(horizontal_miss_distance(pe, pn, ve, vn))
    hmd_theirs = float(rows[k]["projected_hmd_nmi"]) * 1852.0
    assert 0.0 < slack < hmd_ours - hmd_theirs, (slack, hmd_ours, hmd_theirs)
