"""A real headless Chromium (Debian's ``chromium``) driven by Playwright, for the web view's tests.

Playwright's own browser download is not used: the system browser is launched with
``executable_path``. Each call starts its own browser with a fresh profile.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

OUT = Path(__file__).resolve().parents[2] / "out" / "web"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The system Chromium; skipped without it (failed under CI: ``make system-deps`` installs it)."""
    exe = os.environ.get("SEPMON_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        msg = "chromium not installed (Debian package chromium; make system-deps)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return exe


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 850) -> Iterator[Any]:
    """A page in a fresh headless Chromium; console errors and page errors are collected on it."""
    sync_api = pytest.importorskip("playwright.sync_api")
    exe = chromium_path()
    with tempfile.TemporaryDirectory(prefix="sepmon-chromium-") as profile, sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=exe,
            headless=True,
            chromium_sandbox=False,
            args=FLAGS,
            viewport={"width": width, "height": height},
            timeout=120_000,
        )
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.set_default_timeout(30_000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console",
                lambda msg: (
                    errors.append(msg.text) if msg.type == "error" and "WebSocket" not in msg.text else None
                ),
            )
            page.sepmon_errors = errors
            yield page
        finally:
            ctx.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot under out/web/ (not committed) and return its path."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    page.screenshot(path=str(path))
    return path
