"""Bytes from a source → fixes: framing, TAG blocks, checksum/type filter, epoch assembly.

One :class:`NmeaIngest` per byte stream.  A stream may carry several sources: a line
with a TAG block ``s:`` belongs to that source, every other line to the stream's
default source; each source has its own :class:`~sepmon.core.epoch.EpochAssembler` and
:class:`SourceStats`.  Framing rejections (before a source is known) are counted on
the default source.

Every line read is counted exactly once in its source's stats::

    lines == sum(rejected.values()) + ignored + proprietary + used + unused
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Callable
from itertools import accumulate
from operator import xor

import numpy as np

from sepmon.core.epoch import UNUSED, USED, EpochAssembler, Handler
from sepmon.core.framing import LineFramer
from sepmon.core.model import Fix, SourceStats
from sepmon.core.nmea import _USED_B, HEX2, Reject, parse_line
from sepmon.core.tagblock import _MS_THRESHOLD, parse_tag_block

log = logging.getLogger(__name__)

# The fast path: one whole physical line of the shape every recording and TAG relay
# writes, ``\\c:<digits>,s:<name>*hh\\$<addr>,<fields>*hh`` (TAG fields in either order),
# printable ASCII, no other start character, TAG or checksum character anywhere, with
# its terminator.  Such a line is one sentence to the framer, and parse_tag_block +
# parse_line would accept or reject it exactly as the inline code in NmeaIngest._block
# does (test_ingest_fast.py holds the two paths to that).  Anything else takes the
# full path.  The pattern is run over a block of whole lines, so it only starts right
# after a terminator (or at the start) and ends with one.
_PRINT = rb"\x20\x22\x23\x25-\x29\x2b-\x5b\x5d-\x7e"  # printable ASCII but $ ! * \\
_NAME = rb"[\x20\x22\x23\x25-\x29\x2b\x2d-\x39\x3b-\x5b\x5d-\x7e]+"  # and not , or :
_FAST = (
    rb"\\(?:c:([0-9]{1,18}),s:(" + _NAME + rb")|s:(" + _NAME + rb"),c:([0-9]{1,18}))"
    rb"\*([0-9A-Fa-f]{2})\\\$([A-OQ-Z0-9][A-Z0-9]{4}),([" + _PRINT + rb"]*)\*([0-9A-Fa-f]{2})"
    rb"(\r\n|\r|\n)"
)
_FAST_LINE = re.compile(rb"(?<![^\r\n])" + _FAST)  # at the start of a physical line
# What NmeaIngest._block runs: a fast line, or any other whole line (all groups empty but
# the last).  findall over a block of whole lines then hands over every line in order,
# so a line's start is the previous one's end: no match objects, no method calls.
_LINES = re.compile(rb"(?<![^\r\n])(?:" + _FAST + rb"|([^\r\n]*(?:\r\n|\r|\n)))")
# A plain sentence line of the fast shape without a TAG block (what a live link sends):
# the framer hands it on whole, and _line takes it on the default source with the
# caller's rx_t.  Tried only on the lines _LINES hands over as "other".
_PLAIN_LINE = re.compile(rb"\$([A-OQ-Z0-9][A-Z0-9]{4}),([" + _PRINT + rb"]*)\*([0-9A-Fa-f]{2})(?:\r\n|\r|\n)")
# Bytes of a fast line besides the TAG time, the name and the fields:
# "\\" "c:" ",s:" "*hh\\" "$" <addr> "," "*hh".
_FAST_FIXED = 20
_U64_8, _U64_16, _U64_32, _U64_56 = (np.uint64(k) for k in (8, 16, 32, 56))
_BYTES_OF_U64 = np.uint64(0x0101010101010101)


def _ignore(fields: list[str], rx_t: float | None, out: list[Fix]) -> str:
    """Stands for a sentence type we do not use in the fast path's handler tables."""
    raise AssertionError("never called")


_IGNORE: Handler = _ignore


def _gsa(fields: list[str], rx_t: float | None, out: list[Fix]) -> str:
    """Stands for GSA in the fast path's handler tables: the assembler's gsa_line takes it."""
    raise AssertionError("never called")


