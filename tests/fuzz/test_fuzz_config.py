"""Bounded fuzzing of the config loader (``parse_config`` + ``parse_sources``) and the MQTT decoders."""

from __future__ import annotations

import json

import fuzzlib
import pytest
from fuzzstrategies import fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

KEYS = st.sampled_from(fuzzlib._CONFIG_KEYS) | st.text(max_size=6)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.sampled_from((10**400, -(10**400), 0, 82, 65536, 65537)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(fuzzlib._URLS),
)
TOML_VALUES = st.recursive(
    SCALARS, lambda c: st.lists(c, max_size=4) | st.dictionaries(KEYS, c, max_size=5), max_leaves=8
)


@fuzz_settings(120)
@given(data=st.dictionaries(KEYS, TOML_VALUES, max_size=6))
def test_parse_config_and_sources(data: dict[str, object]) -> None:
    fuzzlib.check_config_data(data)


@fuzz_settings(300)
@given(raw=st.binary(max_size=200))
def test_built_tables(raw: bytes) -> None:
    fuzzlib.one_config(b"\x00" + raw)


@st.composite
def toml_text(draw: st.DrawFn) -> bytes:
    """Documented examples with lines changed, dropped or duplicated, and random lines."""
    base = draw(st.sampled_from(fuzzlib.toml_examples())).decode().splitlines()
    for _ in range(draw(st.integers(0, 5))):
        i = draw(st.integers(0, len(base)))
        line = draw(
            st.one_of(
                st.sampled_from(
                    (
                        "horizontal_m = " + "9" * 5000,
                        "horizontal_m = 1" + "0" * 400,
                        "max_line = 1e999",
                        "x = " + "[" * 2000 + "]" * 2000,
                        "[[sources]]",
                        'url = "tcp://host:port"',
                        "[separation]",
                        "check = 1",
                    )
                ),
                st.text(max_size=30),
            )
        )
        base.insert(i, line)
    return "\n".join(base).encode()


@fuzz_settings(200)
@given(text=toml_text() | st.binary(max_size=200))
def test_config_text(text: bytes) -> None:
    fuzzlib.check_config_text(text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=12,
)
TRACK = st.fixed_dictionaries(
    {
        k: JSON | st.sampled_from((1, 0, -90.0, 180.0, 1e9, 1710496800.5, 10**400, "alpha"))
        for k in fuzzlib.mqttcodec.TRACK_KEYS
    }
)


@fuzz_settings(150)
@given(
    payload=st.one_of(
        st.binary(max_size=300),
        JSON.map(lambda v: json.dumps(v).encode()),
        TRACK.map(lambda v: json.dumps(v).encode()),
    )
)
def test_mqtt_decoders(payload: bytes) -> None:
    fuzzlib.check_mqtt(payload)


@pytest.mark.parametrize("data", fuzzlib.crashers("config"), ids=lambda b: b[:24].hex())
def test_config_regressions(data: bytes) -> None:
    fuzzlib.one_config(data)
