"""NMEA 0183 checksums and the ``$PSEP*`` sentences, board side.

Everything here works on a bytearray plus a length so the hot paths (checksum of
a forwarded GPS line, parsing a host command with ``parse_command``) allocate
nothing. The host has its own implementation in
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

    def int_ms(self, sec, ms):
        """Append ``,<sec * 1000 + ms>`` without computing it (0 <= ms < 1000): no long integer
        however large ``sec`` grows (MicroPython's small ints end at 2**30, 12.4 days of ms)."""
        if sec <= 0:
            self.int(ms)
            return
        self.int(sec)
        b = self.buf
        n = self.n
        b[n] = 0x30 + ms // 100
        b[n + 1] = 0x30 + ms // 10 % 10
        b[n + 2] = 0x30 + ms % 10
        self.n = n + 3

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


def encode_status(w, uptime_ms, lines_fwd, lines_dropped, gps_silent_ms, mem_free, uptime_s=0):
    """``$PSEPS``; the uptime written is ``uptime_s * 1000 + uptime_ms`` (the board passes whole
    seconds and 0-999 ms, so the sum is never computed as a long integer)."""
    w.start(b"PSEPS")
    w.int_ms(uptime_s, uptime_ms)
    w.int(lines_fwd)
    w.int(lines_dropped)
    w.int(gps_silent_ms)
    w.int(mem_free)
    return w.end()


def encode_ack(w, seq, pattern=None):
    """``$PSEPK,<seq>``; in GPS injection mode ``$PSEPK,<seq>,<pattern>`` (``pattern`` as bytes,
    the name of what the board shows once it has taken the command)."""
    w.start(b"PSEPK")
    w.int(seq)
    if pattern is not None:
        w.text(pattern)
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
INJECT_MAX_MS = const(60000)  # longest silence a $PSEPG,ON may allow before the mode ends
FLAGS_MAX = const(8)  # at most this many letters in the flags field

# Flags of $PSEPA (6th field, letters A-Z in any order; unknown letters are ignored).
FLAG_OWN_UNKNOWN = const(1)  # N: the host has no current position for this board's vehicle
FLAG_TRAFFIC_LOST = const(2)  # L: a counterpart that matters is lost

# What parse_command() found.
CMD_NONE = const(0)
CMD_ALERT = const(1)
CMD_TEST = const(2)
CMD_INJECT = const(3)


def _field_flags(buf, s, e):
    """Bitmask of the flags field buf[s:e] (``[A-Z]{0,8}``), or -1 when it is not one."""
    if e - s > FLAGS_MAX:
        return -1
    f = 0
    while s < e:
        c = buf[s]
        if c < 0x41 or c > 0x5A:
            return -1
        if c == 0x4E:  # N
            f |= FLAG_OWN_UNKNOWN
        elif c == 0x4C:  # L
            f |= FLAG_TRAFFIC_LOST
        s += 1
    return f


def parse_command(buf, n, out):
    """Parse a host command in buf[0:n] (trailing CR/LF tolerated) without allocating.

    ``out`` is a list of at least 6 ints, filled in place. Returns:

    - ``CMD_ALERT`` for ``$PSEPA,<seq>,<level>,<bearing>,<range>,<ttl>[,<flags>]``:
      ``out[0:6]`` = seq, level, bearing_deg, range_m, ttl_ms, flags (bearing
      and range -1 when empty; flags a bitmask of ``FLAG_*``, 0 when the field
      is empty or absent, as in the 5-field form of protocol 1);
    - ``CMD_TEST`` for ``$PSEPT,<name>``: the name (``[a-z_]+``) is
      ``buf[out[0]:out[1]]``; whether it is a known pattern is the caller's business;
    - ``CMD_INJECT`` for ``$PSEPG,ON,<timeout_ms>`` (enter GPS injection mode, or re-arm it;
      ``out[0]`` = timeout_ms, 1..60000, ``out[1]`` = 0), ``$PSEPG,KEEP,<timeout_ms>`` (re-arm
      only: never enters; ``out[1]`` = 1) and ``$PSEPG,OFF`` (leave it; ``out[0]`` = 0);
    - ``CMD_NONE`` for anything else: wrong or missing checksum, unknown
      sentence, wrong field count, a value out of range. ``out`` may then hold junk.
    """
    while n > 0 and (buf[n - 1] == 0x0A or buf[n - 1] == 0x0D):
        n -= 1
    if n < 10 or buf[0] != _DOLLAR or check(buf, n) != CK_OK:
        return CMD_NONE
    if not (buf[1] == 0x50 and buf[2] == 0x53 and buf[3] == 0x45 and buf[4] == 0x50 and buf[6] == _COMMA):
        return CMD_NONE  # not $PSEP?,
    kind = buf[5]
    end = n - 3
    if kind == 0x41:  # A: walk the fields, no list of boundaries
        k = 0
        s = 7
        i = 7
        while True:
            if i == end or buf[i] == _COMMA:
                if k == 5:
                    v = _field_flags(buf, s, i)
                    if v < 0:
                        return CMD_NONE
                elif k < 5:
                    v = _field_int(buf, s, i, -1 if k == 2 or k == 3 else None)
                    if v is None:
                        return CMD_NONE
                else:
                    return CMD_NONE  # too many fields
                out[k] = v
                k += 1
                if i == end:
                    break
                s = i + 1
            i += 1
        if k == 5:
            out[5] = 0  # protocol 1 without flags
        elif k != 6:
            return CMD_NONE
        if out[0] > SEQ_MAX or out[1] > 3 or out[2] > 359 or out[4] < 1 or out[4] > TTL_MAX_MS:
            return CMD_NONE
        return CMD_ALERT
    if kind == 0x54:  # T: one field, [a-z_]+
        if end == 7:
            return CMD_NONE
        i = 7
        while i < end:
            c = buf[i]
            if not (0x61 <= c <= 0x7A or c == 0x5F):
                return CMD_NONE  # also rejects a second field (comma)
            i += 1
        out[0] = 7
        out[1] = end
        return CMD_TEST
    if kind == 0x47:  # G: ON,<timeout_ms> / KEEP,<timeout_ms> / OFF
        if end == 10 and buf[7] == 0x4F and buf[8] == 0x46 and buf[9] == 0x46:  # OFF
            out[0] = 0
            out[1] = 0
            return CMD_INJECT
        if buf[7] == 0x4F and buf[8] == 0x4E and buf[9] == _COMMA:  # ON,
            s = 10
            out[1] = 0
        elif buf[7] == 0x4B and buf[8] == 0x45 and buf[9] == 0x45 and end > 11 and buf[10] == 0x50:
            if buf[11] != _COMMA:  # KEEP,
                return CMD_NONE
            s = 12
            out[1] = 1
        else:
            return CMD_NONE
        if end == s or end - s > 5:
            return CMD_NONE  # empty, or more digits than 60000 has
        v = 0
        i = s
        while i < end:  # digits only: no fraction, no third field
            d = buf[i] - 0x30
            if d < 0 or d > 9:
                return CMD_NONE
            v = v * 10 + d
            i += 1
        if v < 1 or v > INJECT_MAX_MS:
            return CMD_NONE
        out[0] = v
        return CMD_INJECT
    return CMD_NONE


def match(buf, s, e, names):
    """Index of buf[s:e] in ``names`` (a tuple of bytes), or -1; allocates nothing."""
    ln = e - s
    k = 0
    while k < len(names):  # no enumerate(): it would allocate
        name = names[k]
        if len(name) == ln:
            i = 0
            while i < ln and name[i] == buf[s + i]:
                i += 1
            if i == ln:
                return k
        k += 1
    return -1


def decode_command(buf, n):
    """:func:`parse_command` as a tuple (allocates: for tests, tools and rare paths).

    ``("A", seq, level, bearing_deg, range_m, ttl_ms, flags)`` for ``$PSEPA``
    (bearing/range -1 when empty, flags the ``FLAG_*`` bitmask), ``("T", name)``
    for ``$PSEPT``, ``("G", timeout_ms)`` for ``$PSEPG,ON`` (0: OFF), ``("K", timeout_ms)`` for
    ``$PSEPG,KEEP``, None for anything else.
    """
    out = [0, 0, 0, 0, 0, 0]
    k = parse_command(buf, n, out)
    if k == CMD_ALERT:
        return ("A", out[0], out[1], out[2], out[3], out[4], out[5])
    if k == CMD_TEST:
        return ("T", bytes(buf[out[0] : out[1]]).decode())
    if k == CMD_INJECT:
        return ("K" if out[1] else "G", out[0])
    return None
