"""Chat text, CLI output and error messages are shown in the operator's terminal (the
actor windows, the status window, ``tinyclaw status`` and ``logs``). None of it may
drive that terminal: an escape sequence in a message is shown as text, never obeyed."""

from __future__ import annotations

import json
import logging
import time
from io import StringIO

from rich.console import Console

from tests.launcher.conftest import claimed, run_tinyclaw, write_config
from tinyclaw.config import load_config
from tinyclaw.core.events import EventLog
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.logsetup import setup_logging
from tinyclaw.core.messages import Inbound, Reply, Sender
from tinyclaw.launcher.dashboard import render
from tinyclaw.launcher.status import collect, format_status
from tinyclaw.launcher.watch import ActorWatch
from tinyclaw.runners.live_log import live_path
from tinyclaw.spool import Spool

# Retitles the window (OSC 0 … BEL), then clears the screen (CSI 2 J); C1 CSI too.
ATTACK = "hello \x1b]0;pwned\x07 \x1b[2J bye \x9b2J"


def assert_harmless(output: str) -> None:
    assert "\x1b]" not in output, "an OSC sequence reached the terminal"
    assert "\x07" not in output
    assert "\x1b[2J" not in output
    assert "\x9b" not in output
    assert "\\x1b]0;pwned\\x07" in output, "the attack is not shown as text"


def test_the_actor_window_shows_an_escape_sequence_as_text(home: Home) -> None:
    write_config(home)
    config = load_config(home)
    message = claimed(home, "coder", ATTACK, sender="Mallory \x1b[31m")
    path = live_path(home, "coder")
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [
        {"ts": 1.0, "kind": "task.start", "id": message.id, "text": ATTACK, "sender": "x\x1b[2J"},
        {"ts": 1.1, "kind": "command", "text": f"echo '{ATTACK}'", "data": {}},
        {"ts": 1.2, "kind": "file_change", "text": f"Edit {ATTACK}.py", "data": {}},
        {"ts": 1.3, "kind": "text", "text": ATTACK, "data": {}},
        {"ts": 1.4, "kind": "result", "text": ATTACK, "data": {}},
        {"ts": 1.5, "kind": "error", "text": ATTACK, "data": {}},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    EventLog(home.logs / "events.jsonl").emit("run.end", id="m", actor="coder", error=ATTACK)
    Spool(home).put_reply(
        Reply(id="r1", in_reply_to="r1", channel="operator", chat_id="coder", text=ATTACK)
    )

    for color in (False, True):
        out = StringIO()
        watch = ActorWatch(home, config, "coder", out=out, color=color, user="ada")
        watch.emit(watch.header())
        watch.emit(watch.poll())
        watch.send(ATTACK)
        assert_harmless(out.getvalue())
        if color:  # our own colours still work
            assert "\x1b[36m" in out.getvalue()


def test_the_dashboard_and_status_show_an_escape_sequence_as_text(home: Home) -> None:
    write_config(home)
    spool = Spool(home)
    running = claimed(home, "coder", ATTACK, sender="Mallory \x1b[31m")
    EventLog(home.logs / "events.jsonl", clock=lambda: time.time() - 5).emit(
        "run.start", id=running.id, actor="coder", conversation="telegram:42"
    )
    EventLog(home.logs / "events.jsonl").emit(
        "run.end", id="old", actor="reviewer", ok=False, error=ATTACK + " [/bold] [red]x"
    )
    broken = spool.put(
        Inbound(id=unique_name(), channel="cli", chat_id="x", sender=Sender(id="o"), text="t")
    )
    assert broken is not None
    spool.fail(broken, f"routing failed: {ATTACK} [/]")
    snap = collect(home, load_config(home), session="tinyclaw", session_running=True)

    out = StringIO()
    Console(file=out, width=200, force_terminal=True, color_system="standard").print(render(snap))

    drawn = out.getvalue()
    assert_harmless(drawn)
    assert "[/bold] [red]x" in drawn  # markup in data is shown, not obeyed (nor a crash)
    assert_harmless(format_status(snap))


def test_logs_never_carry_an_escape_sequence(home: Home) -> None:
    setup_logging(home.logs, "safety", stderr=False)
    root = logging.getLogger()
    try:
        logging.getLogger("tinyclaw.test").warning("routing failed for %r: %s", "x", ATTACK)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()

    written = (home.logs / "safety.log").read_text()
    assert_harmless(written)
    shown = run_tinyclaw("logs", "safety")
    assert_harmless(shown.stdout)
