"""One framed line → a sentence we use, or the reason it was not used.

The order of checks is chosen for speed and honesty:

1. start character and address field (cheap byte slicing): ``!`` lines (AIS), JSON,
   proprietary sentences other than ours, unknown and six-letter identifiers are
   ``ignored`` without paying for a checksum;
2. checksum (the shared :func:`sepmon.core.checksum.nmea_checksum`), required unless
   ``require_checksum=False`` — a present but wrong or malformed checksum is always
   rejected; lowercase hex is valid;
3. ASCII/printable check and split into fields.

Field *meaning* (is there a fix, what are the values) is interpreted by
:mod:`sepmon.core.epoch`, which converts only the fields an epoch actually uses; the field
positions come from pynmea2's sentence tables (:data:`FIELD`), so they are not
re-invented here.  We do not call ``pynmea2.parse`` itself: its regex and its own
second checksum pass cost more than everything else on the path, and by then we
already know the type and have checked the sum (the ingest must keep up with a bare
``pynmea2.parse`` loop).
"""

from __future__ import annotations

from enum import StrEnum

from pynmea2.types import talker as _talker

from sepmon.core.checksum import nmea_checksum
from sepmon.core.sentences import SENTENCES


class Reject(StrEnum):
    """Why a line did not contribute to a fix.  ``IGNORED`` is not an error."""

    CHECKSUM = "checksum"  # wrong, missing (when required) or malformed checksum
    FRAMING = "framing"  # not a sentence: binary, no start character, non-printable bytes
    OVERLONG = "overlong"  # longer than the line bound
    UNPARSABLE = "unparsable"  # right checksum but bad structure or field values
    NO_FIX = "no_fix"  # a sentence that says it carries no valid position/velocity
    IGNORED = "ignored"  # a type we do not use (GSV, TXT, AIVDM, JSON, unknown, proprietary)


Sentence = tuple[str, str, list[str]]
"""A checksum-valid sentence of a type we use: ``(kind, talker, fields)``.

``kind`` is the three-letter type (``"GGA"``), ``talker`` the two-letter talker
(``"GN"``) and ``fields`` the comma-separated data fields after the address.  For our
boards' proprietary sentences ``kind`` is ``"PSEP"`` and ``talker`` the rest of the
address (``"I"`` for ``$PSEPI``).  A plain tuple: one is built per line.
"""


# Sentence types that carry something a Fix uses: one entry each in sepmon.core.sentences.
USED_TYPES = frozenset(SENTENCES)
_USED_B = frozenset(t.encode() for t in USED_TYPES)

# Field index by name, per type, taken from pynmea2's sentence definitions.
FIELD: dict[str, dict[str, int]] = {
    name: dict(getattr(_talker, name).name_to_idx) for name in sorted(USED_TYPES)
}

# Every two-character hex string (either case) → its value: strict and fast.
_HEXDIGITS = "0123456789abcdefABCDEF"
HEX2: dict[bytes, int] = {(a + b).encode(): int(a + b, 16) for a in _HEXDIGITS for b in _HEXDIGITS}


def parse_line(line: bytes, require_checksum: bool = True) -> Sentence | Reject:
    """Classify one framed line (no TAG block, no terminator); never raises."""
    c0 = line[:1]
    if c0 != b"$":
        if c0 == b"!" or c0 == b"{":
            return Reject.IGNORED  # AIS (!AIVDM...) and JSON lines share some feeds
        return Reject.FRAMING
    comma = line.find(b",")
    star = line.rfind(b"*")
    addr = line[1 : comma if comma >= 0 else (star if star >= 0 else len(line))]
    if not addr.isalnum():
        return Reject.FRAMING
    if addr[:1] == b"P":
        if addr[:4] != b"PSEP" or len(addr) != 5:
            return Reject.IGNORED  # other manufacturers' proprietary sentences ($PUBX, $PGRME, ...)
        proprietary = True
    elif len(addr) != 5 or addr[2:] not in _USED_B:
        return Reject.IGNORED  # GSV, TXT, unknown types, six-letter identifiers
    else:
        proprietary = False
    if star < 0:
        # Our own protocol always carries a checksum, whatever the configuration.
        if require_checksum or proprietary:
            return Reject.CHECKSUM
        body = line[1:]
    else:
        given = HEX2.get(line[star + 1 :])
        if given is None or given != nmea_checksum(line[1:star]):
            return Reject.CHECKSUM
        body = line[1:star]
    if comma < 0 or (star >= 0 and comma > star):
        return Reject.UNPARSABLE  # an address without any data field
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        return Reject.FRAMING
    if not text.isprintable():
        return Reject.FRAMING
    fields = text.split(",")
    if proprietary:
        return ("PSEP", fields[0][4:], fields[1:])
    return (text[2:5], text[:2], fields[1:])
