"""deploy/: the systemd unit parses and runs sepmon as documented; the udev rules are well-formed."""

from __future__ import annotations

import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sepmon.apps.flashing import BOARD_USB_IDS
from sepmon.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "sepmon.service"
RULES = DEPLOY / "99-sepmon.rules"
SYSUSERS = DEPLOY / "sepmon.sysusers"
# the host's one table of board USB IDs (sepmon ports / sepmon flash use it too)
BOARD_IDS = {(f"{v:04x}", f"{p:04x}") for v, p in BOARD_USB_IDS}


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


def test_unit_starts_after_the_clock_is_synchronised() -> None:
    # Oracle: systemd.special(7): "all services where correct time is essential should be
    # ordered after [time-sync.target], but not pull it in" (a host without a wait service,
    # or without NTP, must still start the monitor). MQTT drops fixes 30 s off our clock.
    e = unit_entries(UNIT.read_text())
    after = " ".join(values(e, "Unit", "After")).split()
    assert "time-sync.target" in after
    for key in ("Wants", "Requires", "Requisite", "BindsTo"):
        assert "time-sync.target" not in " ".join(values(e, "Unit", key)).split(), key
    # The docs say which wait service makes the target wait, and how to cap the one that waits forever.
    deploy = (DEPLOY.parent / "docs" / "deploy.md").read_text()
    assert "systemd-time-wait-sync.service" in deploy and "chrony-wait.service" in deploy
    assert "TimeoutStartSec=" in deploy


def test_documented_secret_file_mode_lets_the_service_group_read_and_passes_the_check(tmp_path: Path) -> None:
    # Oracle: the kernel's permission bits (what the unit's Group= may read) and `sepmon run
    # --check-config`, which refuses a secret file others may read: the owner and mode
    # docs/deploy.md gives for password and key files must satisfy both.
    deploy = (DEPLOY.parent / "docs" / "deploy.md").read_text()
    chown = re.search(r"sudo chown root:(\S+) /etc/sepmon/mqtt-password", deploy)
    chmod = re.search(r"sudo chmod ([0-7]{3}) /etc/sepmon/mqtt-password", deploy)
    assert chown and chmod, "docs/deploy.md must say how to own and mode the password file"
    (group,) = values(unit_entries(UNIT.read_text()), "Service", "Group")
    assert chown.group(1) == group  # the service reads it through its group, not as its owner
    mode = int(chmod.group(1), 8)
    assert mode & stat.S_IRGRP and not mode & (stat.S_IROTH | stat.S_IWOTH | stat.S_IWGRP)
    pw = tmp_path / "mqtt-password"
    pw.write_text("s3cret\n")
    pw.chmod(mode)
    cfg = tmp_path / "sepmon.toml"
    cfg.write_text(
        '[[sources]]\nname = "a"\nurl = "udp://127.0.0.1:0"\n'
        f'[outputs.mqtt]\nsite = "A"\nusername = "u"\npassword_file = "{pw}"\ntls = true\n'
    )
    cfg.chmod(0o640)
    run = [sys.executable, "-m", "sepmon", "run", "--check-config", "--config", str(cfg)]
    ok = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    pw.chmod(mode | stat.S_IROTH)  # what the docs warn against: refused
    bad = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "anyone may read" in bad.stderr


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


def run_rules(files: list[Path], device: dict[str, str]) -> dict[str, str]:
    """udev's order for one tty ``device`` (ATTRS as ``attr:NAME``): every rule file in name order,
    each rule's matches, GOTO/LABEL, ENV assignment (later wins). Only what these rules use."""
    env: dict[str, str] = {}
    for f in sorted(files, key=lambda p: p.name):
        rules = rule_lines(f.read_text())
        goto = ""
        for r in rules:
            if goto:
                if ("LABEL", "", "=", goto) in r:
                    goto = ""
                continue
            ok = True
            for key, attr, op, value in r:
                if op not in ("==", "!="):
                    continue
                have = {
                    "SUBSYSTEM": device.get("SUBSYSTEM", ""),
                    "SUBSYSTEMS": "usb",
                    "ACTION": device.get("ACTION", "add"),
                    "KERNEL": device.get("KERNEL", ""),
                    "ATTRS": device.get("attr:" + attr.strip("{}"), ""),
                    "ENV": env.get(attr.strip("{}"), ""),
                }[key]
                if (have == value) != (op == "=="):
                    ok = False
                    break
            if not ok:
                continue
            for key, attr, op, value in r:
                if key == "ENV" and op == "=":
                    env[attr.strip("{}")] = value
                elif key == "GOTO":
                    goto = value
    return env


def test_udev_rule_takes_boards_back_from_gpsd(tmp_path: Path) -> None:
    """Issue 16 item 7: Debian's gpsd rule hands every CP210x to gpsd's hotplug; ours, later in
    udev's order, takes the board IDs back and leaves every other device to gpsd.

    Oracle: the gpsd package's own rule file as installed (60-gpsd.rules), and udev's rule
    order (files by name, assignments in order). Skipped where gpsd's rules are not installed.
    """
    gpsd = next(
        (
            p
            for p in (Path("/lib/udev/rules.d/60-gpsd.rules"), Path("/usr/lib/udev/rules.d/60-gpsd.rules"))
            if p.exists()
        ),
        None,
    )
    if gpsd is None:
        pytest.skip("gpsd's udev rules (60-gpsd.rules) not installed")
    ours = tmp_path / RULES.name
    ours.write_text(RULES.read_text())
    theirs = tmp_path / gpsd.name
    # gpsd's rule file uses keys our tokenizer does not list; keep its lines about USB ids
    keep = [
        ln for ln in gpsd.read_text().splitlines() if "idVendor" in ln or "LABEL" in ln or "SUBSYSTEM!=" in ln
    ]
    theirs.write_text("\n".join(ln.replace('SYMLINK+="gps%n", TAG+="systemd", ', "") for ln in keep) + "\n")

    def env_for(vid: str, pid: str) -> dict[str, str]:
        dev = {"SUBSYSTEM": "tty", "attr:idVendor": vid, "attr:idProduct": pid}
        return run_rules([theirs, ours], dev)

    alone = run_rules([theirs], {"SUBSYSTEM": "tty", "attr:idVendor": "10c4", "attr:idProduct": "ea60"})
    assert alone.get("SYSTEMD_WANTS") == "gpsdctl@%k.service"  # the conflict, as Debian ships it
    for vid, pid in BOARD_IDS:
        env = env_for(vid, pid)
        assert env.get("SEPMON_BOARD") == "1" and env.get("SYSTEMD_WANTS", "") == "", (vid, pid)
    ublox = env_for("1546", "01a8")  # a u-blox 8 receiver: still gpsd's
    assert ublox.get("SYSTEMD_WANTS") == "gpsdctl@%k.service" and "SEPMON_BOARD" not in ublox
