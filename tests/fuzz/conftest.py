"""Bounded fuzz tests: ``fuzz/`` (shared invariants and seeds) and ``firmware/`` go on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (str(ROOT / "firmware"), str(ROOT / "fuzz"), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)
