"""Alert hysteresis: up at once, down only after the hold time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sepmon.core.alerting import AlertHysteresis, pair_key
from sepmon.core.model import Level

AB = ("a", "b")


def test_goes_up_at_once() -> None:
    h = AlertHysteresis(5.0)
    assert h.update(AB, 0, 0.0) == Level.NONE
    assert h.update(AB, 1, 1.0) == Level.ADVISORY
    assert h.update(AB, 3, 1.5) == Level.WARNING


def test_goes_down_only_after_hold() -> None:
    h = AlertHysteresis(5.0)
    h.update(AB, 3, 0.0)
    assert h.update(AB, 0, 1.0) == Level.WARNING
    assert h.update(AB, 0, 5.9) == Level.WARNING
    assert h.update(AB, 0, 6.0) == Level.NONE  # below since t=1 for the full 5 s


def test_steps_down_to_highest_level_in_hold_window() -> None:
    h = AlertHysteresis(5.0)
    h.update(AB, 3, 0.0)
    for t in (1.0, 2.0, 3.0):
        assert h.update(AB, 2, t) == Level.WARNING
    assert h.update(AB, 1, 4.0) == Level.WARNING
    assert h.update(AB, 1, 5.5) == Level.WARNING
    assert h.update(AB, 1, 6.0) == Level.CAUTION  # 3 has been gone for 5 s; 2 still recent
    assert h.update(AB, 1, 8.9) == Level.CAUTION
    assert h.update(AB, 1, 9.0) == Level.ADVISORY  # 2 gone since t=4


def test_a_brief_return_restarts_the_hold() -> None:
    h = AlertHysteresis(5.0)
    h.update(AB, 3, 0.0)
    h.update(AB, 0, 1.0)
    assert h.update(AB, 3, 3.0) == Level.WARNING
    assert h.update(AB, 0, 4.0) == Level.WARNING
    assert h.update(AB, 0, 8.5) == Level.WARNING
    assert h.update(AB, 0, 9.0) == Level.NONE


def test_report_gap_keeps_the_last_level_in_effect() -> None:
    # A raw level holds until the next report: silence is not "clear".
    h = AlertHysteresis(5.0)
    h.update(AB, 2, 0.0)
    assert h.update(AB, 0, 30.0) == Level.CAUTION
    assert h.update(AB, 0, 35.0) == Level.NONE


def test_out_of_order_never_lowers() -> None:
    h = AlertHysteresis(5.0)
    h.update(AB, 3, 10.0)
    h.update(AB, 0, 12.0)
    assert h.update(AB, 0, 11.0) == Level.WARNING
    assert h.update(AB, 0, -100.0) == Level.WARNING
    assert h.update(AB, 0, 16.9) == Level.WARNING  # hold still counts from t=12
    assert h.update(AB, 0, 17.0) == Level.NONE
    assert h.update(AB, 0, 1.0) == Level.NONE


def test_out_of_order_lower_report_is_ignored() -> None:
    # An old, lower report must neither lower the level now nor linger later.
    h = AlertHysteresis(5.0)
    h.update(AB, 3, 0.0)
    assert h.update(AB, 0, 10.0) == Level.WARNING
    assert h.update(AB, 1, 1.0) == Level.WARNING
    assert h.update(AB, 0, 15.0) == Level.NONE


def test_out_of_order_may_raise() -> None:
    h = AlertHysteresis(5.0)
    h.update(AB, 0, 10.0)
    assert h.update(AB, 2, 9.0) == Level.CAUTION
    # Treated as reported at t=10, then held for 5 s.
    assert h.update(AB, 0, 11.0) == Level.CAUTION
    assert h.update(AB, 0, 16.0) == Level.NONE


def test_zero_hold_follows_raw() -> None:
    h = AlertHysteresis(0.0)
    assert h.update(AB, 3, 0.0) == Level.WARNING
    assert h.update(AB, 1, 0.5) == Level.ADVISORY
    assert h.update(AB, 0, 0.5) == Level.NONE


def test_keys_are_order_independent_and_separate() -> None:
    h = AlertHysteresis(5.0)
    h.update(("b", "a"), 3, 0.0)
    assert h.level(("a", "b")) == Level.WARNING
    assert h.update(("a", "b"), 0, 1.0) == Level.WARNING
    assert h.update(("a", "c"), 0, 1.0) == Level.NONE
    assert h.level(("c", "a")) == Level.NONE and h.level(("d", "c")) == Level.NONE
    assert pair_key("z", "y") == ("y", "z")


def test_invalid_input() -> None:
    with pytest.raises(ValueError):
        AlertHysteresis(-1.0)
    h = AlertHysteresis(1.0)
    with pytest.raises(ValueError):
        h.update(("a", "a"), 1, 0.0)  # a source is never traffic to itself
    with pytest.raises(ValueError):
        h.update(AB, 4, 0.0)
    with pytest.raises(ValueError):
        h.update(AB, 1, float("nan"))
    with pytest.raises(ValueError):
        h.update(("a", "b", "c"), 1, 0.0)


def _reference(samples: list[tuple[float, int]], hold: float) -> list[int]:
    """Max raw level in effect during [t_n − hold, t_n]; a raw holds until the next report."""
    out = []
    for n, (tn, _) in enumerate(samples):
        ws = tn - hold
        lvl = max(raw for k, (_, raw) in enumerate(samples[: n + 1]) if k == n or samples[k + 1][0] > ws)
        out.append(lvl)
    return out


@given(
    st.lists(st.tuples(st.floats(0.0, 3.0), st.integers(0, 3)), min_size=1, max_size=60),
    st.floats(0.0, 10.0),
)
@settings(max_examples=200, deadline=None)
def test_matches_reference_model(steps: list[tuple[float, int]], hold: float) -> None:
    t = 0.0
    samples = []
    for dt, raw in steps:
        t += dt
        samples.append((t, raw))
    h = AlertHysteresis(hold)
    got = [int(h.update(AB, raw, tt)) for tt, raw in samples]
    assert got == _reference(samples, hold)
    # Never below the raw level just reported.
    assert all(g >= raw for g, (_, raw) in zip(got, samples, strict=True))
