"""sepmon board firmware: pure logic, no ``machine`` import.

Runs unchanged under MicroPython (the board) and CPython (tests, the host's
virtual board). Hardware access goes through one object, see ``hal``.
"""

FW_VERSION = "0.1.0"
PROTO_VERSION = 1
