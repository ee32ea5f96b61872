"""Arguments shared by several commands: the ports of ``run`` and ``record``, time limits."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sepmon.core.errors import ConfigError, SepmonError
from sepmon.links.sources import SourceSpec, parse_sources, spec_from_arg


def check_seconds(option: str, value: float, maximum: float) -> float:
    """``value`` if it is a finite number of seconds in (0, ``maximum``]; else a one-line error.

    argparse's ``type=float`` takes nan, inf and negative numbers, and inf waits forever.
    """
    if not (math.isfinite(value) and 0 < value <= maximum):
        raise SepmonError(f"{option} must be more than 0 and at most {maximum:g} seconds, not {value:g}")
    return value


def add_ports_argument(p: argparse.ArgumentParser) -> None:
    """The positional ``[NAME=]PORT...`` list."""
    p.add_argument(
        "ports",
        nargs="*",
        metavar="[NAME=]PORT",
        help="serial devices or URLs (socket://, rfc2217://, loop://, tcp://, tcp-listen://, udp://, "
        "file://, gpsd://), beside [[sources]] of the configuration",
    )


def all_sources(config_sources: Any, ports: Sequence[str]) -> list[SourceSpec]:
    """``[[sources]]`` plus the command line's ports; a name used twice is a ConfigError."""
    specs = parse_sources(config_sources) + [spec_from_arg(a) for a in ports]
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"source name used twice: {', '.join(dup)}")
    return specs


def file_inputs(specs: Sequence[SourceSpec]) -> list[tuple[str, str]]:
    """``(label, path)`` of the ``file://`` sources, for ``safeio.check_outputs``."""
    return [(f"source {s.name}", s.url.split("://", 1)[1]) for s in specs if s.kind == "file"]


def file_source_problems(specs: Sequence[SourceSpec]) -> list[str]:
    """One line per ``file://`` source that cannot be read now (``--check-config`` warns)."""
    problems = []
    for s in specs:
        if s.kind != "file":
            continue
        path = Path(s.url.split("://", 1)[1])
        if not path.exists():
            problems.append(f"source {s.name}: {path} does not exist (yet): it is waited for")
        elif path.is_dir():
            problems.append(f"source {s.name}: {path} is a directory")
        elif not os.access(path, os.R_OK):
            problems.append(f"source {s.name}: {path} is not readable by this user")
    return problems
