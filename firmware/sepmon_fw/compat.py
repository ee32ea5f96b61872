"""What MicroPython has and CPython lacks (and the reverse), in one place.

``const`` is a no-op outside MicroPython. ``ticks_diff``/``ticks_add`` are
MicroPython's own where they exist; on CPython they are the same arithmetic
(ticks wrap at 2**30 ms, about 12.4 days, as on every MicroPython port), so a
scenario that runs the clock past the wrap behaves identically in both.
The ``TYPE_CHECKING`` branch is what the type checker sees (plain ints for
ticks); it never runs.
"""

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

    def const(x: Any) -> Any: ...
    def ticks_diff(a: int, b: int) -> int: ...
    def ticks_add(a: int, b: int) -> int: ...
    def mem_free() -> int: ...

else:
    try:
        from micropython import const
    except ImportError:

        def const(x):
            return x

    try:
        from time import ticks_add, ticks_diff
    except ImportError:
        # MicroPython's TICKS_PERIOD (py/mphal ticks: MICROPY_PY_TIME_TICKS_PERIOD = 2**30)
        _MASK = 0x3FFFFFFF
        _HALF = 0x20000000

        def ticks_diff(a, b):
            return ((a - b + _HALF) & _MASK) - _HALF

        def ticks_add(a, b):
            return (a + b) & _MASK

    import gc as _gc

    def mem_free():
        f = getattr(_gc, "mem_free", None)
        return f() if f is not None else 0
