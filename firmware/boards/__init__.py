"""Board profiles: one module per supported board, each with a ``PROFILE`` pin table.

The profile modules import ``machine`` only inside ``make_hardware()``, so
their tables can be read anywhere (the host's flash command, tests that check
the wiring docs). ``machinehw`` is the one module that imports ``machine`` at
the top.
"""

NAMES = ("pico", "esp32_devkit", "tbeam")
