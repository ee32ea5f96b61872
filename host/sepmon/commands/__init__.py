"""Subcommands of ``sepmon``; each module is one command (see ``sepmon.cli``)."""
