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

DUTY_ON = const(32768)  # 50 % of the 16-bit PWM range: the strongest fundamental of a square wave

# Tones: all inside 2.3-4 kHz, where the small buzzers of the bill of materials resonate
# (magnetic transducers 2.3-2.7 kHz, piezo ones up to 4 kHz; hardware/README.md), so
# every state is loud. Pitch rises with urgency (equipment states 2.4-2.6 kHz, traffic
# 2.8-3.2 kHz) but steps of 100-200 Hz are hard to tell apart by ear, so what tells the
# states apart is cadence and LED: no two patterns share both (tested).
BAND_HZ = (2300, 4000)

# name: (tone_hz, buzzer cadence, LED cadence)
#
# Which one the board shows (first that applies; see Board.choose_pattern):
#   offline > warning > nogps > caution/advisory > degraded > clear (inject in GPS injection mode)
# offline: the host is gone, nothing the board shows about traffic is current.
# warning: sounds even with the board's own GPS silent (the host may know more).
# nogps: the board's own GPS is silent, so lower levels are stale.
# degraded: level 0, but the host says it is not really watching (flags N/L);
#   below any traffic level (an advisory is more urgent and already "not clear"),
#   above clear (which it replaces: the board never looks clear while blind).
PATTERNS = {
    # level 0: silent, short LED blip every 2 s ("alive, nothing near")
    "clear": (0, (), (50, 1950)),
    # level 1: one short beep every 5 s, LED slow blink
    "advisory": (2800, (100, 4900), (500, 500)),
    # level 2: double beep every 2 s, LED fast blink
    "caution": (3000, (150, 150, 150, 1550), (250, 250)),
    # level 3: continuous rapid beeping, LED steady on
    "warning": (3200, (100, 100), (1,)),
    # no valid $PSEPA within its ttl (and at boot, and whenever the loop is stopped):
    # long tone every 3 s, LED double flash
    "offline": (2400, (500, 2500), (100, 100, 100, 2700)),
    # nothing from the GPS for 3 s: short chirp every 3 s, LED 1 s on / 1 s off
    "nogps": (2600, (50, 2950), (1000, 1000)),
    # level 0 with flags (own position unknown to the host, or a nearby counterpart lost):
    # two short beeps every 10 s, LED triple blink every 4 s. Not silent, since a
    # silent board reads as "clear"; sparse, since it can last long (waiting for a fix)
    # and a nagging board gets unplugged; pitch between offline and nogps groups it with
    # the equipment states; the LED blink count tells the quiet states apart:
    # 1 clear, 2 offline, 3 degraded.
    "degraded": (2500, (80, 120, 80, 9720), (100, 200, 100, 200, 100, 3300)),
    # GPS injection mode (a desk test: the GPS input comes from the host, not the sky) at
    # level 0 with no flags, in place of "clear": a board fed a recording must never look
    # clear and idle. Three 40 ms ticks every 6 s, LED four quick flashes every 4 s (the
    # blink count again: 4 = injection). Every other pattern is shown as it is in the
    # mode, so the acknowledgements report what the host's level really does.
    "inject": (2700, (40, 60, 40, 60, 40, 5760), (100, 100, 100, 100, 100, 100, 100, 3300)),
}

LEVEL_NAMES = ("clear", "advisory", "caution", "warning")
# $PSEPT,all plays these in turn
ORDER = ("clear", "advisory", "caution", "warning", "offline", "nogps", "degraded", "inject")
# ORDER as bytes, for matching a $PSEPT name in the receive buffer without allocating
ORDER_BYTES = (b"clear", b"advisory", b"caution", b"warning", b"offline", b"nogps", b"degraded", b"inject")
# one-pattern self-tests, built once
SINGLES = (
    ("clear",),
    ("advisory",),
    ("caution",),
    ("warning",),
    ("offline",),
    ("nogps",),
    ("degraded",),
    ("inject",),
)
# name -> bytes, for writing the pattern into an acknowledgement without allocating
NAME_BYTES = {}
for _k in range(len(ORDER)):
    NAME_BYTES[ORDER[_k]] = ORDER_BYTES[_k]


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
    must be called every loop step and touches the hardware only on a change: of
    on/off, or of pitch (a new pattern whose cadence is on where the old one sounded
    gets its own tone at once, not at its next edge). ``name``, ``buzzer_on``,
    ``freq_out`` and ``led_on`` tell what is shown right now.
    """

    def __init__(self, hw):
        self.hw = hw
        self.name = ""
        self.tone = 0
        self.bcad = ()  # type: tuple[int, ...]
        self.lcad = ()  # type: tuple[int, ...]
        self.since = 0
        self.buzzer_on = False
        self.freq_out = 0  # frequency the buzzer sounds at now (0: silent)
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
        f = self.tone if b else 0
        self.buzzer_on = b
        if f != self.freq_out:
            self.freq_out = f
            if f:
                self.hw.buzzer(f, DUTY_ON)
            else:
                self.hw.buzzer(0, 0)
        led = phase_on(self.lcad, t)
        if led != self.led_on:
            self.led_on = led
            self.hw.led(led)
