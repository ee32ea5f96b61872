"""pytest plugin: hardware-in-the-loop tests of sepmon written the way ``sepmon check`` runs them.

Installed with sepmon (entry point ``pytest11``: ``sepmon``), so any project with
sepmon in its environment gets these fixtures without a conftest:

``sepmon_replayer(recording, speed=1.0, boards=False, hold=True, on_board=None)``
    A :class:`~sepmon.apps.replay.Replayer` with its ports open (``.ports``), from a
    recording file (or several), or ``{source: [(t, bytes), ...]}``; closed at teardown.
    ``boards=True`` runs the firmware's own logic on every port.
``sepmon_daemon(ports, config=None, events=None, extra_args=())``
    The real ``sepmon run`` as a child process (:class:`~sepmon.apps.daemonchild.DaemonChild`)
    on those ports, with its event log (``.events()``, ``.wait_events(pred, timeout, what)``,
    ``.wait_ports_up(ports)``), its console (``.output()``, ``.wait_output(pred, timeout)``),
    ``.terminate()`` (SIGTERM: status, stdout, stderr) and ``.kill()`` (SIGKILL, the host
    dies); ``config`` a TOML file or a mapping, ``extra_args`` more ``sepmon run``
    options (``("--web", "127.0.0.1:0")``, then ``.web_url()``).  Killed at teardown.
    In a module-scoped fixture use :class:`~sepmon.apps.daemonchild.DaemonChild` itself
    (a context manager) and :class:`~sepmon.apps.replay.Replayer`: they are what these
    fixtures return.
``sepmon_expectations(path)``
    The :class:`~sepmon.apps.check.ExpectationFile` of a recording (``X.nmea`` → ``X.check.toml``).
``sepmon_check(recording, live=False, boards=None, speed=1.0, config=None, prepare=None)``
    The whole ``sepmon check`` of one recording (or of a stand-alone expectation file,
    whose ``[check] recording`` or ``simulate`` names it): a :class:`CheckReport` with
    ``.passed``, ``.outcomes``, ``.observation`` and ``.assert_passed()``, which fails
    the test with one line per broken expectation (expected, seen, where).

Example::

    def test_session(sepmon_check):
        sepmon_check("tests/data/session.nmea", live=True, boards="virtual", speed=4).assert_passed()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sepmon.apps.check import ExpectationFile, Observation, Outcome
    from sepmon.apps.daemonchild import DaemonChild
    from sepmon.apps.replay import Replayer


@dataclass
class CheckReport:
    """One recording checked: what was expected, what the run showed, the verdicts."""

    recording: Path
    expectations: ExpectationFile
    observation: Observation
    outcomes: list[Outcome]

    @property
    def passed(self) -> bool:
        """Every expectation held (skips do not fail)."""
        return all(o.status != "fail" for o in self.outcomes)

    def failures(self) -> list[Outcome]:
        """The expectations that did not hold."""
        return [o for o in self.outcomes if o.status == "fail"]

    def explain(self) -> str:
        """One line per failure: expected, seen, where."""
        return "\n".join(f"{self.recording.name}: {o.explain()}" for o in self.failures())

    def assert_passed(self) -> None:
        """Fail the calling test with :meth:`explain` unless every expectation held."""
        if not self.passed:
            pytest.fail(f"sepmon check ({self.observation.mode}) failed:\n{self.explain()}", pytrace=False)


def _config_file(config: Any, path: Path) -> Path | None:
    """A configuration file as given, or a mapping written to ``path`` as TOML."""
    if config is None or isinstance(config, str | Path):
        return None if config is None else Path(config)
    import tomlkit

    path.write_text(tomlkit.dumps(dict(config)), encoding="utf-8")
    return path


@pytest.fixture
def sepmon_replayer(tmp_path: Path) -> Iterator[Callable[..., Replayer]]:
    """Factory of open Replayers (see the module docstring); all closed at teardown."""
    from sepmon.apps.replay import Replayer, load_recording

    made: list[Replayer] = []

    def make(
        recording: str | Path | Sequence[str | Path] | Mapping[str, Sequence[tuple[float, bytes]]],
        *,
        speed: float = 1.0,
        boards: bool = False,
        hold: bool = True,
        on_board: Callable[..., None] | None = None,
        directory: str | Path | None = None,
    ) -> Replayer:
        if isinstance(recording, Mapping):
            lines = dict(recording)
        else:
            paths = [recording] if isinstance(recording, str | Path) else list(recording)
            lines = dict(load_recording(paths).lines)
        r = Replayer(
            lines,
            directory if directory is not None else tmp_path / f"ports{len(made)}",
            speed,
            boards=boards,
            hold=hold,
            on_board=on_board,
        )
        made.append(r)
        r.open()
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def sepmon_daemon(tmp_path: Path) -> Iterator[Callable[..., DaemonChild]]:
    """Factory of ``sepmon run`` child processes (see the module docstring); killed at teardown."""
    from sepmon.apps.daemonchild import DaemonChild

    made: list[DaemonChild] = []

    def make(
        ports: Mapping[str, str],
        *,
        config: str | Path | Mapping[str, Any] | None = None,
        events: str | Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> DaemonChild:
        n = len(made)
        d = DaemonChild(
            ports,
            events if events is not None else tmp_path / f"events{n}.jsonl",
            _config_file(config, tmp_path / f"config{n}.toml"),
            extra_args=extra_args,
        )
        made.append(d)
        return d

    yield make
    for d in made:
        if d.running:
            d.kill()


@pytest.fixture
def sepmon_expectations() -> Callable[[str | Path], ExpectationFile]:
    """Loader of a recording's expectation file (give the recording or the .check.toml)."""
    from sepmon.apps.check import EXPECT_SUFFIX, expectation_path, load_expectations

    def load(path: str | Path) -> ExpectationFile:
        p = Path(path)
        return load_expectations(p if p.name.endswith(EXPECT_SUFFIX) else expectation_path(p))

    return load


@pytest.fixture
def sepmon_check(tmp_path: Path) -> Callable[..., CheckReport]:
    """Runs ``sepmon check`` on one recording and returns a :class:`CheckReport`."""
    from sepmon.apps.check import (
        case_recording,
        evaluate,
        expectation_path,
        judge_config,
        load_expectations,
        observe_offline,
        read_recorded,
    )
    from sepmon.apps.checklive import observe_live

    def check(
        recording: str | Path,
        *,
        live: bool = False,
        boards: str | Mapping[str, str] | None = None,
        speed: float = 1.0,
        config: str | Path | None = None,
        expectations: str | Path | None = None,
        prepare: Callable[[Replayer], None] | None = None,
        gps_feeds: Mapping[str, str] | None = None,
    ) -> CheckReport:
        exp = load_expectations(expectations if expectations is not None else expectation_path(recording))
        rec, simulation = case_recording(recording, exp)
        cfg = judge_config(exp, config)
        recorded = read_recorded(rec, cfg, simulation)
        if live:
            obs = observe_live(
                rec,
                cfg,
                speed=speed,
                boards=boards,
                gps_feeds=gps_feeds,
                workdir=tmp_path / f"check-{rec.stem}",
                prepare=prepare,
                recorded=recorded,
            )
        else:
            obs = observe_offline(rec, cfg, recorded)
        return CheckReport(rec, exp, obs, evaluate(exp, obs))

    return check
