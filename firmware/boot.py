"""Runs on every reset and soft reset (also the raw REPL's, which skips ``main.py``).

Parks the board at once: offline pattern on buzzer and LED, watchdog fed from a
timer (see ``boards.machinehw``), until ``main.py``'s loop takes over. So a board
that is not running the loop is never silent and dark, and a watchdog started
before a soft reset never bites in the middle of a ``sepmon flash``.
"""


def _park():
    try:
        from board_profile import PROFILE  # type: ignore[import-not-found]
    except ImportError:
        import sys

        PROFILE = {"rp2": "pico", "esp32": "esp32_devkit"}.get(sys.platform, "")
    if not PROFILE:
        return
    try:
        prof = getattr(__import__("boards." + PROFILE), PROFILE)
        from boards import machinehw

        machinehw.park(prof.PROFILE)
    except Exception as e:  # boot.py must never keep the REPL from coming up
        print("sepmon boot: cannot park:", repr(e))


_park()
