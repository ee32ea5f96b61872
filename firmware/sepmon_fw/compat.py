"""What MicroPython has and CPython lacks (and the reverse), in one place.

``const`` is a no-op outside MicroPython; ``ticks_diff``/``ticks_add`` wrap like
the board's millisecond ticks on MicroPython and are plain arithmetic on CPython
(where the clock is a fake or ``time.monotonic``-based and never wraps).
"""

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


try:
    from time import ticks_add, ticks_diff
except ImportError:

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b


try:
    import gc as _gc

    def mem_free():
        f = getattr(_gc, "mem_free", None)
        return f() if f is not None else 0
except ImportError:  # pragma: no cover - every Python has gc

    def mem_free():
        return 0
