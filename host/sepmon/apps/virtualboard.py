"""A board without hardware: the firmware's own logic on a pseudo-terminal.

The host side of the pty is what the daemon opens, exactly as it would open a
board's USB serial port. GPS lines go in through ``write_gps``; the firmware
(``firmware/sepmon_fw``, imported, not copied) forwards them, sends its identity
and status, takes ``$PSEPA`` commands and drives a fake buzzer and LED whose
state tests and the demo read.

The port is published as a symlink (``link``) that survives ``close()`` then
``open()``, so a "cable pulled and replugged" keeps its name, as a udev rule would
on real hardware.

GPS injection (``$PSEPG``, docs/firmware.md) needs nothing here: the host's bytes go to
the firmware as they would over USB, and the firmware's own logic takes the mode.
``reset()`` is the board's reset button: a new firmware state, as after power-up.

Fault switch for tests: ``mute_acks = True`` drops every ``$PSEPK`` acknowledgement the
firmware sends (a board whose USB TX path is half broken, or firmware stuck between
reading commands and answering them); everything else still goes out.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
import tty
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sepmon.apps.flashing import firmware_dir


def _firmware() -> tuple[Any, Any]:
    path = str(firmware_dir())
    if path not in sys.path:
        sys.path.insert(0, path)
    from sepmon_fw.app import Board  # type: ignore[import-not-found]
    from sepmon_fw.hal import FakeHardware  # type: ignore[import-not-found]

    return Board, FakeHardware


@dataclass(frozen=True)
class BoardView:
    """What a person would see and hear on the board."""

    pattern: str
    level: int
    buzzer_hz: int
    buzzer_on: bool
    led_on: bool
    injecting: bool = False  # in GPS injection mode (the host feeds its GPS input)


class VirtualBoard:
    """One virtual board on a pty; call ``poll()`` often (every few ms) to run it."""

    def __init__(self, name: str, link: str | Path, board_id: str | None = None) -> None:
        Board, FakeHardware = _firmware()
        self.name = name
        self.link = Path(link)
        self._hw_cls = FakeHardware
        self._board_cls = Board
        self._board_id = board_id or f"v-{name}"[:32]
        self.hw = FakeHardware(board_id=self._board_id)
        self.board = Board(self.hw, profile="virtual")
        self.resets = 0
        self._t0 = time.monotonic()
        self.master = -1
        self._slave = -1
        self.dropped_out = 0
        self.mute_acks = False  # fault switch: drop outgoing $PSEPK lines
        self.muted_acks = 0
        self.open()

    @property
    def port(self) -> str:
        """The path the daemon should open."""
        return str(self.link)

    def open(self) -> None:
        """Create the pty and point the link at it (plugging the cable in)."""
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: a USB CDC port is a byte pipe
        os.set_blocking(master, False)
        self.master, self._slave = master, slave
        tmp = self.link.with_name(self.link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.link)

    def close(self) -> None:
        """Close the pty and remove the link (pulling the cable out)."""
        for fd in (self.master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self._slave = -1
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()

    def reset(self) -> None:
        """Press the reset button: the firmware starts again from power-up (offline, outside
        GPS injection mode); bytes in flight on the board's side are lost, the port stays."""
        self.hw = self._hw_cls(board_id=self._board_id)
        self.board = self._board_cls(self.hw, profile="virtual")
        self.resets += 1

    def write_gps(self, data: bytes) -> None:
        """Bytes from the GPS module's UART."""
        self.hw.gps_in(data)

    def now_ms(self) -> int:
        """The board's millisecond clock."""
        return int((time.monotonic() - self._t0) * 1000)

    def poll(self) -> None:
        """Move bytes between pty and firmware, and run firmware steps until its input is drained."""
        if self.master >= 0:
            try:
                data = os.read(self.master, 4096)
                if data:
                    self.hw.host_in(data)
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno != errno.EIO:  # EIO: nobody has the port open; nothing to read
                    raise
        for _ in range(1000):  # bounded: a step reads 64 GPS and 32 host bytes
            self.hw.now = self.now_ms()
            self.board.step(self.hw.now)
            if not self.hw.gps and not self.hw.host:
                break
        out = self.hw.take_output()
        if out and self.mute_acks and b"$PSEPK" in out:
            # The firmware writes whole lines, so the output splits cleanly into them.
            lines = out.splitlines(keepends=True)
            kept = [ln for ln in lines if not ln.startswith(b"$PSEPK")]
            self.muted_acks += len(lines) - len(kept)
            out = b"".join(kept)
        if out and self.master >= 0:
            try:
                os.write(self.master, out)
            except (BlockingIOError, OSError):
                self.dropped_out += len(out)  # a USB port nobody reads: bytes are lost, as on a board

    def view(self) -> BoardView:
        """Current pattern and annunciator state."""
        b, hw = self.board, self.hw
        return BoardView(
            pattern=b.pattern,
            level=b.level,
            buzzer_hz=hw.buzzer_freq,
            buzzer_on=hw.buzzer_duty > 0,
            led_on=hw.led_state,
            injecting=bool(b.injecting),
        )
