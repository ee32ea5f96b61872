"""The reference epoch assembler: every sentence through the declarative table.

:class:`ReferenceAssembler` is :class:`~sepmon.core.epoch.EpochAssembler` with its fast
per-type adds switched off: each sentence goes through
:meth:`~sepmon.core.epoch.EpochAssembler.add_from_table`, which takes every rule from the
sentence's entry in :data:`sepmon.core.sentences.SENTENCES`.  It is the readable twin the
fast path is held to (``tests/host/test_epoch.py`` feeds both the same sentences: every
outcome, fix, drop counter and learned type must agree), and what a new sentence type
runs on until it has a fast add.
"""

from __future__ import annotations

from sepmon.core.epoch import EpochAssembler, Handler
from sepmon.core.model import Fix
from sepmon.core.nmea import Sentence
from sepmon.core.sentences import SENTENCES


class ReferenceAssembler(EpochAssembler):
    """EpochAssembler whose every sentence takes the table-driven reference path."""

    __slots__ = ()

    def add(self, s: Sentence, rx_t: float | None, out: list[Fix]) -> str:
        """As :meth:`EpochAssembler.add`, from the sentence's table entry alone."""
        return self.add_from_table(SENTENCES[s[0]], s[2], rx_t, out)

    def handler(self, kind: str) -> Handler:
        """As :meth:`EpochAssembler.handler`, bound to the reference path."""
        spec = SENTENCES[kind]
        return lambda f, rx_t, out: self.add_from_table(spec, f, rx_t, out)
