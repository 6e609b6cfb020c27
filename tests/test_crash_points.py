"""A process killed (SIGKILL) at every named crash point loses nothing and doubles nothing.

``tinyclaw/core/failpoints.py`` lets a process kill itself at a named step, the way a power
cut or the OOM killer would. :data:`CRASHES` is the one list of those steps: for each
it names how a message gets there and who dies (a writer in the middle of ``put``, or
a ``tinyclaw worker`` process). After the kill the writer, never having seen ``put``
return, delivers the same message again (as a platform redelivers an unacknowledged
update); then a worker starts, recovers and serves until the queue is drained.

Whatever the step, the spool ends in the same place: the message is answered exactly
once, or it is in ``failed/`` with its reason (never both, never neither); no box holds
it any more, no temporary file or saved run result is left, and the CLI ran no more
often than the story needs. ``test_every_failpoint_in_the_code_is_crashed_here`` reads
the package for ``failpoint(...)`` calls, so a new point without a crash test fails.

The restart is taken to come after ``STALE_TMP_SECONDS``: the worker only removes a
lone temporary file of that age (a younger one may be a live writer's), so the test
ages ``queue/tmp/`` before each worker starts instead of waiting ten minutes.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from tests.support.messages import message
from tests.support.waiting import wait_for
from tests.support.worker import fake_cli_config, start_worker_process, worker_thread, write_config
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, load_reply
from tinyclaw.costs import CostLedger
from tinyclaw.spool import REASON_SUFFIX, STALE_TMP_SECONDS, Spool
from tinyclaw.worker.journal import RunJournal

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "tinyclaw"
ACTOR = "assistant"  # fake_cli_config's default actor
DEDUPE_KEY = "chat1:42"

# -- how a message reaches the step, and who dies there ------------------------------

PUT_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tinyclaw.core.home import Home
    from tinyclaw.core.messages import Inbound
    from tinyclaw.spool import Spool
    message = Inbound.model_validate_json(sys.argv[2])
    Spool(Home(Path(sys.argv[1]))).put(message, dedupe_key=sys.argv[3] or None)
    """
)


def killed_at(proc: subprocess.Popen[bytes], point: str) -> None:
    code = proc.wait(60)
    if proc.stderr is not None:
        proc.stderr.close()
    assert code == -signal.SIGKILL, f"{point} was never reached (exit {code})"


def age_tmp(spool: Spool) -> None:
    """Make every temporary file look as old as a restart ten minutes later finds it."""
    past = time.time() - STALE_TMP_SECONDS - 60
    for entry in spool.tmp.iterdir():
        os.utime(entry, (past, past))


def crash_writer(home: Home, msg: Inbound, point: str, dedupe_key: str | None) -> None:
    """A listener (or ``tinyclaw send``) killed at ``point`` inside ``Spool.put``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PUT_SCRIPT, str(home.root), msg.model_dump_json(), dedupe_key or ""],
        env={**os.environ, "TINYCLAW_FAILPOINT": point},
        cwd=REPO,
        stderr=subprocess.PIPE,
    )
    killed_at(proc, point)


def crash_worker(home: Home, point: str) -> None:
    """A ``tinyclaw worker`` process killed at ``point``."""
    age_tmp(Spool(home))
    killed_at(start_worker_process(home, TINYCLAW_FAILPOINT=point), point)


# Where the message is when the process that will die starts. Each returns the name
# (file stem) the message goes by in the queue.
Setup = Callable[[Home, Spool, Inbound], str]


def nothing_yet(home: Home, spool: Spool, msg: Inbound) -> str:
    return msg.id  # the writer that dies is the one that queues it


def in_incoming(home: Home, spool: Spool, msg: Inbound) -> str:
    spool.put(msg)
    return msg.id


def for_an_unknown_actor(home: Home, spool: Spool, msg: Inbound) -> str:
    """Answered by the router itself (no CLI): the reply, then the incoming file goes."""
    spool.put(msg.model_copy(update={"text": "@ghost are you there?"}))
    return msg.id


def unreadable_in_incoming(home: Home, spool: Spool, msg: Inbound) -> str:
    """A file dropped by hand that is not a message: it can only go to failed/."""
    (spool.incoming / f"{msg.id}.json").write_bytes(b"{ this is not json")
    return msg.id


def claimed(home: Home, spool: Spool, msg: Inbound) -> str:
    """Claimed by a worker that then died: the next start-up's recovery requeues it."""
    path = spool.put(msg, spool.inbox(ACTOR))
    assert path is not None and spool.claim(path, ACTOR) is not None
    return msg.id


