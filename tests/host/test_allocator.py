"""Allocator tuning: evaluations stop faulting fresh pages in once glibc keeps freed memory."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

from sepmon.apps.allocator import tune_allocator

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

_PROBE = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from sepmon.apps.allocator import tune_allocator
    from sepmon.core.separation import TrackArrays, evaluate_pairs
    from sepmon.core.spatial import candidate_pairs

    if sys.argv[1] == "tuned":
        assert tune_allocator()
    rng = np.random.default_rng(1)
    n = 120  # a few thousand pairs: the size of one analyze pass
    t = TrackArrays(
        source=tuple(map(str, range(n))),
        lat=47 + rng.normal(0, 0.3, n), lon=11 + rng.normal(0, 0.4, n),
        alt=rng.uniform(0, 3000, n), ve=rng.normal(0, 50, n), vn=rng.normal(0, 50, n),
        vu=np.zeros(n), hdop=np.ones(n), quality=np.ones(n, np.int64),
        age_s=np.zeros(n), lost=np.zeros(n, bool),
    )
    ia, ib = candidate_pairs(t.lat, t.lon, 50_000.0)
    for _ in range(3):
        evaluate_pairs(t, ia, ib)
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        evaluate_pairs(t, ia, ib)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    """
)


def _faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True, timeout=120
    )
    return int(out.stdout.strip())


def test_tune_allocator_is_idempotent_and_says_whether_it_applied() -> None:
    first = tune_allocator()
    assert tune_allocator() is first
    assert first is GLIBC


@pytest.mark.skipif(not GLIBC, reason="mallopt tuning is glibc's")
def test_tuned_evaluations_reuse_memory_instead_of_faulting_pages_in() -> None:
    plain, tuned = _faults("plain"), _faults("tuned")
    assert plain > 1000  # glibc's defaults: freed scratch goes back to the kernel each time
    assert tuned < plain / 20
