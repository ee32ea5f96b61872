"""``sepmon demo``: a simulated two-party encounter through virtual boards and the real daemon."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.live import Live

from sepmon.apps.configfile import load_config
from sepmon.apps.daemon import Daemon
from sepmon.apps.demo import default_encounter, run_demo
from sepmon.apps.virtualboard import BoardView
from sepmon.core.errors import SepmonError
from sepmon.core.model import Event
from sepmon.outputs.web import from_config as web_output
from sepmon.presentation.liveview import LiveView
from sepmon.presentation.report_text import event_line, print_summary

NAME = "demo"
WEB_DEFAULT = "127.0.0.1:8642"
HELP = "show the whole system on a simulated encounter (virtual boards, real daemon)"

# As firmware/sepmon_fw/patterns.py defines them (docs/firmware.md has the full table).
PATTERN_TEXT = {
    "clear": "[green]clear[/]     LED blip every 2 s, silent",
    "advisory": "[cyan]ADVISORY[/]  LED slow blink, a beep every 5 s",
    "caution": "[yellow]CAUTION[/]   LED fast blink, double beep every 2 s",
    "warning": "[bold red]WARNING[/]   LED steady, rapid beeping",
    "offline": "[magenta]OFFLINE[/]   LED double flash, long low tone: monitor offline",
    "nogps": "[magenta]NO GPS[/]    LED 1 s on/off, chirp every 3 s",
    "degraded": "[magenta]DEGRADED[/]  LED triple blink, two low beeps every 10 s: picture incomplete",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``sepmon demo``."""
    p.add_argument("--speed", type=float, default=4.0, help="replay speed (default 4×: about 35 s)")
    p.add_argument("--config", "-c", metavar="FILE", help="TOML configuration")
    p.add_argument("--events", metavar="OUT.jsonl", default="out/demo-events.jsonl", help="event log")
    p.add_argument("--seed", type=int, default=7, help="simulation seed")
    p.add_argument(
        "--web", metavar="[HOST:]PORT", default=WEB_DEFAULT, help=f"live web view (default {WEB_DEFAULT})"
    )
    p.add_argument("--no-web", action="store_true", help="no live web view")


def run(args: argparse.Namespace) -> int:
    """Run the demo and print the timeline, board states and a summary."""
    if not 0.1 <= args.speed <= 100:
        raise SepmonError(f"--speed must be between 0.1 and 100, got {args.speed}", status=2)
    config = load_config(args.config)
    web = None if args.no_web else web_output("web", config.raw.get("web"), args.web, config.default_rule)
    console = Console(highlight=False)
    events = Path(args.events)
    try:
        events.parent.mkdir(parents=True, exist_ok=True)
        events.unlink(missing_ok=True)
    except OSError as exc:
        raise SepmonError(f"cannot write {events}: {exc.strerror or exc}") from None
    sim = default_encounter(args.seed)
    cpa = sim.cpa
    console.print(
        f"[bold]sepmon demo[/]: {cpa.a} and {cpa.b} head-on at 60 m/s each, passing "
        f"{cpa.horizontal_m:.0f} m apart; a bystander parked 15 km away. Minima "
        f"{config.default_rule.horizontal_m:.0f} m / {config.default_rule.vertical_m:.0f} m. "
        f"Replay at {args.speed:g}×."
    )

    def on_event(ev: Event) -> None:
        if ev.type in ("level", "lost", "regained", "port_down", "board_silent", "log_error", "web_error"):
            console.print(event_line(ev), soft_wrap=True)
        elif ev.type == "web" and web is not None and web.url is not None:
            console.print(f"[bold]live web view: {web.url}[/] (open it in a browser)", soft_wrap=True)

    def on_board(t: float, name: str, view: BoardView) -> None:
        text = PATTERN_TEXT.get(view.pattern, view.pattern)
        tone = f"buzzer {view.buzzer_hz} Hz" if view.buzzer_hz else "buzzer off"
        console.print(f"    [dim]{t:5.1f} s[/] board [bold]{name:9}[/] {text}  ({tone})", soft_wrap=True)

    if console.is_terminal:
        # The live view of `sepmon run`, redrawn under the scrolling timeline.
        with Live(console=console, refresh_per_second=4, transient=True) as live:

            def refresh(daemon: Daemon) -> None:
                live.update(LiveView(daemon).render())

            result = run_demo(
                config, speed=args.speed, events_path=events, on_event=on_event, on_board=on_board,
                on_refresh=refresh, outputs=[web] if web else [],
            )  # fmt: skip
    else:
        result = run_demo(
            config, speed=args.speed, events_path=events, on_event=on_event, on_board=on_board,
            outputs=[web] if web else [],
        )  # fmt: skip
    daemon = result.daemon
    assert daemon is not None
    stats = {}
    for ing in daemon.ingests.values():
        stats.update(ing.stats)
    print_summary(console, stats, daemon.monitor.pairs)
    reached = {name for _, name, v in result.board_changes if v.pattern == "warning"}
    console.print(
        "After the recording the GPS goes silent (boards: NO GPS), then the daemon stops "
        "(boards: OFFLINE within the 3 s ttl): a board never looks clear by default."
    )
    console.print(f"boards that sounded WARNING: {', '.join(sorted(reached)) or 'none'}; events in {events}")
    return 0 if {cpa.a, cpa.b} <= reached else 1