_GSA: Handler = _gsa
_PIECE = 1 << 15
_SMALL = 256  # below this many bytes prefix_xor does without numpy
# Checksum value → its uppercase hex digits.  The fast paths compare the given digits to
# these first (no hashing of a new 2-byte object, as a HEX2 look-up does) and consult
# HEX2 only when they differ (lowercase or mixed case, or a wrong checksum).
_HEX_UPPER: tuple[bytes, ...] = tuple(b"%02X" % v for v in range(256))
_MAX_IGNORED_ADDRS = 64


def prefix_xor(data: bytes) -> bytes:
    """``out[i]`` = XOR of ``data[0..i]``: every checksum of ``data`` from two look-ups.

    The XOR of ``data[a:b]`` (a > 0) is ``out[b - 1] ^ out[a - 1]``.  Computed on 64-bit
    words, about 3x faster than numpy's byte-wise ``bitwise_xor.accumulate``: the
    prefix within each little-endian word by three shift-XORs, then the XOR of all the
    words before it (a byte-wise accumulate over an eighth of the data) spread onto
    each of its bytes.
    """
    n = len(data)
    if n < _SMALL:
        # A read of a line or two (a live link): numpy's per-call overhead (~10 us) is
        # more than the running XOR in C through accumulate costs below _SMALL bytes.
        return bytes(accumulate(data, xor))
    w = np.frombuffer(data + bytes(-n % 8), dtype=np.uint64)
    w = w ^ (w << _U64_8)
    w ^= w << _U64_16
    w ^= w << _U64_32
    carry = np.bitwise_xor.accumulate((w >> _U64_56).astype(np.uint8))  # through each word
    w[1:] ^= carry[:-1].astype(np.uint64) * _BYTES_OF_U64
    return w.tobytes()[:n]


DEFAULT_MAX_LINE = 512
"""Host line bound (bytes, TAG block included, terminator excluded).  Boards drop at 120,
but receivers read directly send 400+ character lines; anything longer is junk."""


