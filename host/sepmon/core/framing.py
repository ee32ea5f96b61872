"""Bytes → candidate NMEA lines, robust against what real receivers put on the wire.

Rules (see docs/nmea-quirks.md for why each exists):

* A *physical line* ends at CR, LF or CRLF (mixed freely; a CRLF split across two
  reads only produces an empty line, which is skipped).
* Inside a physical line, a *sentence* starts at a start character ``$`` or ``!``,
  optionally preceded by one NMEA 4.10 TAG block ``\\...\\``, and runs to the next
  start character (``$``, ``!`` or ``\\``).  So ``...*hh$GPRMC,...`` (two sentences
  merged without a newline) yields two lines, and whatever precedes the first start
  character (a UBX/SiRF binary frame, a NUL run, the tail of a truncated sentence)
  never poisons the sentence after it.
* A run of start characters collapses to its last one: ``$$GPGGA`` → ``$GPGGA``.
* Anything after a sentence's ``*hh`` checksum is cut off (binary glued to the end of a
  line does not cost the sentence).
* A physical line whose first visible byte is ``{`` is passed through whole (JSON, e.g.
  gpsd output, which the parser counts as ignored), and so is one whose TAG block is
  followed by ``{`` (a recording of a JSON line): a ``$`` inside the JSON is text, not
  a sentence of no source.
* Bytes that belong to no sentence are dropped; a dropped run that contains anything
  other than NUL/space/tab is counted as ``framing`` (one per run).
* A sentence (including its TAG block) longer than ``max_len`` bytes, terminators
  excluded, is dropped and counted ``overlong``.  A physical line longer than
  ``16 * max_len`` is dropped whole as one ``overlong`` (this bounds memory when no
  terminator ever arrives, and keeps the result independent of read sizes).

Output lines carry no terminators and are handed on as ``bytes``; checksums and
sentence types are checked later (:mod:`sepmon.core.nmea`).
"""

from __future__ import annotations

import re
from collections import Counter

# One sentence: optional TAG block, a run of start characters, body up to the next start char.
_SEGMENT = re.compile(rb"(\\[^\\$!]*\\)?([$!]+)([^$!\\]*)")
_BLANK = b"\x00 \t"

OVERLONG = "overlong"
FRAMING = "framing"


class LineFramer:
    """Splits a byte stream into candidate sentence lines; see the module docstring.

    ``counts`` accumulates rejections by reason (``"overlong"``, ``"framing"``); the
    caller may read and clear it at any time.
    """

    __slots__ = ("_buf", "_skip", "counts", "max_len", "max_physical")

    def __init__(self, max_len: int = 512) -> None:
        if max_len < 8:
            raise ValueError("max_len must be at least 8")
        self.max_len = max_len
        self.max_physical = 16 * max_len
        self.counts: Counter[str] = Counter()
        self._buf = b""
        # True while discarding the rest of an over-long physical line.
        self._skip = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the sentence lines completed by it, in order."""
        out: list[bytes] = []
        for piece in self.physical(data):
            if piece:
                self.sentences(piece, out)
        return out

    def physical(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the physical lines it completes (some may be empty)."""
        return self.complete(data).splitlines()

    def complete(self, data: bytes) -> bytes:
        """Add ``data``; return the physical lines it completes as one block, terminators kept.

        The first half of :meth:`feed`: a caller with a fast path of its own for common
        lines passes a line on to :meth:`sentences` only when that fast path does not
        apply (:class:`sepmon.core.ingest.NmeaIngest` does).  ``b""`` when no line is complete.
        """
        if self._skip:
            i = _first_terminator(data)
            if i < 0:
                return b""
            data = data[i:]
            self._skip = False
        buf = self._buf + data if self._buf else data
        cut = max(buf.rfind(b"\n"), buf.rfind(b"\r"))
        if cut >= 0:
            self._buf = buf[cut + 1 :]
            block = buf[: cut + 1]
        else:
            self._buf = buf
            block = b""
        if len(self._buf) > self.max_physical:
            self.counts[OVERLONG] += 1
            self._buf = b""
            self._skip = True
        return block

    def flush(self) -> list[bytes]:
        """End of stream: the unterminated tail (files often lack a final newline)."""
        out: list[bytes] = []
        tail, self._buf, self._skip = self._buf, b"", False
        if tail:
            self.sentences(tail, out)
        return out

    def sentences(self, piece: bytes, out: list[bytes]) -> None:
        """Append the sentence lines of one non-empty physical line to ``out``."""
        n = len(piece)
        if n > self.max_physical:
            self.counts[OVERLONG] += 1
            return
        first = piece[0]
        # Fast paths (the vast majority of lines): one plain sentence ending in *hh,
        # optionally behind one TAG block; no other start characters anywhere.
        if first == 0x24:  # "$"
            if (
                n <= self.max_len
                and piece.find(b"*") == n - 3
                and piece.find(b"$", 1) < 0
                and piece.find(b"!") < 0
                and piece.find(b"\\") < 0
            ):
                out.append(piece)
                return
        elif first == 0x5C:  # "\"
            q = piece.find(b"\\", 1)
            if (
                q > 0
                and n <= self.max_len
                and piece.find(b"$") == q + 1
                and piece.find(b"$", q + 2) < 0
                and piece.find(b"!") < 0
                and piece.find(b"\\", q + 1) < 0
                and piece.find(b"*", q) == n - 3
            ):
                out.append(piece)
                return
        self._slow(piece, out)

    def _slow(self, piece: bytes, out: list[bytes]) -> None:
        stripped = piece.strip(_BLANK)
        if not stripped:
            return  # NUL run / blank line: padding, no data lost
        if stripped[:1] == b"{" or (
            stripped[:1] == b"\\" and stripped[stripped.find(b"\\", 1) + 1 :][:1] == b"{"
        ):  # JSON line, bare or behind a TAG block: the parser counts it as ignored
            if len(stripped) > self.max_len:
                self.counts[OVERLONG] += 1
            else:
                out.append(stripped)
            return
        pos = 0
        for m in _SEGMENT.finditer(piece):
            start, end = m.span()
            if start > pos and piece[pos:start].strip(_BLANK):
                self.counts[FRAMING] += 1
            pos = end
            if end - start > self.max_len:
                self.counts[OVERLONG] += 1
                continue
            tag, starts, body = m.group(1, 2, 3)
            star = body.find(b"*")
            if star >= 0 and len(body) > star + 3:
                if body[star + 3 :].strip(_BLANK):
                    self.counts[FRAMING] += 1
                body = body[: star + 3]
            else:
                body = body.rstrip(_BLANK)
            if not body:
                self.counts[FRAMING] += 1  # a bare "$" (or TAG block + "$") carries nothing
                continue
            sentence = starts[-1:] + body
            out.append(tag + sentence if tag else sentence)
        if pos < len(piece) and piece[pos:].strip(_BLANK):
            self.counts[FRAMING] += 1


def _first_terminator(data: bytes) -> int:
    """Index of the first CR or LF in ``data``, -1 when there is none."""
    a = data.find(b"\n")
    b = data.find(b"\r")
    if a < 0:
        return b
    if b < 0:
        return a
    return min(a, b)
