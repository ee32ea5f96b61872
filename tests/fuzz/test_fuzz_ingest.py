"""Bounded fuzzing of the host ingest path: line framer, TAG blocks, ``NmeaIngest.feed``, plus
the firmware line framer on the same byte streams.  Invariants live in ``fuzz/fuzzlib.py``."""

from __future__ import annotations

import fuzzlib
import pytest
from fuzzstrategies import any_stream, chunk_sizes, fuzz_settings, mutated_stream
from hypothesis import given
from hypothesis import strategies as st


@fuzz_settings(250)
@given(data=any_stream, sizes=chunk_sizes(), max_len=st.sampled_from((8, 20, 82, 120, 512)))
def test_host_framer_bounded_and_chunking_free(data: bytes, sizes: list[int], max_len: int) -> None:
    fuzzlib.check_host_framer(data, max_len, sizes)


@fuzz_settings(120)
@given(data=mutated_stream(), sizes=chunk_sizes(), require=st.booleans())
def test_ingest_mutated_receiver_output(data: bytes, sizes: list[int], require: bool) -> None:
    fuzzlib.check_ingest(data, sizes, require_checksum=require)


@fuzz_settings(120)
@given(data=st.binary(max_size=2000), sizes=chunk_sizes())
def test_ingest_random_bytes(data: bytes, sizes: list[int]) -> None:
    fuzzlib.check_ingest(data, sizes)


@fuzz_settings(40)
@given(
    line=st.sampled_from(fuzzlib.real_lines()),
    repeat=st.integers(2, 200),
    sizes=chunk_sizes(),
)
def test_ingest_overlong_lines(line: bytes, repeat: int, sizes: list[int]) -> None:
    """Lines far over every bound, with and without terminators in between."""
    fuzzlib.check_ingest(line * repeat + b"\r\n" + line + b"\r\n", sizes)
    fuzzlib.check_ingest(line.rstrip(b"*0123456789ABCDEF") * repeat, sizes)


@fuzz_settings(300)
@given(
    tags=st.lists(
        st.one_of(
            st.sampled_from(
                ("s:alpha", "c:1710496800123", "c:1710496800", "n:3", "g:1-2-3", "c:-1", "c:nan")
            ),
            st.text(max_size=12),
        ),
        max_size=4,
    ),
    star=st.sampled_from(("good", "bad", "none", "lower")),
    tail=st.binary(max_size=40),
)
def test_tag_block(tags: list[str], star: str, tail: bytes) -> None:
    body = ",".join(tags).encode("utf-8", "replace")
    ck = 0
    for b in body:
        ck ^= b
    suffix = {"good": b"*%02X" % ck, "lower": b"*%02x" % ck, "bad": b"*%02X" % (ck ^ 1), "none": b""}[star]
    fuzzlib.check_tag_block(b"\\" + body + suffix + b"\\" + tail)
    fuzzlib.check_ingest(b"\\" + body + suffix + b"\\" + tail + b"\r\n")


@fuzz_settings(200)
@given(data=any_stream, sizes=chunk_sizes())
def test_firmware_framer(data: bytes, sizes: list[int]) -> None:
    fuzzlib.check_fw_framer(data, sizes)


@pytest.mark.parametrize("data", fuzzlib.crashers("ingest"), ids=lambda b: b[:24].hex())
def test_ingest_regressions(data: bytes) -> None:
    fuzzlib.one_ingest(data)


def test_seed_corpus_passes() -> None:
    """The real and simulated recordings themselves hold every invariant."""
    for rec in fuzzlib.real_recordings():
        fuzzlib.check_ingest(rec)
