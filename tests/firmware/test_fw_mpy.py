"""Every firmware file compiles with mpy-cross, and the compiled .mpy files run in MicroPython."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import scenarios

HERE = Path(__file__).resolve().parent
FIRMWARE = HERE.parents[1] / "firmware"
SOURCES = sorted(p for p in FIRMWARE.rglob("*.py") if "__pycache__" not in p.parts)


def test_there_are_firmware_sources() -> None:
    names = {p.relative_to(FIRMWARE).as_posix() for p in SOURCES}
    assert {"main.py", "sepmon_fw/app.py", "boards/pico.py", "boards/tbeam.py"} <= names


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.relative_to(FIRMWARE).as_posix())
def test_mpy_cross_compiles(src: Path, tmp_path: Path) -> None:
    out = tmp_path / (src.stem + ".mpy")
    r = subprocess.run(
        [sys.executable, "-m", "mpy_cross", "-o", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:1] == b"M"  # .mpy header


def test_compiled_firmware_runs_in_micropython(tmp_path: Path) -> None:
    mpguest = pytest.importorskip("mpguest")
    g = mpguest.Guest()
    try:
        for src in SOURCES:
            rel = src.relative_to(FIRMWARE)
            if rel.parent.name not in ("sepmon_fw", "boards"):
                continue
            out = tmp_path / rel.with_suffix(".mpy")
            out.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(out), str(src)], check=True)
            g.put(rel.with_suffix(".mpy").as_posix(), out.read_bytes())
        g.put("scenarios.py", (HERE / "scenarios.py").read_bytes())
        listing = g.listing()
        assert "sepmon_fw/app.mpy" in listing and "sepmon_fw/app.py" not in listing
        free0 = int(g.run("import gc\nprint(gc.mem_free())"))
        g.run("import sepmon_fw.app")
        used = free0 - int(g.run("print(gc.mem_free())"))
        print(f"\nMicroPython heap: firmware import from .mpy {used} bytes")
        out = g.run("import scenarios\nprint(repr(scenarios.scn_failsafes()))")
    finally:
        g.close()
    assert ast.literal_eval(out.strip()) == scenarios.scn_failsafes()
