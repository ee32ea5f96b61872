"""Firmware tests: the firmware tree goes on sys.path, as the host's virtual board does it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
FIRMWARE = HERE.parents[1] / "firmware"
for p in (str(FIRMWARE), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from fwtest import Rig  # noqa: E402


@pytest.fixture
def rig() -> Rig:
    return Rig()
