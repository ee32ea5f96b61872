"""Security properties that are not about one module: see docs/security.md.

* nothing received is ever evaluated, unpickled or run through a shell (an AST scan
  of host/sepmon and firmware/ with an allow-list that gives a reason per entry);
* only the modules that are meant to listen on the network do;
* the FLARM feed binds loopback by default and reports a wider bind once;
* ``sepmon run`` refuses a configuration others may write and a secret file others
  may read (exit 2, one line) and warns about a group-writable configuration;
* the MQTT password never reaches an event, a log record or a ``repr``.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sepmon
from sepmon.apps.configfile import load_config
from sepmon.apps.daemon import Daemon
from sepmon.apps.extensions import build_outputs
from sepmon.cli import main
from sepmon.core.config import parse_config
from sepmon.core.model import Event
from sepmon.links.sources import parse_source, parse_sources
from sepmon.outputs.flarm import FlarmOutput
from sepmon.outputs.mqtt import MqttOutput

ROOT = Path(__file__).resolve().parents[2]
HOST = Path(sepmon.__file__).resolve().parent
FIRMWARE = ROOT / "firmware"

# ---- nothing received is executed ---------------------------------------------------------

DANGEROUS_CALLS = {"eval", "exec", "compile", "__import__", "import_module", "system", "popen"}
DANGEROUS_MODULES = {"pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle", "jsonpickle"}
UNSAFE_YAML = {"load", "load_all", "unsafe_load", "unsafe_load_all", "full_load", "full_load_all"}

ALLOWED: dict[tuple[str, str], str] = {
    ("host/sepmon/apps/flashing.py", "exec"): (
        "mpremote transport .exec() of a constant string on the board being flashed; nothing received"
    ),
    ("host/sepmon/apps/flashing.py", "eval"): (
        "mpremote transport .eval() of constant expressions (sys.platform, .mpy version) on the board"
    ),
    ("host/sepmon/cli.py", "import_module"): (
        "sepmon.commands.<name> for the names pkgutil finds in our own package"
    ),
    ("firmware/main.py", "__import__"): (
        "boards.<PROFILE>, PROFILE written by `sepmon flash` or chosen from sys.platform; "
        "nothing received from the host"
    ),
    ("firmware/boot.py", "__import__"): (
        "boards.<PROFILE> to park the board with the offline pattern, PROFILE as in main.py; "
        "nothing received from the host"
    ),
}


def _sources() -> Iterator[Path]:
    yield from sorted(HOST.rglob("*.py"))
    yield from sorted(FIRMWARE.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.as_posix()


def _call_name(func: ast.expr) -> tuple[str, str]:
    """``(name, owner)`` ``eval(x)`` → ``("eval", "")``, ``os.system(c)`` → ``("system", "os")``."""
    if isinstance(func, ast.Name):
        return func.id, ""
    if isinstance(func, ast.Attribute):
        return func.attr, func.value.id if isinstance(func.value, ast.Name) else ""
    return "", ""


def findings(path: Path) -> list[tuple[str, int, str]]:
    """``(name, line, what)`` of every construct that could run or unpickle data."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[str, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in DANGEROUS_MODULES:
                    out.append((alias.name.split(".")[0], node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module.split(".")[0] in DANGEROUS_MODULES:
                out.append((node.module.split(".")[0], node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Call):
            name, owner = _call_name(node.func)
            benign = (name == "compile" and owner == "re") or (
                name in ("system", "popen") and owner not in ("os", "")
            )
            if name in DANGEROUS_CALLS and not benign:
                out.append((name, node.lineno, f"call {owner + '.' if owner else ''}{name}()"))
            if owner == "yaml" and name in UNSAFE_YAML:
                out.append(("yaml.load", node.lineno, f"call yaml.{name}() (use yaml.safe_load)"))
            for kw in node.keywords:
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    out.append(("shell=True", node.lineno, f"call {name}(shell=...)"))
    return out


def test_the_scanner_finds_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import pickle\nfrom marshal import loads\nimport yaml, os, re, subprocess\n"
        "eval(x)\nexec(y)\nyaml.load(s)\nyaml.safe_load(s)\nsubprocess.run(c, shell=True)\n"
        "subprocess.run(c, shell=False)\nos.system(c)\nre.compile('a')\n__import__(n)\n"
    )
    names = sorted(n for n, _, _ in findings(bad))
    assert names == ["__import__", "eval", "exec", "marshal", "pickle", "shell=True", "system", "yaml.load"]


def test_nothing_received_is_evaluated_unpickled_or_shelled() -> None:
    seen: set[tuple[str, str]] = set()
    bad = []
    for path in _sources():
        for name, line, what in findings(path):
            key = (_rel(path), name)
            if key in ALLOWED:
                seen.add(key)
            else:
                bad.append(f"{_rel(path)}:{line}: {what}")
    assert not bad, "not on the allow-list (add it with a reason, or remove it):\n" + "\n".join(bad)
    stale = sorted(set(ALLOWED) - seen)
    assert not stale, f"allow-list entries that no longer match anything: {stale}"


LISTENERS = {"create_server", "start_server", "create_datagram_endpoint", "bind", "listen", "serve_forever"}
LISTENING_MODULES = {"host/sepmon/links/sources.py", "host/sepmon/outputs/flarm.py"}


def test_only_the_known_modules_listen_on_the_network() -> None:
    where = set()
    for path in HOST.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in LISTENERS
            ):
                where.add(_rel(path))
    # Each of these binds 127.0.0.1 unless configured otherwise (tests below and in test_sources_network).
    assert where <= LISTENING_MODULES, where - LISTENING_MODULES


# ---- the FLARM feed's bind address --------------------------------------------------------


async def _flarm(bind: str | None) -> tuple[FlarmOutput, list[Event]]:
    table: dict[str, Any] = {"own": "alpha", "port": 0}
    if bind is not None:
        table["bind"] = bind
    [out] = build_outputs({"flarm": table})
    assert isinstance(out, FlarmOutput)
    events: list[Event] = []
    spec = parse_source("test", {"name": "quiet", "url": "udp://127.0.0.1:0"})
    daemon = Daemon(parse_config({}), [spec], outputs=[out], on_event=events.append)
    await out.start(daemon)
    return out, events


def test_flarm_feed_binds_loopback_by_default() -> None:
    async def main() -> None:
        out, events = await _flarm(None)
        assert out._server is not None
        assert {s.getsockname()[0] for s in out._server.sockets} == {"127.0.0.1"}
        assert [e.type for e in events] == ["flarm_up"]
        await out.stop()

    asyncio.run(main())


def test_flarm_feed_on_all_interfaces_is_reported_once() -> None:
    async def main() -> None:
        out, events = await _flarm("0.0.0.0")
        assert out._server is not None
        assert {s.getsockname()[0] for s in out._server.sockets} == {"0.0.0.0"}
        exposed = [e for e in events if e.type == "exposed"]
        assert len(exposed) == 1 and "0.0.0.0" in (exposed[0].detail or "")
        # Listening again after a failure does not repeat it.
        await out.stop()
        await out._open()
        assert sum(e.type == "exposed" for e in events) == 1
        await out.stop()

    asyncio.run(main())


# ---- file permissions ---------------------------------------------------------------------


def _config(tmp_path: Path, *, secret: bool, mode: int = 0o644, secret_mode: int = 0o600) -> Path:
    pw = tmp_path / "mqtt-password"
    pw.write_text("pw-9f3c1d-never-print\n")
    pw.chmod(secret_mode)
    text = '[[sources]]\nname = "alpha"\nurl = "udp://127.0.0.1:0"\n'
    if secret:
        text += f'[outputs.mqtt]\nsite = "A"\nusername = "A"\npassword_file = "{pw}"\n'
        text += "allow_plaintext_password = true\n"  # no broker here: the permissions are the point
    cfg = tmp_path / "sepmon.toml"
    cfg.write_text(text)
    cfg.chmod(mode)
    return cfg


def _run(capsys: pytest.CaptureFixture[str], cfg: Path) -> tuple[int, str, str]:
    rc = main(["run", "--config", str(cfg), "--check-config"])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("secret", [False, True])
def test_run_refuses_a_world_writable_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], secret: bool
) -> None:
    cfg = _config(tmp_path, secret=secret, mode=0o666)
    rc, out, err = _run(capsys, cfg)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "anyone may write" in err and f"chmod o-w {cfg}" in err


