"""Board entry point: pick the profile, build the hardware, run the sepmon loop forever.

``board_profile.py`` (written by ``sepmon flash``) holds ``PROFILE = "<name>"`` and
optionally ``GPS = "<preset>"`` (receiver set-up, ``sepmon_fw.gnss``); without it the
profile is guessed from ``sys.platform`` and the preset comes from the profile table.
Whatever stops the loop (Ctrl-C, an exception), the board is parked: it shows the
offline pattern and keeps the watchdog fed until it is reset (``boards.machinehw``).
"""

import sys

try:
    from board_profile import PROFILE  # type: ignore[import-not-found]  # written by `sepmon flash`
except ImportError:
    PROFILE = {"rp2": "pico", "esp32": "esp32_devkit"}.get(sys.platform, "")
try:
    from board_profile import GPS  # type: ignore[import-not-found]
except ImportError:
    GPS = None


def main():
    if not PROFILE:
        print("sepmon: no board profile for platform", sys.platform)
        return
    prof = getattr(__import__("boards." + PROFILE), PROFILE)
    table = prof.PROFILE
    try:
        hw = prof.make_hardware()
        from sepmon_fw import app

        gnss = table.get("gps_setup", "") if GPS is None else GPS
        app.run(hw, PROFILE, idle=hw.idle, gnss=gnss, gps_baud=table["gps_baud"])
    except KeyboardInterrupt:
        print("sepmon: stopped")
    except BaseException as e:  # never dark, whatever it was
        print("sepmon: stopped by", repr(e))
    finally:
        from boards import machinehw

        machinehw.park(table)


main()
