"""Buzzer and LED patterns, one per board state, driven by a millisecond clock.

Each pattern is a buzzer tone (frequency in Hz, 0 = silent) with an on/off
cadence, and an LED on/off cadence. Cadences are tuples of durations in ms,
alternating on, off, on, off, ... and repeating; ``()`` means always off and
``(1,)`` always on. Every state has a pattern distinct from every other, and
"clear" is never what a board shows by default: until the host has sent a
valid alert it shows "offline".
"""

try:
    from micropython import const
except ImportError:
    from sepmon_fw.compat import const

from sepmon_fw.compat import ticks_diff

DUTY_ON = const(32768)  # 50 % of the 16-bit PWM range: loudest square wave for a piezo

# name: (tone_hz, buzzer cadence, LED cadence)
#
# Which one the board shows (first that applies; see Board.choose_pattern):
#   offline > warning > nogps > caution/advisory > degraded > clear
# offline: the host is gone, nothing the board shows about traffic is current.
# warning: sounds even with the board's own GPS silent (the host may know more).
# nogps: the board's own GPS is silent, so lower levels are stale.
# degraded: level 0, but the host says it is not really watching (flags N/L);
#   below any traffic level (an advisory is more urgent and already "not clear"),
#   above clear (which it replaces: the board never looks clear while blind).
PATTERNS = {
    # level 0: silent, short LED blip every 2 s ("alive, nothing near")
    "clear": (0, (), (50, 1950)),
    # level 1: one short low beep every 5 s, LED slow blink
    "advisory": (1000, (100, 4900), (500, 500)),
    # level 2: double beep every 2 s, LED fast blink
    "caution": (2000, (150, 150, 150, 1550), (250, 250)),
    # level 3: continuous rapid beeping, LED steady on
    "warning": (3000, (100, 100), (1,)),
    # no valid $PSEPA within its ttl (and at boot): long low tone every 3 s, LED double flash
    "offline": (440, (500, 2500), (100, 100, 100, 2700)),
    # nothing from the GPS for 3 s: short chirp every 3 s, LED 1 s on / 1 s off
    "nogps": (700, (50, 2950), (1000, 1000)),
    # level 0 with flags (own position unknown to the host, or a nearby counterpart lost):
    # two short low beeps every 10 s, LED triple blink every 4 s. Not silent, since a
    # silent board reads as "clear"; sparse, since it can last long (waiting for a fix)
    # and a nagging board gets unplugged; low pitch (between offline's 440 and nogps's
    # 700 Hz) groups it with the equipment states, apart from the traffic tones (>= 1 kHz);
    # the LED blink count tells the quiet states apart: 1 clear, 2 offline, 3 degraded.
    "degraded": (560, (80, 120, 80, 9720), (100, 200, 100, 200, 100, 3300)),
}

LEVEL_NAMES = ("clear", "advisory", "caution", "warning")
# $PSEPT,all plays these in turn
ORDER = ("clear", "advisory", "caution", "warning", "offline", "nogps", "degraded")
# ORDER as bytes, for matching a $PSEPT name in the receive buffer without allocating
ORDER_BYTES = (b"clear", b"advisory", b"caution", b"warning", b"offline", b"nogps", b"degraded")
# one-pattern self-tests, built once
SINGLES = (("clear",), ("advisory",), ("caution",), ("warning",), ("offline",), ("nogps",), ("degraded",))


def phase_on(cadence, t):
    """Whether a cadence is in an "on" segment ``t`` ms after it started."""
    k = len(cadence)
    if k == 0:
        return False
    if k == 1:
        return True
    period = 0
    for d in cadence:
        period += d
    t %= period
    i = 0
    while i < k:
        d = cadence[i]
        if t < d:
            return i % 2 == 0
        t -= d
        i += 1
    return False  # not reached


class Annunciator:
    """Drives ``hw.buzzer(freq, duty)`` and ``hw.led(on)`` from the current pattern.

    ``select(name, now)`` switches pattern (restarting its cadence); ``update(now)``
    must be called every loop step and touches the hardware only on a change.
    ``name``, ``buzzer_on`` and ``led_on`` tell what is shown right now.
    """

    def __init__(self, hw):
        self.hw = hw
        self.name = ""
        self.tone = 0
        self.bcad = ()  # type: tuple[int, ...]
        self.lcad = ()  # type: tuple[int, ...]
        self.since = 0
        self.buzzer_on = False
        self.led_on = False
        hw.buzzer(0, 0)
        hw.led(False)

    def select(self, name, now):
        if name == self.name:
            return
        p = PATTERNS[name]
        self.name = name
        self.tone = p[0]
        self.bcad = p[1]
        self.lcad = p[2]
        self.since = now

    def update(self, now):
        t = ticks_diff(now, self.since)
        if t < 0:
            t = 0
        b = self.tone > 0 and phase_on(self.bcad, t)
        if b != self.buzzer_on:
            self.buzzer_on = b
            if b:
                self.hw.buzzer(self.tone, DUTY_ON)
            else:
                self.hw.buzzer(0, 0)
        led = phase_on(self.lcad, t)
        if led != self.led_on:
            self.led_on = led
            self.hw.led(led)
