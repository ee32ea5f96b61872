"""The firmware type-checks against the MicroPython stubs of each port it runs on.

``micropython-rp2-stubs`` and ``micropython-esp32-stubs`` both provide
``machine`` etc., so each goes into its own ``pip --target`` directory (cached
beside the virtualenv, under ``sys.prefix``) and mypy runs once per port with
MYPYPATH pointing there. Errors inside the stub files themselves are not ours
and are filtered out; everything reported in firmware files fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
STUBS = {"rp2": "micropython-rp2-stubs", "esp32": "micropython-esp32-stubs"}

MYPY_INI = """\
[mypy]
python_version = 3.11
check_untyped_defs = True
no_site_packages = True
explicit_package_bases = True
"""


def stub_dir(port: str) -> Path:
    target = Path(sys.prefix) / "fw-stubs" / port
    if (target / "machine.pyi").exists():
        return target
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(target),
         STUBS[port]],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    if r.returncode != 0 or not (target / "machine.pyi").exists():
        pytest.skip(f"cannot install {STUBS[port]} (no package index reachable?): {r.stderr.strip()[-300:]}")
    return target


def mypy(port: str, tmp_path: Path, *targets: str) -> list[str]:
    ini = tmp_path / "mypy.ini"
    ini.write_text(MYPY_INI)
    stubs = stub_dir(port)
    env = dict(os.environ, MYPYPATH=str(stubs))
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ini), "--cache-dir", str(tmp_path / "cache"),
         *targets],
        cwd=FIRMWARE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert 'error: Cannot find implementation or library stub for module named "machine"' not in r.stdout
    return [ln for ln in r.stdout.splitlines() if ": error:" in ln and not ln.startswith(str(stubs))]


@pytest.mark.parametrize("port", sorted(STUBS))
def test_firmware_typechecks_against_port_stubs(port: str, tmp_path: Path) -> None:
    errors = mypy(port, tmp_path, "sepmon_fw", "boards", "main.py", "boot.py")
    assert errors == []


def test_stub_check_has_teeth(tmp_path: Path) -> None:
    """A wrong use of the machine API is reported, so a clean run above means something."""
    bad = tmp_path / "probe.py"
    bad.write_text(
        "import machine\n\nmachine.UART(0).no_such_method()\nmachine.PWM(machine.Pin(1)).duty_u16('x')\n"
    )
    errors = mypy("rp2", tmp_path, str(bad))
    assert any("no_such_method" in e for e in errors)
    assert any("duty_u16" in e for e in errors)
