"""The ``sepmon`` command: one program, one module per subcommand under ``sepmon.commands``.

A subcommand module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; it is found by scanning the package, so adding a command
never means editing this file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from sepmon import __version__, commands
from sepmon.apps.allocator import tune_allocator
from sepmon.core.errors import SepmonError


def _command_modules() -> list[ModuleType]:
    mods = []
    for info in pkgutil.iter_modules(commands.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"sepmon.commands.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            mods.append(mod)
    return sorted(mods, key=lambda m: str(m.NAME))


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one subparser per command module."""
    parser = argparse.ArgumentParser(
        prog="sepmon",
        description="Separation monitor: tracks GPS boards, predicts closest approach, alerts the boards.",
    )
    parser.add_argument("--version", action="version", version=f"sepmon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, dispatch, turn every failure into one line on stderr."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    tune_allocator()
    try:
        return int(args._run(args))
    except SepmonError as exc:
        print(f"sepmon {args.command}: error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed: not an error worth a message.
        sys.stderr.close()
        return 0
    except Exception as exc:  # the last line of defence: never a traceback for the user
        if os.environ.get("SEPMON_DEBUG"):
            raise
        print(
            f"sepmon {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(set SEPMON_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 70


if __name__ == "__main__":
    sys.exit(main())
