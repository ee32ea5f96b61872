"""RestartWatch: a board's restart read from its ``$PSEPS`` lines, as ``sepmon check`` sees it.

Oracle: timelines written out here by hand.  A board sends a status every second of its own
clock with its uptime since power-up (docs/firmware.md); the host reads each after some
delay.  Each test knows when the reset button was pressed and when the host was slow, so
whether a restart happened, and from which status on it can be told, is known
independently of the code under test.
"""

from __future__ import annotations

from collections.abc import Iterable

from sepmon.apps.checklive import RestartWatch
from sepmon.boardlink.protocol import Status


def _run(reads: Iterable[tuple[float, int, int]]) -> list[float]:
    """Feed (host time read, uptime ms, lines forwarded); the restart times reported."""
    w = RestartWatch()
    seen = []
    for now, up, fwd in reads:
        at = w.status(Status(up, fwd, 0, 0, 0), now)
        if at is not None:
            seen.append(at)
    return seen


def _board(
    boot: float, first: int, n: int, delay: float = 0.05, fwd: int = 0
) -> list[tuple[float, int, int]]:
    """Statuses k = first..first+n-1 of a board powered up at host time ``boot``."""
    return [(boot + k + delay, 1000 * k, fwd) for k in range(first, first + n)]


def test_a_long_running_board_reset_is_seen_at_its_first_status() -> None:
    before = _board(0.0, 1, 60, fwd=50)
    after = _board(60.4, 1, 5)  # pressed at 60.4 s: uptime 1000 < 60000
    assert _run(before + after) == [after[0][0]]


def test_a_board_reset_soon_after_power_up_is_seen_by_its_boot_time() -> None:
    """The case that slipped through when only a falling uptime counted: the last status
    before the reset said 1001 ms, the first after it says 1001 ms too."""
    before = [(1.05, 1001, 0)]
    # pressed at 1.85 s: the new run's statuses at 1001, 2002, 3003 ms; a boot 1.85 s later
    after = [(1.85 + k + 0.05, 1000 * k + k, 0) for k in range(1, 7)]
    seen = _run(before + after)
    assert seen == [after[0][0]]  # dated from the first status of the new run
    # ... and known by the status 1.5 s of board time after it (the third here)
    w = RestartWatch()
    results = [w.status(Status(up, f, 0, 0, 0), t) for t, up, f in before + after]
    assert results.index(after[0][0]) == 3


def test_forwarded_lines_going_back_is_a_restart_even_without_uptime() -> None:
    before = _board(0.0, 1, 1, fwd=4)
    after = [(1.3, 1000, 0)]  # reset 0.25 s after its first status: 1000 ms is not below 1000
    assert _run(before + after) == [1.3]


def test_a_host_that_stalls_and_reads_a_backlog_at_once_sees_no_restart() -> None:
    """Host thread frozen 6.5 s: six statuses wait in the port and are read together, the
    last of them still 1.45 s late (as late as a reset 1.45 s after power-up would look)."""
    reads = _board(0.0, 1, 10)
    stall = [(17.5, 1000 * k, 0) for k in range(11, 17)]  # sent at 11..16 s, all read at 17.5 s
    reads += stall + _board(0.0, 17, 10)
    assert _run(reads) == []


def test_reads_up_to_the_slack_late_are_not_a_restart() -> None:
    """A host that falls 0.95 s behind the board after 5 s and stays there."""
    reads = [(k + (0.95 if k >= 5 else 0.0), 1000 * k, k) for k in range(1, 60)]
    assert _run(reads) == []


def test_a_board_in_a_reset_loop_is_seen() -> None:
    """A brown-out loop: the board restarts 2.5 s after each power-up, never reaching a
    larger uptime than 2 s, so a falling uptime alone never shows it."""
    reads: list[tuple[float, int, int]] = []
    for cycle in range(4):
        reads += _board(2.5 * cycle, 1, 2)
    seen = _run(reads)
    assert seen and seen[0] == reads[2][0]
