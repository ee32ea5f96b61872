"""Board entry point: pick the profile, build the hardware, run the sepmon loop forever.

``board_profile.py`` (written by ``sepmon flash``) holds ``PROFILE = "<name>"``;
without it the profile is guessed from ``sys.platform``.
"""

import sys

try:
    from board_profile import PROFILE  # type: ignore[import-not-found]  # written by `sepmon flash`
except ImportError:
    PROFILE = {"rp2": "pico", "esp32": "esp32_devkit"}.get(sys.platform, "")


def main():
    if not PROFILE:
        print("sepmon: no board profile for platform", sys.platform)
        return
    prof = getattr(__import__("boards." + PROFILE), PROFILE)
    hw = prof.make_hardware()
    from sepmon_fw import app

    try:
        app.run(hw, PROFILE, idle=hw.idle)
    except KeyboardInterrupt:
        hw.park()
        print("sepmon: stopped")


main()
