"""Configuration: defaults, groups and pair classes, and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from sepmon.apps.configfile import load_config
from sepmon.core.config import DEFAULT_GROUP, parse_config
from sepmon.core.errors import ConfigError


def test_defaults_match_design() -> None:
    cfg = parse_config({})
    r = cfg.default_rule
    assert (r.horizontal_m, r.vertical_m, r.warning_s, r.caution_s, r.advisory_s) == (3000, 300, 8, 12, 18)
    assert cfg.group_of("anything") == DEFAULT_GROUP


def test_pair_rules_by_group_are_symmetric_and_inherit_defaults() -> None:
    cfg = parse_config(
        {
            "separation": {"horizontal_m": 4000, "hold_s": 3},
            "groups": {"red": ["a", "a2"], "blue": ["b"]},
            "pairs": [
                {"groups": ["red", "blue"], "horizontal_m": 5000},
                {"groups": ["red", "red"], "check": False},
            ],
        }
    )
    assert cfg.rule_for("a", "b").horizontal_m == 5000
    assert cfg.rule_for("b", "a").horizontal_m == 5000
    assert cfg.rule_for("b", "a").vertical_m == 300
    assert cfg.rule_for("a", "a2").check is False
    assert cfg.rule_for("a", "stranger").horizontal_m == 4000
    assert cfg.hold_s == 3


def test_aliases_canonicalise() -> None:
    cfg = parse_config({"aliases": {"alpha-radio": "alpha"}})
    assert cfg.canonical("alpha-radio") == "alpha"
    assert cfg.canonical("alpha") == "alpha"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"separation": {"horizantal_m": 1}}, "separation.horizantal_m: unknown key"),
        ({"separation": {"horizontal_m": "far"}}, "separation.horizontal_m: expected a number"),
        ({"separation": {"horizontal_m": -5}}, "separation.horizontal_m: must be greater than 0"),
        ({"separation": {"vertical_m": True}}, "separation.vertical_m: expected a number"),
        (
            {"separation": {"warning_s": 30}},
            "separation: alerter 'sepmon': level 3's alerting times 30/30 s exceed level 2's 12/12 s",
        ),
        (
            {"separation": {"preset": "distance", "caution_factor": 3.0}},
            "separation: alerter 'distance': level 2's volume (DTHR 9000 m, ZTHR 900 m) is not inside",
        ),
        (
            {"separation": {"caution_factor": 1.2}},
            "separation: caution_factor and advisory_factor are range rings, which only preset 'distance'",
        ),
        (
            {"pairs": [{"groups": ["default", "default"], "advisory_s": 5}]},
            "pairs[0]: alerter 'sepmon': level 2's alerting times 12/12 s exceed level 1's 5/5 s",
        ),
        ({"separation": {"preset": "do-365"}}, "separation.preset: unknown preset 'do-365'; known: distance"),
        ({"separation": {"confidence": 1.0}}, "separation.confidence: expected a probability"),
        ({"separation": {"caution_factor": 0.5}}, "separation.caution_factor: must be at least 1"),
        ({"separation": {"stale_s": 0}}, "separation.stale_s: must be greater than 0"),
        ({"sepration": {}}, "sepration: unknown section"),
        ({"groups": {"red": "alpha"}}, "groups.red: expected a list"),
        ({"groups": {"red": ["a"], "blue": ["a"]}}, "already in group"),
        ({"pairs": [{"groups": ["red", "blue"]}]}, "pairs[0].groups: unknown group"),
        ({"pairs": [{"groups": ["default"]}]}, "pairs[0].groups: expected two group names"),
        ({"pairs": [{"groups": ["default", "default"], "speed": 1}]}, "pairs[0].speed: unknown key"),
        ({"ingest": {"max_line": 10}}, "ingest.max_line"),
        ({"ingest": {"require_checksum": "yes"}}, "ingest.require_checksum"),
    ],
)
def test_bad_values_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    assert key in str(exc.value)
    assert "\n" not in str(exc.value)
    assert exc.value.status == 2


def test_load_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[separation\nhorizontal_m = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    good = tmp_path / "good.toml"
    good.write_text("[separation]\nhorizontal_m = 1500\n")
    assert load_config(good).default_rule.horizontal_m == 1500