class NmeaIngest:
    """NMEA byte stream → :class:`~sepmon.core.model.Fix` list; never raises on any input."""

    def __init__(
        self,
        default_source: str,
        require_checksum: bool = True,
        max_line: int = DEFAULT_MAX_LINE,
        on_proprietary: Callable[[str, str], object] | None = None,
        trust_tags: bool = True,
        default_date: datetime.date | None = None,
    ) -> None:
        self.default_source = default_source
        # A TAG block names a source and a receive time. From a recording that is the
        # truth; from a live link it is a claim any peer could make about any vehicle,
        # so live links pass trust_tags=False: tags are checked and then ignored.
        self.trust_tags = trust_tags
        self.require_checksum = require_checksum
        self.on_proprietary = on_proprietary
        # The date of epochs that never get one (no RMC/ZDA date, no receive time).
        self.default_date = default_date
        self.stats: dict[str, SourceStats] = {}
        self._framer = LineFramer(max_line)
        self._assemblers: dict[str, tuple[EpochAssembler, SourceStats]] = {}
        self._default = self._source(default_source)
        # Fast path cache, filled only by lines whose TAG block passed every check, so its
        # size is bounded by the sources seen, never by junk: TAG name → (assembler,
        # stats, address → the assembler's handler for that sentence type).  Addresses
        # are entered only for types we use, so at most talkers x types per source.
        self._fast_sources: dict[bytes, tuple[EpochAssembler, SourceStats, dict[bytes, Handler]]] = {}
        # The same for plain lines (no TAG block): address → the default source's handler.
        self._plain_handlers: dict[bytes, Handler] = {}

    def _source(self, name: str) -> tuple[EpochAssembler, SourceStats]:
        entry = self._assemblers.get(name)
        if entry is None:
            asm = EpochAssembler(name, self.default_date)
            st = SourceStats(epochs_dropped=asm.dropped, dated_by=asm.dated_by)
            entry = (asm, st)
            self._assemblers[name] = entry
            self.stats[name] = st
        return entry

    def feed(self, data: bytes, rx_t: float | None = None) -> list[Fix]:
        """Take the next bytes of the stream; return the fixes they complete.

        ``rx_t`` is the host receive time of ``data`` (unix seconds), used when a line
        has no TAG ``c:`` time.
        """
        out: list[Fix] = []
        block = self._framer.complete(data)
        # Big reads are taken in pieces of whole lines of about _PIECE bytes: the piece,
        # its prefix XOR and what is made from them then stay in the CPU cache.
        n = len(block)
        i = 0
        while i < n:
            cut = block.find(b"\n", i + _PIECE) + 1 or n
            self._block(block[i:cut] if i or cut < n else block, rx_t, out)
            i = cut
        self._framing_counts()
        return out

    def _block(self, block: bytes, rx_t: float | None, out: list[Fix]) -> None:
        """Whole physical lines: fast-shaped ones inline, every other one through _full."""
        max_len = self._framer.max_len
        sources = self._fast_sources
        trust = self.trust_tags
        default_st = self._default[1]
        # Every checksum of the block from one prefix XOR, computed by numpy in one pass:
        # x[i] is the XOR of block[0..i], so the XOR of block[a:b] is x[b - 1] ^ x[a - 1].
        # Looked up as bytes (plain ints, no numpy scalars), two indexings per checksum
        # replace a loop (or a big-integer fold) over each line's bytes.
        x = prefix_xor(block)
        pos = 0
        for c, name, name2, c2, tag_ck, addr, body, ck, term, other in _LINES.findall(block):
            start = pos
            if other:
                pos += len(other)
                plain = _PLAIN_LINE.fullmatch(other)
                if plain is None or not self._plain(plain, start, x, rx_t, out):
                    self._full(other, rx_t, out)
                continue
            if not c:
                c, name = c2, name2
            star = start + 6 + len(c) + len(name)  # the TAG block's "*"
            end = star + 11 + len(body)  # the sentence's "*"
            pos = end + 3 + len(term)
            if end + 3 - start > max_len:
                self._full(block[start:pos], rx_t, out)  # over-long: the framer counts it
                continue
            v = x[star - 1] ^ x[start]
            if tag_ck != _HEX_UPPER[v] and HEX2[tag_ck] != v:
                default_st.lines += 1
                default_st.rejected[Reject.CHECKSUM] += 1
                continue
            entry = sources.get(name)
            if entry is None:
                entry = self._fast_source(name)
            asm, st, handlers = entry
            st.lines += 1
            handler = handlers.get(addr)
            if handler is None:
                handler = self._fast_handler(asm, handlers, addr)
            if handler is _IGNORE:
                st.ignored += 1  # the sentence checksum is not checked, as in parse_line
                continue
            # The sentence checksum covers <addr>,<fields>: from star + 5 to its own "*".
            v = x[end - 1] ^ x[star + 4]
            if ck != _HEX_UPPER[v] and HEX2[ck] != v:
                st.rejected[Reject.CHECKSUM] += 1
                continue
            if trust:
                t = float(c)
                line_rx_t: float | None = t / 1000.0 if t > _MS_THRESHOLD else t
            else:
                line_rx_t = rx_t
            n = len(out)
            if handler is _GSA:  # usually late: then its fix type alone is read, from the bytes
                status = asm.gsa_line(body, line_rx_t, out)
            else:
                status = handler(body.decode("ascii").split(","), line_rx_t, out)
            if len(out) != n:
                st.fixes += len(out) - n
            if status == USED:
                st.used += 1
            elif status == UNUSED:
                st.unused += 1
            else:
                st.rejected[status] += 1
        if pos < len(block):
            self._full(block[pos:], rx_t, out)

    def _plain(self, m: re.Match[bytes], start: int, x: bytes, rx_t: float | None, out: list[Fix]) -> bool:
        """A :data:`_PLAIN_LINE` at ``start`` of the block (``x``: its prefix XOR), as _line takes it.

        False (nothing counted) for an over-long line: the framer counts that one.
        """
        addr, body, ck = m.groups()
        end = start + 7 + len(body)  # the sentence's "*"
        if end - start + 3 > self._framer.max_len:
            return False
        asm, st = self._default
        st.lines += 1
        handler = self._plain_handlers.get(addr)
        if handler is None:
            handler = self._fast_handler(asm, self._plain_handlers, addr)
        if handler is _IGNORE:
            st.ignored += 1  # the sentence checksum is not checked, as in parse_line
            return True
        v = x[end - 1] ^ x[start]  # <addr>,<fields>: from start + 1 to the "*"
        if ck != _HEX_UPPER[v] and HEX2[ck] != v:
            st.rejected[Reject.CHECKSUM] += 1
            return True
        n = len(out)
        if handler is _GSA:
            status = asm.gsa_line(body, rx_t, out)
        else:
            status = handler(body.decode("ascii").split(","), rx_t, out)
        st.fixes += len(out) - n
        if status == USED:
            st.used += 1
        elif status == UNUSED:
            st.unused += 1
        else:
            st.rejected[status] += 1
        return True

    def _full(self, lines: bytes, rx_t: float | None, out: list[Fix]) -> None:
        """Whole physical lines through the framer and :meth:`_line`, one by one."""
        framer = self._framer
        for piece in lines.splitlines():
            if piece:
                sentences: list[bytes] = []
                framer.sentences(piece, sentences)
                for line in sentences:
                    self._line(line, rx_t, out)

    def _fast_handler(self, asm: EpochAssembler, handlers: dict[bytes, Handler], addr: bytes) -> Handler:
        """The handler for a new address of a source: the assembler's, _GSA or _IGNORE.

        Types we do not use are remembered only while the table is small: it must stay
        bounded whatever addresses junk (with a valid TAG block) makes up.
        """
        kind = addr[2:]
        if kind == b"GSA":
            handlers[addr] = _GSA
            return _GSA
        if kind in _USED_B:
            handler = handlers[addr] = asm.handler(kind.decode("ascii"))
            return handler
        if len(handlers) < _MAX_IGNORED_ADDRS:
            handlers[addr] = _IGNORE
        return _IGNORE

    def _fast_source(self, name: bytes) -> tuple[EpochAssembler, SourceStats, dict[bytes, Handler]]:
        asm, st = self._source(name.decode("ascii")) if self.trust_tags else self._default
        entry: tuple[EpochAssembler, SourceStats, dict[bytes, Handler]] = (asm, st, {})
        self._fast_sources[name] = entry
        return entry

    def flush(self) -> list[Fix]:
        """End of stream: the unterminated last line and every open epoch."""
        out: list[Fix] = []
        for line in self._framer.flush():
            self._line(line, None, out)
        self._framing_counts()
        for asm, st in self._assemblers.values():
            n = len(out)
            asm.flush(out)
            st.fixes += len(out) - n
        return out

    def _framing_counts(self) -> None:
        counts = self._framer.counts
        if counts:
            st = self._default[1]
            st.lines += counts.total()
            st.rejected.update(counts)
            counts.clear()

    def _line(self, line: bytes, rx_t: float | None, out: list[Fix]) -> None:
        asm, st = self._default
        source = self.default_source
        if line[0] == 0x5C:  # "\\": a TAG block
            tagged = parse_tag_block(line, self.require_checksum)
            if isinstance(tagged, Reject):
                st.lines += 1
                st.rejected[tagged] += 1
                return
            tags, line = tagged
            if self.trust_tags:
                if tags.source is not None and tags.source != source:
                    source = tags.source
                    asm, st = self._source(source)
                if tags.rx_t is not None:
                    rx_t = tags.rx_t
        st.lines += 1
        s = parse_line(line, self.require_checksum)
        if isinstance(s, Reject):
            if s is Reject.IGNORED:
                st.ignored += 1
            else:
                st.rejected[s] += 1
            return
        if s[0] == "PSEP":
            st.proprietary += 1
            if self.on_proprietary is not None:
                try:
                    self.on_proprietary(source, line.decode("ascii"))
                except Exception:  # a decoder bug must not stop the positions flowing
                    st.callback_errors += 1
                    log.exception("on_proprietary failed for %s", source)
            return
        n = len(out)
        status = asm.add(s, rx_t, out)
        st.fixes += len(out) - n
        if isinstance(status, Reject):
            st.rejected[status] += 1
        elif status == USED:
            st.used += 1
        else:
            st.unused += 1
