"""NMEA 4.10 TAG blocks: ``\\s:<source>,c:<time>*hh\\$GPGGA,...``.

Recordings carry one TAG block per line so that a multi-board session replays with
its original sources and timing.  Reading: fields in any order, ``s:`` (source) and
``c:`` (receive time) used, any other tag (``n:``, ``g:``, ``d:``, ...) tolerated.
``c:`` is unix time in seconds, or in milliseconds when the value is above 1e11
(1e11 s is the year 5138, 1e11 ms is 1973, so the two cannot be confused).
The TAG block checksum (XOR of the bytes between the backslash and ``*``) is checked
under the same policy as sentence checksums.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from sepmon.core.checksum import nmea_checksum
from sepmon.core.nmea import HEX2, Reject

_MS_THRESHOLD = 1e11
# Characters that would break the framing of a line if they appeared in a source name.
_FORBIDDEN_IN_SOURCE = frozenset("\\$!*,\r\n")


class TagBlock(NamedTuple):
    """The TAG fields we use; None when absent."""

    source: str | None
    rx_t: float | None


def parse_tag_block(line: bytes, require_checksum: bool = True) -> tuple[TagBlock, bytes] | Reject:
    """``\\tags*hh\\SENTENCE`` → (tags, ``SENTENCE``), or why the line is rejected.

    A line that does not start with a backslash is returned unchanged with empty tags.
    Never raises.
    """
    if line[:1] != b"\\":
        return TagBlock(None, None), line
    end = line.find(b"\\", 1)
    if end < 0:
        return Reject.FRAMING
    tag = line[1:end]
    star = tag.rfind(b"*")
    if star < 0:
        if require_checksum:
            return Reject.CHECKSUM
        content = tag
    else:
        given = HEX2.get(tag[star + 1 :])
        content = tag[:star]
        if given is None or given != nmea_checksum(content):
            return Reject.CHECKSUM
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        return Reject.FRAMING
    if not text.isprintable():
        return Reject.FRAMING
    source: str | None = None
    rx_t: float | None = None
    for item in text.split(","):
        key, sep, value = item.partition(":")
        if not sep or not key:
            return Reject.UNPARSABLE
        if key == "s":
            source = value or None
        elif key == "c":
            try:
                t = float(value)
            except ValueError:
                return Reject.UNPARSABLE
            if not math.isfinite(t) or t < 0:
                return Reject.UNPARSABLE
            rx_t = t / 1000.0 if t > _MS_THRESHOLD else t
    return TagBlock(source, rx_t), line[end + 1 :]


def format_tag_block(source: str, rx_t: float | None) -> str:
    """The TAG block to put in front of a sentence: ``\\c:<ms>,s:<source>*hh\\``.

    ``c:`` is written as integer milliseconds so 10 Hz data keeps its timing (the
    reader tells seconds from milliseconds by magnitude); it is left out when
    ``rx_t`` is None.  Raises ValueError for a source name that cannot be framed, and
    for an ``rx_t`` before 1973-03-03 (its milliseconds would read back as seconds).
    """
    if not source or not source.isascii() or not source.isprintable():
        raise ValueError(f"source name {source!r} must be non-empty printable ASCII")
    if _FORBIDDEN_IN_SOURCE.intersection(source):
        raise ValueError(f"source name {source!r} must not contain any of \\ $ ! * ,")
    if rx_t is not None and not (math.isfinite(rx_t) and rx_t * 1000 > _MS_THRESHOLD):
        raise ValueError(f"rx_t {rx_t!r} is not a unix time after 1973")
    body = f"s:{source}" if rx_t is None else f"c:{round(rx_t * 1000)},s:{source}"
    return f"\\{body}*{nmea_checksum(body):02X}\\"
