"""What MicroPython has and CPython lacks (and the reverse), in one place.

``const`` is a no-op outside MicroPython; ``ticks_diff``/``ticks_add`` wrap like
the board's millisecond ticks on MicroPython and are plain arithmetic on CPython
(where the clock is a fake or ``time.monotonic``-based and never wraps).
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

        def ticks_diff(a, b):
            return a - b

        def ticks_add(a, b):
            return a + b

    import gc as _gc

    def mem_free():
        f = getattr(_gc, "mem_free", None)
        return f() if f is not None else 0
