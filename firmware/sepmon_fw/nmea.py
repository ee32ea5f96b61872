"""NMEA 0183 checksums and the ``$PSEP*`` sentences, board side.

Everything here works on a bytearray plus a length so the hot path (checksum of
a forwarded GPS line) allocates nothing. The host has its own implementation in
``sepmon.protocol``; tests check that each side accepts what the other writes.
"""

try:
    from micropython import const
except ImportError:
    from sepmon_fw.compat import const

_DOLLAR = const(0x24)  # $
_BANG = const(0x21)  # !
_STAR = const(0x2A)  # *
_COMMA = const(0x2C)
_DOT = const(0x2E)

HEX = b"0123456789ABCDEF"

# Outcome of check(): the line has a good checksum, none at all, or a wrong/malformed one.
CK_OK = const(0)
CK_NONE = const(1)
CK_BAD = const(2)


def hexval(b):
    """Value of one ASCII hex digit (either case), or -1."""
    if 0x30 <= b <= 0x39:
        return b - 0x30
    if 0x41 <= b <= 0x46:
        return b - 0x37
    if 0x61 <= b <= 0x66:
        return b - 0x57
    return -1


def xor(buf, start, end):
    """XOR of buf[start:end] (the NMEA checksum of that body)."""
    c = 0
    i = start
    while i < end:
        c ^= buf[i]
        i += 1
    return c


def check(buf, n):
    """Checksum state of the sentence in buf[0:n] (``$``/``!`` first, no CR/LF).

    ``CK_NONE`` when there is no ``*`` at n-3; ``CK_BAD`` when the two digits
    after it are not hex or do not match.
    """
    if n < 4 or buf[n - 3] != _STAR:
        return CK_NONE
    hi = hexval(buf[n - 2])
    lo = hexval(buf[n - 1])
    if hi < 0 or lo < 0:
        return CK_BAD
    if (hi << 4 | lo) != xor(buf, 1, n - 3):
        return CK_BAD
    return CK_OK


class Writer:
    """Builds one ``$BODY*hh\\r\\n`` sentence in a preallocated buffer.

    ``start(b"PSEPS")``, then ``int()``/``text()`` for each field, then ``end()``
    returns the length; the sentence is ``buf[0:length]``. Integers are written
    digit by digit, so no intermediate strings are allocated.
    """

    def __init__(self, size=128):
        self.buf = bytearray(size)
        self.n = 0

    def start(self, tag):
        b = self.buf
        b[0] = _DOLLAR
        n = 1
        for c in tag:
            b[n] = c
            n += 1
        self.n = n

    def comma(self):
        self.buf[self.n] = _COMMA
        self.n += 1

    def int(self, v):
        """Append ``,<v>`` (decimal, v >= 0; negative values are written as 0)."""
        self.comma()
        b = self.buf
        n = self.n
        if v <= 0:
            b[n] = 0x30
            self.n = n + 1
            return
        s = n
        while v:
            b[n] = 0x30 + v % 10
            v //= 10
            n += 1
        e = n - 1
        while s < e:  # digits were written least significant first
            t = b[s]
            b[s] = b[e]
            b[e] = t
            s += 1
            e -= 1
        self.n = n

    def text(self, t):
        """Append ``,<t>``; t is bytes/str of printable ASCII without ``,*$``."""
        self.comma()
        b = self.buf
        n = self.n
        if isinstance(t, str):
            t = t.encode()
        for c in t:
            b[n] = c
            n += 1
        self.n = n

    def end(self):
        b = self.buf
        n = self.n
        c = xor(b, 1, n)
        b[n] = _STAR
        b[n + 1] = HEX[c >> 4]
        b[n + 2] = HEX[c & 15]
        b[n + 3] = 0x0D
        b[n + 4] = 0x0A
        self.n = n + 5
        return self.n

    def value(self):
        """The finished sentence as bytes (allocates: for tests and rare paths)."""
        return bytes(self.buf[: self.n])


def encode_identity(w, proto, board_id, fw_version, profile):
    w.start(b"PSEPI")
    w.int(proto)
    w.text(board_id)
    w.text(fw_version)
    w.text(profile)
    return w.end()


def encode_status(w, uptime_ms, lines_fwd, lines_dropped, gps_silent_ms, mem_free):
    w.start(b"PSEPS")
    w.int(uptime_ms)
    w.int(lines_fwd)
    w.int(lines_dropped)
    w.int(gps_silent_ms)
    w.int(mem_free)
    return w.end()


def encode_ack(w, seq):
    w.start(b"PSEPK")
    w.int(seq)
    return w.end()


def _field_int(buf, s, e, empty):
    """Decimal integer in buf[s:e], an optional fraction ignored; ``empty`` if s == e; None if bad."""
    if s == e:
        return empty
    v = 0
    i = s
    while i < e and buf[i] != _DOT:
        d = buf[i] - 0x30
        if d < 0 or d > 9:
            return None
        v = v * 10 + d
        i += 1
    if i == s:
        return None
    if i < e:  # fraction: digits only, at least one
        i += 1
        if i == e:
            return None
        while i < e:
            d = buf[i] - 0x30
            if d < 0 or d > 9:
                return None
            i += 1
    return v


# Limits of the fields of $PSEPA, as the host must send them.
SEQ_MAX = const(65535)
TTL_MAX_MS = const(60000)


def decode_command(buf, n):
    """Parse a host command in buf[0:n] (no CR/LF; trailing CR/LF tolerated).

    Returns ``("A", seq, level, bearing_deg, range_m, ttl_ms)`` for ``$PSEPA``
    (bearing/range are -1 when the field is empty), ``("T", pattern)`` for
    ``$PSEPT``, or None for anything else: wrong or missing checksum, unknown
    sentence, wrong field count, a value out of range.
    """
    while n > 0 and (buf[n - 1] == 0x0A or buf[n - 1] == 0x0D):
        n -= 1
    if n < 10 or buf[0] != _DOLLAR or check(buf, n) != CK_OK:
        return None
    if not (buf[1] == 0x50 and buf[2] == 0x53 and buf[3] == 0x45 and buf[4] == 0x50 and buf[6] == _COMMA):
        return None  # not $PSEP?,
    kind = buf[5]
    end = n - 3
    # Field boundaries: starts[k]..ends[k].
    bounds = []
    s = 7
    i = 7
    while i < end:
        if buf[i] == _COMMA:
            bounds.append((s, i))
            s = i + 1
        i += 1
    bounds.append((s, end))
    if kind == 0x41:  # A
        if len(bounds) != 5:
            return None
        seq = _field_int(buf, bounds[0][0], bounds[0][1], None)
        level = _field_int(buf, bounds[1][0], bounds[1][1], None)
        bearing = _field_int(buf, bounds[2][0], bounds[2][1], -1)
        rng = _field_int(buf, bounds[3][0], bounds[3][1], -1)
        ttl = _field_int(buf, bounds[4][0], bounds[4][1], None)
        if seq is None or level is None or bearing is None or rng is None or ttl is None:
            return None
        if seq > SEQ_MAX or level > 3 or bearing > 359 or ttl < 1 or ttl > TTL_MAX_MS:
            return None
        return ("A", seq, level, bearing, rng, ttl)
    if kind == 0x54:  # T
        if len(bounds) != 1:
            return None
        s, e = bounds[0]
        if s == e:
            return None
        name = bytes(buf[s:e]).decode()
        for c in name:
            if not ("a" <= c <= "z" or c == "_"):
                return None
        return ("T", name)
    return None
