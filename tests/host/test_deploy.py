"""deploy/: the systemd unit parses and runs sepmon as documented; the udev rules are well-formed."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from sepmon.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "sepmon.service"
RULES = DEPLOY / "99-sepmon.rules"
SYSUSERS = DEPLOY / "sepmon.sysusers"
BOARD_IDS = {("2e8a", "0005"), ("10c4", "ea60"), ("1a86", "7523"), ("1a86", "55d4")}


def unit_entries(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) in file order; systemd allows repeated keys, configparser does not."""
    entries = []
    section = ""
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"line {no}: keep unit lines unwrapped"
        m = re.fullmatch(r"\[([A-Za-z]+)\]", line)
        if m:
            section = m.group(1)
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key), f"line {no}: not KEY=VALUE: {raw!r}"
        assert section, f"line {no}: key before any section"
        entries.append((section, key, value.strip()))
    return entries


def values(entries: list[tuple[str, str, str]], section: str, key: str) -> list[str]:
    return [v for s, k, v in entries if s == section and k == key]


def test_unit_has_what_the_service_needs() -> None:
    e = unit_entries(UNIT.read_text())
    assert {s for s, _, _ in e} == {"Unit", "Service", "Install"}
    (pre,) = values(e, "Service", "ExecStartPre")
    (start,) = values(e, "Service", "ExecStart")
    assert pre.split() == ["sepmon", "run", "--check-config", "--config", "/etc/sepmon/sepmon.toml"]
    assert start.startswith("sepmon run --quiet ") and "--config /etc/sepmon/sepmon.toml" in start
    # Both command lines are valid for the sepmon we ship.
    parser = build_parser()
    for cmd in (pre, start):
        args = parser.parse_args(shlex.split(cmd)[1:])
        assert args.command == "run" and args.config == "/etc/sepmon/sepmon.toml"
    assert values(e, "Service", "Restart") == ["always"]
    assert values(e, "Service", "User") == ["sepmon"]
    assert "dialout" in values(e, "Service", "SupplementaryGroups")[0].split()
    assert values(e, "Service", "NoNewPrivileges") == ["yes"]
    assert values(e, "Service", "ProtectSystem") == ["strict"]
    # Hardening must leave the serial ports reachable.
    assert values(e, "Service", "PrivateDevices") in ([], ["no"])
    allowed = values(e, "Service", "DeviceAllow")
    assert values(e, "Service", "DevicePolicy") == ["closed"]
    for dev in ("char-ttyUSB", "char-ttyACM"):
        assert f"{dev} rw" in allowed
    families = values(e, "Service", "RestrictAddressFamilies")[0].split()
    assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= set(families)
    assert values(e, "Install", "WantedBy") == ["multi-user.target"]


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed (the key-level check above still ran)")
    stub = tmp_path / "sepmon"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    # verify insists the program exists: point the unit at a stub in place of the installed sepmon.
    text = re.sub(r"^(ExecStart(?:Pre)?=)sepmon ", rf"\g<1>{stub} ", UNIT.read_text(), flags=re.M)
    unit = tmp_path / "sepmon.service"
    unit.write_text(text)
    proc = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # Unknown keys and bad values are only warnings (exit 0): any output at all is a failure.
    assert proc.returncode == 0 and proc.stdout.strip() == "" and proc.stderr.strip() == "", proc.stderr


_TOKEN = re.compile(r'\s*([A-Z_]+)(\{[A-Za-z0-9_]+\})?(==|!=|\+=|-=|:=|=)"([^"]*)"\s*(,|$)')
_MATCH_KEYS = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "ATTRS", "ENV", "KERNEL"}
_ASSIGN_KEYS = {"ENV", "GROUP", "MODE", "SYMLINK", "GOTO", "LABEL", "IMPORT"}


def rule_lines(text: str) -> list[list[tuple[str, str, str, str]]]:
    """Each rule as its (key, {attr}, operator, value) tokens; asserts every line is made of them."""
    rules = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens, pos = [], 0
        while pos < len(line):
            m = _TOKEN.match(line, pos)
            assert m, f"line {no}: malformed at column {pos}: {raw!r}"
            key, attr, op, value, _ = m.groups()
            if op in ("==", "!="):
                assert key in _MATCH_KEYS, f"line {no}: {key} is not a match key"
            else:
                assert key in _ASSIGN_KEYS, f"line {no}: {key} cannot be assigned"
            if key in ("ATTRS", "ENV", "IMPORT"):
                assert attr, f"line {no}: {key} needs {{...}}"
            tokens.append((key, attr or "", op, value))
            pos = m.end()
        rules.append(tokens)
    return rules


def test_udev_rules_are_well_formed() -> None:
    rules = rule_lines(RULES.read_text())
    ids = set()
    labels = {v for r in rules for k, _, _, v in r if k == "LABEL"}
    for r in rules:
        d = {(k, a): v for k, a, _, v in r}
        if ("ATTRS", "{idVendor}") in d:
            vid, pid = d[("ATTRS", "{idVendor}")], d[("ATTRS", "{idProduct}")]
            assert re.fullmatch(r"[0-9a-f]{4}", vid) and re.fullmatch(r"[0-9a-f]{4}", pid)
            ids.add((vid, pid))
        for k, _, _, v in r:
            if k == "GOTO":
                assert v in labels, f"GOTO {v} has no LABEL"
            if k == "SYMLINK":
                assert v.startswith("sepmon-")
    assert ids == BOARD_IDS
    symlinks = [v for r in rules for k, _, _, v in r if k == "SYMLINK"]
    assert "sepmon-$env{ID_SERIAL_SHORT}" in symlinks
    assert any(("GROUP", "", "=", "dialout") in r for r in rules)


def test_udev_rules_parse_with_udevadm(tmp_path: Path) -> None:
    tool = shutil.which("udevadm")
    if tool is None:
        pytest.skip("udevadm not installed (the token-level check above still ran)")
    probe = subprocess.run([tool, "verify", "--help"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip("this udevadm has no 'verify' (systemd < 253)")
    proc = subprocess.run([tool, "verify", str(RULES)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sysusers_file() -> None:
    lines = [ln.split() for ln in SYSUSERS.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0][:2] == ["u", "sepmon"]
    assert ["m", "sepmon", "dialout"] in lines