def claimed_on_its_last_attempt(home: Home, spool: Spool, msg: Inbound) -> str:
    """As ``claimed``, but it already crashed the worker twice: recovery gives up."""
    return claimed(home, spool, msg.model_copy(update={"attempts": 2}))


def half_queued(home: Home, spool: Spool, msg: Inbound) -> str:
    """A writer died between registering the dedupe key and the rename: recovery must
    roll its temporary file forward (the redelivery is filtered as a duplicate)."""
    crash_writer(home, msg, "put.linked", DEDUPE_KEY)
    return msg.id


@dataclass(frozen=True)
class Crash:
    point: str
    setup: Setup
    dies: Literal["writer", "worker"]
    outcome: Literal["reply", "error", "failed"]
    runs: int = 1  # CLI runs of the message, counting the crashed worker's
    dedupe_key: str | None = None  # the key the writer (and its redelivery) uses
    redelivered: bool = False  # the writer never saw put() return, so it puts again
    known_bug: str | None = None  # a defect this crash exposes (strict xfail until fixed)

    @property
    def id(self) -> str:
        return f"{self.point}-{self.setup.__name__}"


def writer(point: str, dedupe_key: str | None = None) -> Crash:
    return Crash(point, nothing_yet, "writer", "reply", 1, dedupe_key, redelivered=True)


# Spool.fail writes <name>.reason, then moves <name> beside it. Killed in between, the
# retry finds the reason taken and files the message under a new suffixed name: the
# first reason stays behind without its file, and `tinyclaw status` lists the failure
# twice. (A lone reason is fail()'s own leftover; it could simply be overwritten.)
CRASHES: list[Crash] = [
    # Spool.put, in a listener or `tinyclaw send`.
    writer("put.tmp_written"),
    writer("put.tmp_written", DEDUPE_KEY),
    writer("put.linked", DEDUPE_KEY),
    writer("put.committed"),
    # Worker start-up recovery.
    Crash(
        "recover_tmp.rolling",
        half_queued,
        "worker",
        "reply",
        dedupe_key=DEDUPE_KEY,
        redelivered=True,
    ),
    Crash("rewrite.committed", claimed, "worker", "reply"),
    Crash(
        "fail.reason_written",
        claimed_on_its_last_attempt,
        "worker",
        "failed",
        runs=0,
    ),
    # Routing.
    Crash(
        "fail.reason_written",
        unreadable_in_incoming,
        "worker",
        "failed",
        runs=0,
    ),
    Crash("route.before_move", in_incoming, "worker", "reply"),
    Crash("put_reply.tmp_written", for_an_unknown_actor, "worker", "error", runs=0),
    Crash("put_reply.committed", for_an_unknown_actor, "worker", "error", runs=0),
    Crash("complete.unlinked", for_an_unknown_actor, "worker", "error", runs=0),
    # One run.
    Crash("worker.claimed", in_incoming, "worker", "reply"),
    Crash("worker.ran", in_incoming, "worker", "reply"),
    Crash("worker.costed", in_incoming, "worker", "reply"),
    Crash("put_reply.tmp_written", in_incoming, "worker", "reply"),
    Crash("put_reply.committed", in_incoming, "worker", "reply"),
    Crash("worker.replied", in_incoming, "worker", "reply"),
    Crash("complete.unlinked", in_incoming, "worker", "reply"),
    # The Maildir backend's speed-ups: a shared directory fsync about to start (the
    # route's, then the claim's), and an inbox listed into memory.
    Crash("dirsync.started", in_incoming, "worker", "reply"),
    Crash("dirsync.started", claimed, "worker", "reply"),
    Crash("index.listing", in_incoming, "worker", "reply"),
]

# Points crashed by the suite of their own feature, which knows how to reach them.
LIVE_CRASH_TEST = "tests/worker/test_live_crash.py"
CRASHED_ELSEWHERE = {
    "schedule.queued": "tests/schedule/test_heartbeat.py",
    # Live runs: a steering line taken, on the CLI's stdin, queued as the next turn;
    # a permission question asked (a restart must never grant it).
    "steer.taken": LIVE_CRASH_TEST,
    "steer.delivered": LIVE_CRASH_TEST,
    "steer.queued": LIVE_CRASH_TEST,
    "approval.asked": LIVE_CRASH_TEST,
    # `tinyclaw spool move`: killed while copying, just after the switch, while emptying.
    "spool_move.copied": "tests/spool/test_spool_move.py",
    "spool_move.switched": "tests/spool/test_spool_move.py",
    "spool_move.emptied": "tests/spool/test_spool_move.py",
}
# Points whose name is built at run time: the call's source, the names it yields, and
# the test that arms them.
TEAM_CRASH_TEST = "tests/teams/test_team_crash.py"
DYNAMIC_POINTS = {
    "f'teams.{outcome.kind}.planned'": (r"teams\.\w+\.planned", TEAM_CRASH_TEST),
    "step + '.emitting'": (r"teams\.\w+\.emitting", TEAM_CRASH_TEST),
    "step + '.emitted'": (r"teams\.\w+\.emitted", TEAM_CRASH_TEST),
}