def test_run_warns_about_a_group_writable_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, secret=True, mode=0o664)
    rc, out, err = _run(capsys, cfg)
    assert rc == 0 and "configuration OK" in out
    assert err.count("\n") == 1 and "warning" in err and "names credentials" in err and "chmod g-w" in err
    cfg.chmod(0o640)
    rc, out, err = _run(capsys, cfg)
    assert (rc, err) == (0, "")


@pytest.mark.parametrize("secret_mode", [0o644, 0o604, 0o602])
def test_run_refuses_a_password_file_others_may_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], secret_mode: int
) -> None:
    cfg = _config(tmp_path, secret=True, secret_mode=secret_mode)
    rc, out, err = _run(capsys, cfg)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "outputs.mqtt.password_file" in err and "chmod o-rw" in err
    assert "pw-9f3c1d" not in err


def test_run_accepts_a_group_readable_password_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, secret=True, secret_mode=0o640)  # root:sepmon 0640 is the deploy layout
    rc, out, err = _run(capsys, cfg)
    assert (rc, err) == (0, "") and "configuration OK" in out


# ---- the MQTT password is never shown ------------------------------------------------------

SECRET = "pw-9f3c1d-never-print"


@contextlib.contextmanager
def _all_log_records() -> Iterator[list[str]]:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(args)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


