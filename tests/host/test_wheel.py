"""The wheel: built, installed into a fresh virtual environment and run outside the checkout.

An installed sepmon must find its own firmware (shipped as ``sepmon/firmware`` package
data) to run ``sepmon demo``, ``replay --boards`` and ``flash``. This builds the wheel
with pip (setuptools in an isolated build environment: the build requirements come
from the configured package index), installs it with ``--no-deps`` into a new venv
whose dependencies are the project venv's (a ``.pth`` line, so nothing is downloaded
for them), and runs the installed ``sepmon`` from a directory outside the checkout
with ``SEPMON_FIRMWARE`` and ``PYTHONPATH`` unset.

Oracles: pip and setuptools build and install the wheel (not our code); the demo's
pass criterion is the simulator's analytic encounter — both vehicles pass inside the
minima, so both boards, running the packaged firmware's own logic, must sound WARNING
(``sepmon demo`` exits 0 only then); the board profiles ``flash`` must list are the
files of ``firmware/boards/`` in the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` directory of a fresh venv with the wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    [wheel] = dist.glob("sepmon-*.whl")
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    bin_dir = env_dir / "bin"
    py = bin_dir / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies (numpy, pyserial, ...) of the project venv, without its sepmon:
    # a path line in a .pth adds the directory but does not run the .pth files in it,
    # so the project's editable install stays inactive here.
    (Path(site) / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    inst = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert inst.returncode == 0, inst.stderr[-3000:]
    return bin_dir


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SEPMON_FIRMWARE")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(bin_dir: Path, *args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.timeout(900)
def test_installed_wheel_uses_its_packaged_firmware(installed: Path, tmp_path: Path) -> None:
    where = _run(
        installed,
        "python",
        "-c",
        "import sepmon; from sepmon.apps.flashing import firmware_dir; print(sepmon.__file__); "
        "print(firmware_dir())",
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    module, fw = (Path(line) for line in where.stdout.split())
    venv_dir = installed.parent
    assert module.is_relative_to(venv_dir), module  # the installed copy, not the checkout
    assert fw.is_relative_to(venv_dir) and fw.name == "firmware", fw
    assert (fw / "sepmon_fw" / "app.py").is_file()
    shipped = sorted(p.relative_to(fw).as_posix() for p in fw.rglob("*.py"))
    in_checkout = sorted(p.relative_to(FIRMWARE).as_posix() for p in FIRMWARE.rglob("*.py"))
    assert shipped == in_checkout  # every firmware module is in the wheel

    helped = _run(installed, "sepmon", "flash", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "--board" in helped.stdout, helped.stderr
    # The supported boards as docs/firmware.md and hardware/ name them, read by the
    # installed flash command from the firmware it carries.
    unknown = _run(
        installed, "sepmon", "flash", "--board", "no-such-board", "--port", "/dev/null", cwd=tmp_path
    )
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr, unknown.stderr
    assert "known: pico, esp32_devkit, tbeam" in unknown.stderr, unknown.stderr


@pytest.mark.timeout(900)
def test_installed_wheel_runs_the_demo_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    demo = _run(
        installed, "sepmon", "demo", "--speed", "8", "--events", str(events), cwd=tmp_path, timeout=600
    )
    assert demo.returncode == 0, (demo.stdout[-3000:], demo.stderr[-3000:])
    assert "boards that sounded WARNING" in demo.stdout
    assert '"type":"board"' in events.read_text()  # the virtual boards identified themselves
