"""NMEA 0183 checksums and framing, shared by every host module that reads or writes sentences.

Written by hand because it is four lines and sits on the hot path; pynmea2's own
checksum code works on str only and allocates more.
"""

from __future__ import annotations


def nmea_checksum(body: str | bytes) -> int:
    """XOR of every byte between ``$``/``!`` and ``*`` (the body passed without them)."""
    data = body.encode("ascii", "replace") if isinstance(body, str) else body
    c = 0
    for b in data:
        c ^= b
    return c


def frame_sentence(body: str) -> str:
    """``GPGGA,...`` → ``$GPGGA,...*hh`` (no line terminator)."""
    return f"${body}*{nmea_checksum(body):02X}"


def frame_line(body: str) -> bytes:
    """``GPGGA,...`` → ``b"$GPGGA,...*hh\\r\\n"``, ready for a wire."""
    return (frame_sentence(body) + "\r\n").encode("ascii")


def split_checksum(sentence: str) -> tuple[str, str | None]:
    """``$BODY*hh`` → (``BODY``, ``hh``); (``BODY``, None) when no checksum is present."""
    start = 1 if sentence[:1] in ("$", "!") else 0
    star = sentence.rfind("*")
    if star < 0:
        return sentence[start:], None
    return sentence[start:star], sentence[star + 1 :]


def checksum_ok(sentence: str) -> bool:
    """True when ``sentence`` carries a two-hex-digit checksum (either case) that matches."""
    body, given = split_checksum(sentence)
    if given is None or len(given) != 2 or not all(c in "0123456789abcdefABCDEF" for c in given):
        return False  # int(.., 16) alone would take "+f", " f" or "_f"
    try:
        return int(given, 16) == nmea_checksum(body)
    except ValueError:
        return False
