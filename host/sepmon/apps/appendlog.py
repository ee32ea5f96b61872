"""Helpers for append-only line files (event logs, recordings) that must survive a crash."""

from __future__ import annotations

import os
from pathlib import Path

from sepmon.core.errors import SepmonError


def drop_partial_last_line(path: str | Path, what: str = "file") -> None:
    """Cut a line left half-written by a crash, so the file continues on a line boundary.

    A missing file is fine (it will be created). ``what`` names the file in the
    one-line error (``"cannot open <what> <path>: ..."``).
    """
    path = Path(path)
    try:
        with open(path, "r+b") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            # Scan back in blocks for the last newline; a partial line is short.
            pos = size
            while pos > 0:
                step = min(4096, pos)
                pos -= step
                fh.seek(pos)
                nl = fh.read(step).rfind(b"\n")
                if nl >= 0:
                    fh.truncate(pos + nl + 1)
                    return
            fh.truncate(0)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SepmonError(f"cannot open {what} {path}: {exc.strerror or exc}") from None