def armed_in(test_file: str) -> set[str]:
    """The quoted dotted names a test file mentions (its failpoints among them)."""
    return set(re.findall(r'"([a-z_]+\.[\w.]+)"', (REPO / test_file).read_text(encoding="utf-8")))


def failpoints_in_code() -> tuple[set[str], set[str]]:
    """(literal names, source of the computed ones) of every ``failpoint(...)`` call."""
    names: set[str] = set()
    computed: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called != "failpoint":
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value)
            else:
                computed.add(ast.unparse(arg))
    return names, computed


def test_every_failpoint_in_the_code_is_crashed_here() -> None:
    names, computed = failpoints_in_code()
    listed = {crash.point for crash in CRASHES} | set(CRASHED_ELSEWHERE)
    assert names - listed == set(), "failpoints without a crash test: add them to CRASHES"
    assert listed - names == set(), "a listed failpoint the code no longer has"
    for point, test_file in CRASHED_ELSEWHERE.items():
        assert point in armed_in(test_file), f"{test_file} does not crash {point}"
    assert computed == set(DYNAMIC_POINTS), "a computed failpoint name: list it here"
    for source, (pattern, test_file) in DYNAMIC_POINTS.items():
        assert any(re.fullmatch(pattern, p) for p in armed_in(test_file)), (
            f"{source}: {test_file} crashes none of its names"
        )


# -- the crash, the recovery, the invariants ------------------------------------------


def _drained(spool: Spool, name: str, outcome: str) -> bool:
    depths = spool.depths()
    if depths["incoming"] or depths["processing"] or depths["inboxes"]:
        return False
    if outcome == "failed":
        return any(p.name.startswith(name) for p in spool.list_box(spool.failed))
    return spool.reply_exists("cli", name)


def _param(crash: Crash) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=crash.known_bug)] if crash.known_bug else []
    return pytest.param(crash, id=crash.id, marks=marks)


@pytest.mark.parametrize("crash", [_param(c) for c in CRASHES])
def test_a_kill_at_every_step_answers_exactly_once_or_fails_with_a_reason(
    home: Home, crash: Crash
) -> None:
    write_config(home, fake_cli_config())
    spool = Spool(home)
    msg = message("survive this")
    name = crash.setup(home, spool, msg)

    if crash.dies == "writer":
        crash_writer(home, msg, crash.point, crash.dedupe_key)
    else:
        crash_worker(home, crash.point)
    if crash.redelivered:
        spool.put(msg, dedupe_key=crash.dedupe_key)
    age_tmp(spool)
    with worker_thread(home):
        wait_for(lambda: _drained(spool, name, crash.outcome), 30, "recovery to drain the queue")

    replies = spool.list_box(spool.outgoing("cli"))
    failed = spool.list_box(spool.failed)
    reasons = sorted(p.name for p in spool.failed.glob("*" + REASON_SUFFIX))
    # Answered or failed: never both, never neither, and each at most once.
    if crash.outcome == "failed":
        assert replies == []
        (failed_file,) = failed
        assert failed_file.name.startswith(name)
        assert reasons == [failed_file.name + REASON_SUFFIX], "one reason, beside its file"
    else:
        assert [p.name for p in replies] == [f"{name}.json"]
        assert failed == [] and reasons == []
        reply = load_reply(replies[0].read_bytes())
        assert reply.kind == crash.outcome
        if crash.outcome == "reply":
            assert reply.text == "echo: survive this"
        else:
            assert "There is no actor called @ghost" in reply.text
    # No box holds it any more; nothing half-written or half-done is left behind.
    depths = spool.depths()
    assert depths["incoming"] == depths["processing"] == depths["inboxes"] == 0
    assert list(spool.tmp.iterdir()) == []
    assert RunJournal(home.state / "results").ids() == []
    # A result saved before the kill is reused: the CLI never runs twice.
    starts = Counter(
        e["id"] for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == "run.start"
    )
    assert starts[name] == crash.runs, starts
    # ... and its cost is in the ledger once, however often the result was replayed.
    charged = [e.id for e in CostLedger(home.state / "costs").entries(0, 2e9)]
    assert charged == ([name] if crash.runs else []), charged
    if crash.dedupe_key is not None:
        assert spool.put(msg, dedupe_key=crash.dedupe_key) is None  # the key stays known
