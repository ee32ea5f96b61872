"""Bounded fuzzing of the ``$PSEP`` decoders on both sides and the encoder round trips."""

from __future__ import annotations

import fuzzlib
import pytest
from fuzzstrategies import fuzz_settings, seed_lines
from hypothesis import given
from hypothesis import strategies as st

from sepmon.boardlink import protocol

FIELD = st.one_of(
    st.sampled_from(
        ("", "0", "1", "3", "359", "360", "12.7", "1.", ".5", "65535", "65536", "60000", "60001")
    ),
    st.sampled_from(("99999999999", "all", "warning", "Warning", "-1", "+1", " 1", "1e3", "0x10")),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=12),
)


@st.composite
def psep_lines(draw: st.DrawFn) -> bytes:
    """``$PSEP?`` sentences with random fields and a checksum that is mostly right."""
    kind = draw(st.sampled_from("AITKSX"))
    fields = draw(st.lists(FIELD, max_size=7))
    body = ",".join((f"PSEP{kind}", *fields)).encode("latin-1")
    ck = 0
    for b in body:
        ck ^= b
    star = draw(
        st.sampled_from((b"*%02X" % ck, b"*%02x" % ck, b"*%02X" % (ck ^ 0x10), b"", b"*+%x" % (ck & 15)))
    )
    return b"$" + body + star + draw(st.sampled_from((b"", b"\r\n", b"\n")))


@fuzz_settings(500)
@given(line=st.one_of(psep_lines(), st.binary(max_size=130), st.sampled_from(seed_lines())))
def test_host_and_firmware_decoders(line: bytes) -> None:
    fuzzlib.check_host_decode(line)
    fuzzlib.check_fw_decode(line, pad=b"\r\n*0")


@fuzz_settings(300)
@given(raw=st.binary(min_size=1, max_size=120))
def test_firmware_decode_command_random(raw: bytes) -> None:
    """Random bytes behind a valid ``$PSEP`` prefix and checksum, so the field parsing runs."""
    fuzzlib.one_protocol(b"\x01" + raw)
    fuzzlib.check_fw_decode(raw, pad=raw)


MESSAGES = st.one_of(
    st.builds(
        protocol.Identity,
        st.integers(0, 1200),
        st.from_regex(r"[A-Za-z0-9._\-]{1,33}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9._\-]{1,32}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9._\-]{1,32}", fullmatch=True),
    ),
    st.builds(protocol.Status, *(st.integers(0, 2**45) for _ in range(5))),
    st.builds(protocol.Ack, st.integers(0, 70000)),
    st.builds(
        protocol.AlertCommand,
        st.integers(0, 70000),
        st.integers(0, 4),
        st.none() | st.integers(0, 359).map(float) | st.floats(-1e6, 1e6),
        st.none() | st.integers(0, 10**10).map(float) | st.floats(9.999e9, 1e10, exclude_max=True),
        st.integers(0, 61000),
    ),
    st.builds(protocol.SelfTest, st.sampled_from((*protocol.SELFTEST_NAMES, "bogus"))),
)


@fuzz_settings(400)
@given(msg=MESSAGES)
def test_host_encoder_round_trip(msg: protocol.Message) -> None:
    """Whatever the host encoder writes decodes to the same message, host and board side."""
    fuzzlib.check_host_roundtrip(msg)


@fuzz_settings(200)
@given(raw=st.binary(max_size=80))
def test_firmware_encoders_round_trip(raw: bytes) -> None:
    fuzzlib.one_protocol(b"\x04" + raw)


@pytest.mark.parametrize("data", fuzzlib.crashers("protocol"), ids=lambda b: b[:24].hex())
def test_protocol_regressions(data: bytes) -> None:
    fuzzlib.one_protocol(data)
