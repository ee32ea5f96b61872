"""The monitor's vectorised dead reckoning (``Monitor._arrays``) against the readable one
(``Track.state``), which the tracker's tests hold to geometry worked out by hand.

Oracle: ``Track.state``, the readable twin, for every track at times before, at and past
``stale_s``, and up to and past ``DEAD_RECKON_MAX_S``, including a track crossing the
antimeridian and one running over the north pole (latitude clipped to 90°).

Issue 15's rule (new; both twins have it, the monitor importing ``DEAD_RECKON_MAX_S``): a lost
track is dead-reckoned by its full age up to ``DEAD_RECKON_MAX_S`` (60 s), not frozen at
``stale_s``; beyond it the position stays. On the old rule the cases past ``stale_s`` fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from sepmon.core.config import parse_config
from sepmon.core.model import Fix
from sepmon.core.monitor import Monitor

KN = 1852.0 / 3600.0


def _fix(source: str, t: float, lat: float, lon: float, alt: float | None, kn: float, cog: float) -> Fix:
    return Fix(source, t, lat, lon, alt, kn * KN, cog, 1, 1.0, 9, t)


# Issue 15's dead-reckoning rule: ages past stale_s (5 s) keep moving until DEAD_RECKON_MAX_S.
@pytest.mark.parametrize("dt", [0.0, 0.4, 1.0, 2.5, 5.0, 7.5, 30.0, 59.0, 60.0, 61.0, 600.0])
def test_vectorised_dead_reckoning_equals_track_state(dt: float) -> None:
    m = Monitor(parse_config({"separation": {"stale_s": 5.0}}))
    t0 = 1_700_000_000.0
    specs = [
        ("alpha", 47.0, 11.0, 500.0, 120.0, 45.0),
        ("bravo", 47.01, 11.02, None, 8.0, 270.0),  # a 2D fix: no height
        ("charlie", -33.9, 179.999, 30.0, 400.0, 90.0),  # eastbound over the antimeridian
        ("delta", 80.0, -10.0, 1000.0, 0.0, 0.0),  # standing still near the pole
        ("echo", 89.995, 40.0, 3000.0, 300.0, 0.0),  # northbound: past the pole within a minute
    ]
    for k in range(3):  # three fixes each, so the tracker has velocities
        for name, lat, lon, alt, kn, cog in specs:
            step = k * kn * KN  # metres moved along the course per second
            dlat = step * np.cos(np.radians(cog)) / 111_320.0
            dlon = step * np.sin(np.radians(cog)) / (111_320.0 * np.cos(np.radians(lat)))
            m.on_fix(_fix(name, t0 + k, lat + dlat, ((lon + dlon + 180.0) % 360.0) - 180.0, alt, kn, cog))
    now = t0 + 2 + dt
    arrays = m._arrays(m._data, now, tuple(m._names))
    for i, name in enumerate(arrays.source):
        st = m.tracker.tracks[name].state(now)
        assert arrays.lat[i] == pytest.approx(st.lat, abs=1e-12), name
        assert arrays.lon[i] == pytest.approx(st.lon, abs=1e-12), name
        if st.alt_m is None:
            assert np.isnan(arrays.alt[i]), name
        else:
            assert arrays.alt[i] == pytest.approx(st.alt_m, abs=1e-9), name
        assert (arrays.ve[i], arrays.vn[i], arrays.vu[i]) == pytest.approx((st.ve, st.vn, st.vu)), name
        assert arrays.age_s[i] == pytest.approx(st.age_s), name
        assert bool(arrays.lost[i]) is st.lost, name
