"""Alert hysteresis, the readable reference: a pair's level goes up at once and down only after a hold.

The monitor runs the same rule vectorised over its pair columns
(``sepmon.core.monitor._PairTable.hysteresis``, same room); tests/host/test_monitor.py
holds the two to each other pair for pair, step for step, and tests/host/test_alerting.py
holds this one to an independent brute-force model of the rule below.

Semantics (per pair): the raw level reported at time ``t`` is taken to hold
until the next report. The displayed level at ``t`` is the highest raw level
in effect at any time during ``[t - hold_s, t]``. Hence

- a higher raw level shows immediately;
- the level only drops once the raw level has stayed below it for ``hold_s``,
  and then steps down to the highest raw level seen during that hold window
  (so 3 → 2 → 1 are each held in turn, never skipped while still recent).

Reports older than the pair's latest one (out of order) never lower the
level; if they carry a higher level it is applied at once (stale evidence of
danger is still evidence) as if reported at the latest time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from sepmon.core.model import Level

PairKey = tuple[str, str]
_LEVELS = frozenset(int(x) for x in Level)
_LEVEL_OF = {int(x): x for x in Level}


def pair_key(a: str, b: str) -> PairKey:
    """Order-independent key of the pair of sources a and b."""
    if a == b:
        raise ValueError(f"a source is never traffic to itself: {a!r}")
    return (a, b) if a <= b else (b, a)


def _norm(key: Sequence[str]) -> PairKey:
    if len(key) != 2:
        raise ValueError(f"pair key must have two source names, got {key!r}")
    return pair_key(key[0], key[1])


class _PairHistory:
    """Change points (t, raw) of one pair, pruned to what the hold window can still see."""

    __slots__ = ("last_t", "samples")

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()
        self.last_t = -float("inf")

    def add(self, t: float, raw: int) -> None:
        if self.samples and self.samples[-1][1] == raw:
            pass  # unchanged level: the earlier change point still describes it
        else:
            self.samples.append((t, raw))
        self.last_t = t

    def prune(self, window_start: float) -> None:
        # Keep the latest sample at or before the window start: it is in effect there.
        while len(self.samples) >= 2 and self.samples[1][0] <= window_start:
            self.samples.popleft()

    def level(self) -> int:
        samples = self.samples
        if len(samples) == 1:
            return samples[0][1]
        return max(raw for _, raw in samples)


class AlertHysteresis:
    """Per-pair hysteresis of alert levels (see the module docstring for the rule)."""

    def __init__(self, hold_s: float) -> None:
        """``hold_s``: how long the raw level must stay lower before the level drops."""
        if not hold_s >= 0:
            raise ValueError(f"hold_s must be >= 0, got {hold_s}")
        self.hold_s = float(hold_s)
        self._pairs: dict[PairKey, _PairHistory] = {}

    def update(self, key: Sequence[str], raw_level: int, t: float) -> Level:
        """Report the raw level of a pair at time ``t``; return the level to show."""
        raw = int(raw_level)
        if raw not in _LEVELS:
            raise ValueError(f"{raw_level!r} is not a valid Level")
        if not math.isfinite(t):
            raise ValueError(f"t must be finite, got {t}")
        # Fast path: keys already in order (as the monitor's pair keys are).
        if type(key) is tuple and len(key) == 2 and key[0] < key[1]:
            k: PairKey = key
        else:
            k = _norm(key)
        hist = self._pairs.get(k)
        if hist is None:
            hist = self._pairs[k] = _PairHistory()
        if t < hist.last_t:
            # Out of order: may raise at once, must never lower.
            if raw > hist.level():
                hist.add(hist.last_t, raw)
            return Level(hist.level())
        hist.add(float(t), raw)
        hist.prune(t - self.hold_s)
        return _LEVEL_OF[hist.level()]

    def level(self, key: Sequence[str]) -> Level:
        """Level last returned for a pair (NONE if unknown)."""
        hist = self._pairs.get(_norm(key))
        return Level.NONE if hist is None else Level(hist.level())
