"""Bytes from a UART (or the USB link) → complete NMEA lines, in one preallocated buffer.

A line starts at ``$`` or ``!`` and ends at CR or LF. It is dropped (and
counted in ``dropped``) when it is longer than ``maxlen`` bytes (``$`` to the
last checksum digit), contains a byte outside printable ASCII, is cut short by
the next ``$``/``!`` (two sentences merged without a newline: both are
suspect, the first is dropped), or carries a wrong checksum. Printable text
outside a sentence (JSON lines, noise) counts as one dropped line when a
CR/LF ends it; binary frames between sentences (UBX, SiRF) are skipped
without counting.
A sentence without a checksum is passed on: whether to accept it is the
reader's decision.

Each complete line is handed to ``sink(buf, n)`` with the sentence in
``buf[0:n]`` and CR LF already written at ``buf[n:n+2]``, so the caller can
forward ``n + 2`` bytes with a single write. The buffer is reused for the next
line as soon as ``sink`` returns. Nothing is allocated per byte or per line.
A sink that returns a true value stops ``feed`` right after that line (the
board switches between its framers there: GPS injection mode); ``feed``
returns where it stopped, so the caller hands the rest to the other framer.
"""

try:
    from micropython import const
except ImportError:
    from sepmon_fw.compat import const

from sepmon_fw.nmea import CK_BAD, check

MAX_LINE = const(120)

_IDLE = const(0)  # between lines
_LINE = const(1)  # inside a sentence
_SKIP = const(2)  # discarding the rest of a bad line until CR/LF or a new start
_JUNK = const(3)  # printable bytes outside a sentence


class LineFramer:
    def __init__(self, sink, maxlen=MAX_LINE):
        self.buf = bytearray(maxlen + 2)
        self.maxlen = maxlen
        self.sink = sink
        self.n = 0
        self.state = _IDLE
        self.lines = 0
        self.dropped = 0

    def reset(self):
        self.n = 0
        self.state = _IDLE

    def feed(self, data, count, start=0):
        """Process data[start:count]; calls ``sink`` once per complete valid line.

        Returns the index after the last byte taken: ``count``, or less when ``sink``
        returned a true value (the rest is not this framer's).
        """
        buf = self.buf
        maxlen = self.maxlen
        state = self.state
        n = self.n
        i = start
        while i < count:
            b = data[i]
            i += 1
            if b == 0x24 or b == 0x21:  # $ or !
                if state == _LINE and n > 1:
                    self.dropped += 1  # merged: previous sentence never ended
                buf[0] = b
                n = 1
                state = _LINE
            elif b == 0x0D or b == 0x0A:
                if state == _LINE:
                    if n > 1 and check(buf, n) != CK_BAD:
                        buf[n] = 0x0D
                        buf[n + 1] = 0x0A
                        self.lines += 1
                        if self.sink(buf, n):
                            self.state = _IDLE
                            self.n = 0
                            return i
                    else:
                        self.dropped += 1
                elif state == _JUNK:
                    self.dropped += 1
                state = _IDLE
                n = 0
            elif 0x20 <= b <= 0x7E:
                if state == _LINE:
                    if n >= maxlen:
                        self.dropped += 1
                        state = _SKIP
                    else:
                        buf[n] = b
                        n += 1
                elif state == _IDLE:
                    state = _JUNK
            else:  # control or 8-bit byte: binary frame, NUL run, line noise
                if state == _LINE:
                    self.dropped += 1
                    state = _SKIP
                # outside a sentence binary bytes are skipped silently
        self.state = state
        self.n = n
        return i
