"""Resource bounds: a big backlog drains without re-reading the queue per message, and
one actor whose CLI hangs holds up only its own inbox.

(The 10,000-message memory figure comes from ``python -m bench.reliability backlog``;
here the same property is checked structurally, without timing anything.)
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from watchdog.events import FileOpenedEvent, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from tests.reliability.noop import NoopRunner
from tests.support.messages import message, reply_for
from tests.support.waiting import wait_for
from tests.support.worker import fake_cli_config, serving, worker_thread, write_config
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.core.messages import load_reply
from tinyclaw.spool import Spool
from tinyclaw.worker.loop import Worker

ACTORS = [f"a{n}" for n in range(4)]


class _CountOpens(FileSystemEventHandler):
    """inotify IN_OPEN of queue files, by name: how often each message file is read."""

    def __init__(self) -> None:
        self.opens: Counter[str] = Counter()
        self._lock = threading.Lock()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileOpenedEvent):
            name = Path(str(event.src_path)).name
            if name.endswith(".json"):
                with self._lock:
                    self.opens[name] += 1


@contextmanager
def counting_opens(folders: list[Path]) -> Iterator[Counter[str]]:
    counter = _CountOpens()
    observer = Observer()
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        observer.schedule(counter, str(folder), recursive=False)
    observer.start()
    try:
        yield counter.opens
    finally:
        observer.stop()
        observer.join(10)


@pytest.mark.parametrize("backlog", [500, pytest.param(2000, marks=pytest.mark.soak)])
def test_a_backlog_drains_and_each_file_is_read_a_few_times_not_per_dispatch(
    home: Home, backlog: int
) -> None:
    """500 messages already tell a dispatcher that reads each file a few times from one
    that reloads a whole inbox per decision (125 files an actor: dozens of reads each);
    the soak run repeats it with 2,000."""
    write_config(home, fake_cli_config({a: {} for a in ACTORS}))
    spool = Spool(home, durable=False)
    msgs = [message(f"@a{n % 4} backlog {n}", chat=f"c{n % 7}") for n in range(backlog)]
    for m in msgs:
        spool.put(m)
    config = load_config(home)
    watched = [spool.incoming] + [spool.inbox(a) for a in ACTORS]
    watched += [spool.processing(a) for a in ACTORS]
    worker = Worker(home, config, {"claude": NoopRunner()}, spool=spool)
    out = spool.outgoing("cli")
    with counting_opens(watched) as opens, serving(worker):
        wait_for(lambda: len(spool.list_box(out)) == len(msgs), timeout=120, what="the drain")
    replies = [load_reply(p.read_bytes()) for p in spool.list_box(out)]
    assert sorted(r.in_reply_to for r in replies) == sorted(m.id for m in msgs)
    assert all(r.text.startswith("echo: backlog ") for r in replies)
    depths = spool.depths()
    assert depths["incoming"] == depths["inboxes"] == depths["processing"] == 0
    # Routing reads a file once, dispatch reads the head once and claims what it read
    # (no second read after the claim): a dispatcher that loaded the whole inbox per
    # decision would open each file hundreds of times here.
    assert len(opens) >= len(msgs)
    assert max(opens.values()) <= 2, opens.most_common(3)


def test_a_message_routed_by_the_worker_is_not_read_back_from_the_inbox(home: Home) -> None:
    """Routing reads and validates an arriving file; the dispatch that looks at the
    inbox's head takes that message instead of reading the same bytes again."""
    spool = Spool(home, durable=False)
    arriving = spool.put(message("@a0 hello"))
    assert arriving is not None
    read = spool.load(arriving)
    routed = spool.route(arriving, "a0")
    assert routed is not None and list(spool.pending("a0")) == [routed]
    assert spool.load(routed) is read
    assert spool.load(routed) == read  # once: a second look reads the file


def test_an_actor_whose_cli_hangs_does_not_hold_up_the_others(home: Home) -> None:
    write_config(
        home,
        fake_cli_config(
            {"slow": {}, "fast": {}, "other": {}},
            env={"FAKE_CLI_SLEEP": "60", "FAKE_CLI_SLEEP_ON": "HANG"},
            concurrency=2,
        ),
    )
    spool = Spool(home)
    with worker_thread(home) as worker:
        stuck = message("@slow HANG here")
        spool.put(stuck)
        wait_for(worker.running_snapshot, what="the hanging run to start")
        others = [message(f"@{a} hello {n}") for n in range(3) for a in ("fast", "other")]
        behind = message("@slow after the hang")
        for m in [*others, behind]:
            spool.put(m)
        for m in others:
            assert reply_for(home, m).text == f"echo: {m.text.split(' ', 1)[1]}"
        # The hung actor is still running, and its own next message waits its turn. (A
        # run is retired just after its reply is written, so the others drain shortly.)
        wait_for(
            lambda: [r[0] for r in worker.running_snapshot()] == ["slow"],
            what="only the hung run to be left",
        )
        assert not spool.reply_exists("cli", behind.id)
        assert not spool.reply_exists("cli", stuck.id)
        cancel = message("/cancel", kind="command")
        spool.put(cancel)
        reply_for(home, cancel)
        assert reply_for(home, stuck).kind == "notice"
        assert reply_for(home, behind).text == "echo: after the hang"


def test_a_hung_cli_is_stopped_at_the_actors_timeout_and_the_actor_goes_on(home: Home) -> None:
    write_config(
        home,
        fake_cli_config(
            {"slow": {"timeout": 1}, "fast": {}},
            env={"FAKE_CLI_SLEEP": "60", "FAKE_CLI_SLEEP_ON": "HANG"},
        ),
    )
    spool = Spool(home)
    with worker_thread(home):
        stuck, nxt = message("@slow HANG"), message("@slow and then")
        spool.put(stuck)
        spool.put(nxt)
        error = reply_for(home, stuck)
        assert error.kind == "error" and "longer than 1 s" in error.text
        assert reply_for(home, nxt).text == "echo: and then"
