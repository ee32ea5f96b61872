"""Hypothesis strategies for the bounded fuzz tests: mutated receiver output and chunkings.

Settings: every test runs a fixed number of examples with ``derandomize=True`` so
``make test`` is repeatable and stays within a few seconds per test; set
``SEPMON_FUZZ_RANDOM=1`` to explore with fresh random seeds instead (the long
campaign is ``make fuzz``).
"""

from __future__ import annotations

import os
from functools import cache

import fuzzlib
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

_RANDOM = os.environ.get("SEPMON_FUZZ_RANDOM") == "1"


def fuzz_settings(max_examples: int) -> settings:
    """Settings for one bounded fuzz test (no deadline, fixed budget, derandomised)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=not _RANDOM,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


@cache
def seed_lines() -> tuple[bytes, ...]:
    """Real receiver lines plus the lines of the fault-injected simulator recordings."""
    lines = dict.fromkeys(fuzzlib.real_lines())
    for rec in fuzzlib.sim_recordings():
        for line in rec.splitlines()[:400]:
            if line:
                lines[line] = None
    return tuple(lines)


INTERESTING = (
    b"\x00",
    b"\xff",
    b"\xb5b",
    b"$",
    b"$$",
    b"!",
    b"*",
    b"\\",
    b",",
    b"\r",
    b"\n",
    b"\r\n",
    b"{",
    b".",
)
TERMINATORS = (b"\r\n", b"\n", b"\r", b"\n\r", b"", b"\x00\x00\r\n")


@st.composite
def mutated_stream(draw: st.DrawFn, max_lines: int = 12) -> bytes:
    """A few real/simulated lines joined by mixed terminators, then damaged by byte edits."""
    pool = seed_lines()
    lines = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=max_lines))
    terms = draw(st.lists(st.sampled_from(TERMINATORS), min_size=1, max_size=4))
    data = bytearray(b"".join(line + terms[i % len(terms)] for i, line in enumerate(lines)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(("insert", "delete", "flip", "splice", "inject", "overlong", "random")))
        pos = draw(st.integers(0, len(data)))
        if op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            data[pos : pos + draw(st.integers(1, 40))] = b""
        elif op == "flip" and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "splice":
            data[pos:pos] = draw(st.sampled_from(pool))
        elif op == "inject":
            data[pos:pos] = draw(st.sampled_from(INTERESTING)) * draw(st.integers(1, 3))
        elif op == "overlong":
            piece = draw(st.sampled_from(pool))
            data[pos:pos] = piece * draw(st.integers(2, 40))
        elif op == "random":
            data[pos:pos] = draw(st.binary(max_size=64))
    return bytes(data)


def chunk_sizes() -> st.SearchStrategy[list[int]]:
    """Read sizes to cut a stream with (cycled)."""
    return st.lists(st.integers(1, 700), min_size=1, max_size=8)


any_stream = st.one_of(mutated_stream(), st.binary(max_size=600))
