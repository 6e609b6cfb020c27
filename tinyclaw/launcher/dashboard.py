"""``tinyclaw dashboard``: the status window — queues, actors, conversations, failures.

A rich ``Live`` display redrawn in place once a second (``auto_refresh`` off, so
nothing renders between snapshots). Each snapshot reads a handful of small files and
only the bytes appended to the event log since the last one, which keeps an idle
dashboard near zero CPU. The data is :func:`tinyclaw.launcher.status.collect`, the
same that ``tinyclaw status`` prints.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tinyclaw.config import Config
from tinyclaw.core import Home, printable, touch_ready
from tinyclaw.launcher.components import plan
from tinyclaw.launcher.queue_view import SharedQueue
from tinyclaw.launcher.render import clock, money
from tinyclaw.launcher.status import RecentEvents, Snapshot, collect, duration

PHASE_STYLE = {
    "ready": "green",
    "starting": "yellow",
    "connecting": "yellow",
    "backoff": "red",
    "gave_up": "bold red",
    "stopped": "dim",
    "not started": "dim",
    "outside tmux": "cyan",
}


def _plain(value: object, style: str = "") -> Text:
    """A cell from data we do not control (chat text, chat ids, error messages): a
    ``Text``, so rich reads no markup in it (``[red]`` stays text, a stray ``[/x]`` cannot
    crash the window), with control characters made visible (no escape sequences reach
    the terminal: rich itself strips only BEL, BS, VT, FF and CR)."""
    return Text(printable(str(value)), style=style)


def _components(snap: Snapshot) -> Table:
    table = Table(title="components", title_justify="left", expand=False, box=None)
    for column in ("window", "kind", "state", "pid", "up", "restarts", "note"):
        table.add_column(column, no_wrap=column != "note")
    for c in snap.components:
        phase = c.phase if c.running or c.phase in ("backoff", "gave_up") else "stopped"
        table.add_row(
            _plain(c.window),
            c.kind,
            _plain(phase, PHASE_STYLE.get(phase, "")),
            str(c.pid or ""),
            duration(snap.now - c.since) if c.since and c.running else "",
            str(c.restarts or ""),
            _plain(c.message if not c.running else ""),
        )
    return table


def _queues(snap: Snapshot) -> Table:
    where = "" if snap.queue == "files" else f" (on {snap.queue})"
    table = Table(title="queues" + where, title_justify="left", box=None)
    names = ("incoming", "inboxes", "processing", "outgoing", "failed")
    if snap.queue_problem is not None:
        table.add_column("unknown")
        table.add_row(Text(snap.queue_problem, style="red"))
        return table
    for name in names:
        table.add_column(name, justify="right")
    cells = []
    for name in names:
        value = snap.depths.get(name, 0)
        style = "red" if name == "failed" and value else ("yellow" if value else "dim")
        cells.append(Text(str(value), style=style))
    table.add_row(*cells)
    return table


def _actors(snap: Snapshot) -> Table:
    table = Table(title="actors", title_justify="left", expand=False, box=None)
    for column in ("actor", "runner", "inbox", "now", "last run"):
        table.add_column(column, no_wrap=column != "now")
    for a in snap.actors:
        now: RenderableType = Text("idle", style="dim")
        if a.running is not None:
            now = _plain(f"{duration(a.running.elapsed)}  {a.running.text[:60]}", "yellow")
        last = ""
        if a.last_run:
            ok = "ok" if a.last_run.get("ok") else f"failed: {a.last_run.get('error') or '?'}"
            took = a.last_run.get("duration")
            took_text = f"{took:.1f}s" if isinstance(took, (int, float)) else "?"
            last = f"{clock(a.last_run.get('ts'))} {ok} {took_text} {money(a.last_run.get('cost'))}"
        table.add_row(_plain(f"@{a.name}"), a.runner, str(a.inbox or ""), now, _plain(last))
    return table


def _recent(events: list[dict[str, Any]]) -> Table:
    table = Table(title="recent conversations", title_justify="left", expand=False, box=None)
    for column in ("time", "actor", "chat", "what"):
        table.add_column(column, no_wrap=column != "what")
    for event in events[-8:]:
        if event.get("event") == "routed":
            what = _plain(f"queued {event.get('id', '')}", "dim")
            chat = f"{event.get('channel', '?')}:{event.get('chat', '?')}"
        else:
            took = event.get("duration")
            took_text = f"{took:.1f}s" if isinstance(took, (int, float)) else "?"
            if event.get("ok"):
                what = _plain(f"answered in {took_text} {money(event.get('cost'))}", "green")
            else:
                what = _plain(f"failed after {took_text}: {event.get('error')}", "red")
            chat = str(event.get("conversation", ""))
        table.add_row(
            clock(event.get("ts")), _plain(f"@{event.get('actor', '?')}"), _plain(chat), what
        )
    return table


def render(snap: Snapshot) -> RenderableType:
    title = Text.assemble(
        ("tinyclaw", "bold"),
        printable(f"  session {snap.session}  ·  {snap.home}  ·  {time.strftime('%H:%M:%S')}"),
    )
    parts: list[RenderableType] = [title, _components(snap), _queues(snap), _actors(snap)]
    if snap.in_flight:
        flights = Table(title="in flight", title_justify="left", box=None)
        for column in ("actor", "for", "from", "message"):
            flights.add_column(column)
        for r in snap.in_flight:
            flights.add_row(
                _plain(f"@{r.actor}"), duration(r.elapsed), _plain(r.origin), _plain(r.text[:70])
            )
        parts.append(flights)
    parts.append(_recent(snap.recent))
    failures = Text(
        f"failures: {snap.failures_count}", style="red" if snap.failures_count else "dim"
    )
    parts.append(failures)
    for f in snap.failures:
        parts.append(_plain(f"  {f.at} {f.name}: {f.reason[:160]}", "red"))
    return Group(*parts)


class Dashboard:
    def __init__(
        self,
        home: Home,
        config: Config,
        *,
        session: str,
        console: Console | None = None,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.home = home
        self.config = config
        self.session = session
        self.console = console or Console()
        self.interval = interval
        self.clock = clock
        self.events = RecentEvents(home.logs / "events.jsonl")
        self.components = plan(config)
        # A queue on NATS: one connection for every refresh, not one each.
        self.shared = SharedQueue(home, config) if config.spool.backend != "file" else None

    def snapshot(self) -> Snapshot:
        return collect(
            self.home,
            self.config,
            session=self.session,
            session_running=True,
            events=self.events,
            components=self.components,
            now=self.clock(),
            shared=self.shared,
        )

    def run(self, stop: threading.Event) -> None:
        with Live(
            render(self.snapshot()),
            console=self.console,
            auto_refresh=False,
            screen=self.console.is_terminal,
            transient=False,
        ) as live:
            touch_ready()
            while not stop.wait(self.interval):
                live.update(render(self.snapshot()), refresh=True)
        if self.shared is not None:
            self.shared.close()


def dashboard_main(home: Home, config: Config, session: str) -> int:
    from tinyclaw.core import setup_logging

    setup_logging(home.logs, "dashboard", stderr=False)
    stop = threading.Event()

    def _on_term(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _on_term)
    Dashboard(home, config, session=session).run(stop)
    return 0