@pytest.mark.timeout(20)
def test_the_mqtt_password_is_in_no_event_log_line_or_repr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, secret=True, mode=0o600)
    # Nobody listens on this port: the daemon's MQTT client fails, retries and reports it.
    with cfg.open("a") as fh:
        fh.write('host = "127.0.0.1"\nport = 9\nreconnect_max_s = 1\n')
    monkeypatch.setenv("SEPMON_TEST_SECRET_PW", SECRET)
    env_table = {
        "site": "B",
        "username": "B",
        "password_env": "SEPMON_TEST_SECRET_PW",
        "port": 9,
        "allow_plaintext_password": True,
    }
    events_path = tmp_path / "events.jsonl"
    with _all_log_records() as records:
        config = load_config(str(cfg))
        outputs = build_outputs(config.raw.get("outputs")) + build_outputs({"mqtt": env_table})
        mqtts = [o for o in outputs if isinstance(o, MqttOutput)]
        assert [o.opts.password for o in mqtts] == [SECRET, SECRET]  # it was read...
        specs = parse_sources(config.raw.get("sources"))
        events: list[Event] = []

        async def serve() -> None:
            d = Daemon(config, specs, events_path=events_path, on_event=events.append, outputs=outputs)
            task = asyncio.create_task(d.serve(install_signals=False))
            deadline = time.monotonic() + 5
            while sum(e.type.startswith("mqtt_") for e in events) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            d.stop()
            await asyncio.wait_for(task, 10)

        asyncio.run(serve())
        assert any(e.type.startswith("mqtt_") for e in events)  # the outputs did talk about the broker
        rc, _, _ = _run(capsys, cfg)
        assert rc == 0
    shown = [
        *(e.to_json() for e in events),
        events_path.read_text(),
        *records,
        capsys.readouterr().err,
        repr(config),
        repr(config.raw.get("outputs")),
        *(repr(o) for o in outputs),
        *(repr(o.opts) for o in mqtts),
        *(str(vars(o)) for o in mqtts),
        *(str(vars(o.session)) for o in mqtts),
    ]
    leaks = [s for s in shown if SECRET in s]
    assert not leaks, leaks
    assert os.environ["SEPMON_TEST_SECRET_PW"] == SECRET  # (the check above ran with the secret set)
