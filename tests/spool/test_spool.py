"""The spool contract: Maildir rules, races, recovery, and crashes at every step."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.spool.contract import make_message
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Reply, load_inbound
from tinyclaw.core.watching import Watcher
from tinyclaw.spool import Spool
from tinyclaw.spool.recovery import recover_processing, recover_tmp
from tinyclaw.spool.speed import DirSync

REPO = Path(__file__).resolve().parents[2]


def test_put_lands_whole_in_incoming_and_leaves_no_temporary_file(home: Home) -> None:
    spool = Spool(home)
    message = make_message()
    path = spool.put(message)
    assert path is not None and path.parent == spool.incoming
    assert load_inbound(path.read_bytes()) == message
    assert list(spool.tmp.iterdir()) == []


def test_a_sorted_listing_is_arrival_order(home: Home) -> None:
    spool = Spool(home, durable=False)
    sent = [spool.put(make_message(f"m{i}")) for i in range(200)]
    assert spool.list_box(spool.incoming) == sent


def test_a_redelivered_platform_message_is_queued_once(home: Home) -> None:
    spool = Spool(home)
    first = spool.put(make_message("hi"), dedupe_key="chat1:42")
    again = spool.put(make_message("hi"), dedupe_key="chat1:42")
    other = spool.put(make_message("hi"), dedupe_key="chat1:43")
    assert first is not None and other is not None and again is None
    assert len(spool.list_box(spool.incoming)) == 2
    assert list(spool.tmp.iterdir()) == []


def _claimer(root: str, actor: str, out: str) -> None:
    spool = Spool(Home(Path(root)), durable=False)
    claimed = []
    for path in spool.list_box(spool.inbox(actor)):
        if spool.claim(path, actor) is not None:
            claimed.append(path.name)
    Path(out).write_text(json.dumps(claimed))


def test_processes_racing_to_claim_each_get_distinct_files(home: Home, tmp_path: Path) -> None:
    spool = Spool(home, durable=False)
    names = {spool.put(make_message(f"m{i}"), spool.inbox("coder")).name for i in range(400)}  # type: ignore[union-attr]
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"claimed{i}.json" for i in range(4)]
    procs = [ctx.Process(target=_claimer, args=(str(home.root), "coder", str(o))) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    claims = [name for o in outs for name in json.loads(o.read_text())]
    assert len(claims) == len(set(claims)) == len(names)
    assert set(claims) == names


def test_recovery_returns_claims_to_their_inbox_and_counts_the_attempt(home: Home) -> None:
    now = [1000.0]
    spool = Spool(home, clock=lambda: now[0])
    path = spool.put(make_message(), spool.inbox("coder"))
    assert path is not None
    spool.claim(path, "coder")
    requeued, failed = recover_processing(spool, max_attempts=3, backoff=2.0)
    assert (requeued, failed) == (1, 0)
    back = load_inbound(path.read_bytes())
    assert back.attempts == 1 and back.not_before == 1002.0
    assert spool.list_box(spool.processing("coder")) == []


def test_a_message_that_keeps_crashing_ends_in_failed_with_a_reason(home: Home) -> None:
    spool = Spool(home)
    path = spool.put(make_message(), spool.inbox("coder"))
    assert path is not None
    for _ in range(3):
        spool.claim(path, "coder")
        recover_processing(spool, max_attempts=3, backoff=0)
    assert not path.exists()
    failed = spool.failed / path.name
    reason = json.loads((spool.failed / (path.name + ".reason")).read_text())
    assert failed.exists() and "gave up after 3 attempts" in reason["reason"]


def test_an_unreadable_claim_fails_at_once(home: Home) -> None:
    spool = Spool(home)
    spool.processing("coder").mkdir(parents=True)
    junk = spool.processing("coder") / "junk.json"
    junk.write_bytes(b"\x00\xff not json")
    assert recover_processing(spool, 3, 0) == (0, 1)
    assert (spool.failed / "junk.json").exists()


def test_replies_are_named_by_message_id_so_a_replay_overwrites(home: Home) -> None:
    spool = Spool(home)
    reply = Reply(id="m1", in_reply_to="m1", channel="telegram", chat_id="5", text="one")
    spool.put_reply(reply)
    spool.put_reply(reply.model_copy(update={"text": "two"}))
    box = spool.outgoing("telegram")
    assert [p.name for p in spool.list_box(box)] == ["m1.json"]
    assert spool.reply_exists("telegram", "m1")
    spool.mark_sent(box / "m1.json", "telegram")
    assert spool.reply_exists("telegram", "m1") and spool.list_box(box) == []


def test_names_from_outside_cannot_leave_the_queue(home: Home) -> None:
    from tinyclaw.core.errors import UnsafePathError

    spool = Spool(home)
    with pytest.raises(UnsafePathError):
        spool.inbox("../../etc")
    with pytest.raises(UnsafePathError):
        spool.outgoing("../x")


def test_a_box_path_is_checked_and_made_once_a_bad_name_every_time(home: Home) -> None:
    """Each message asks for its actor's and channel's boxes several times: the
    checked path is kept by name, and a refused name is refused again, never kept."""
    from tinyclaw.core.errors import UnsafePathError

    spool = Spool(home)
    assert spool.inbox("coder") is spool.inbox("coder") == home.actors / "coder" / "inbox"
    assert spool.processing("coder") is spool.processing("coder")
    assert spool.outgoing("telegram") is spool.outgoing("telegram")
    for _ in range(2):
        with pytest.raises(UnsafePathError):
            spool.inbox("../../etc")


# -- crashes between steps ---------------------------------------------------------

PUT_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tinyclaw.core.home import Home
    from tinyclaw.core.messages import Inbound, Sender
    from tinyclaw.spool import Spool
    spool = Spool(Home(Path(sys.argv[1])))
    m = Inbound(id=sys.argv[2], channel="telegram", chat_id="1", sender=Sender(id="u"), text="hi")
    spool.put(m, dedupe_key="1:99")
    """
)


@pytest.mark.parametrize("point", ["put.tmp_written", "put.linked", ""])
def test_a_listener_killed_during_put_queues_the_message_at_most_once(
    home: Home, point: str
) -> None:
    env = {**os.environ, "TINYCLAW_FAILPOINT": point}
    proc = subprocess.run(
        [sys.executable, "-c", PUT_SCRIPT, str(home.root), "m1"], env=env, cwd=REPO
    )
    assert proc.returncode == (-signal.SIGKILL if point else 0)
    spool = Spool(home, clock=lambda: 10**10)
    recover_tmp(spool)
    queued = spool.list_box(spool.incoming)
    # The platform redelivers what was not acknowledged; the dedupe key decides.
    again = spool.put(make_message(channel="telegram", chat_id="1"), dedupe_key="1:99")
    total = len(spool.list_box(spool.incoming))
    assert total == 1, (point, queued)
    assert (again is None) == bool(queued)
    assert list(spool.tmp.iterdir()) == []


REWRITE_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tinyclaw.core.home import Home
    from tinyclaw.spool import Spool
    from tinyclaw.spool.recovery import recover_processing
    spool = Spool(Home(Path(sys.argv[1])))
    recover_processing(spool, 5, 0)
    """
)


def test_recovery_killed_midway_leaves_one_copy(home: Home) -> None:
    spool = Spool(home)
    path = spool.put(make_message(), spool.inbox("coder"))
    assert path is not None
    spool.claim(path, "coder")
    env = {**os.environ, "TINYCLAW_FAILPOINT": "rewrite.committed"}
    proc = subprocess.run([sys.executable, "-c", REWRITE_SCRIPT, str(home.root)], env=env, cwd=REPO)
    assert proc.returncode == -signal.SIGKILL
    # Both copies carry the same name: a second recovery converges to one.
    recover_processing(spool, 5, 0)
    assert [p.name for p in spool.list_box(spool.inbox("coder"))] == [path.name]
    assert spool.list_box(spool.processing("coder")) == []
    assert load_inbound(path.read_bytes()).attempts >= 1


# -- what keeps the cost per message flat ------------------------------------------------


def test_an_inbox_is_served_from_memory_and_learns_arrivals_from_hints(home: Home) -> None:
    """The worker's spool lists an inbox once, then keeps it by its own moves and the
    watcher's hints; a file another process dropped without a hint is found by the
    timed rescan."""
    worker_side = Spool(home, durable=False, rescan=0.3)
    other_process = Spool(home, durable=False)
    first = worker_side.put_for("assistant", make_message("first"))
    assert list(worker_side.pending("assistant")) == [first]

    claimed = worker_side.claim(first, "assistant")
    assert claimed is not None and list(worker_side.pending("assistant")) == []
    second = other_process.put_for("assistant", make_message("second"))
    worker_side.arrived(second)  # what the watcher reports
    assert list(worker_side.pending("assistant")) == [second]

    unseen = other_process.put_for("assistant", make_message("third"))
    stale = worker_side.pending("assistant")
    assert list(stale) == [second]  # no hint yet: the listing in memory stands
    deadline = time.monotonic() + 10
    while unseen not in list(worker_side.pending("assistant")):
        assert time.monotonic() < deadline, "the timed rescan never found the file"
        time.sleep(0.05)


def test_a_stale_hint_costs_one_failed_read_and_is_forgotten(home: Home) -> None:
    spool = Spool(home, durable=False)
    kept = spool.put_for("assistant", make_message("kept"))
    assert list(spool.pending("assistant")) == [kept]
    gone = spool.inbox("assistant") / "00000000-gone.json"
    spool.arrived(gone)  # a hint for a file already taken by someone else
    assert list(spool.pending("assistant")) == [gone, kept]
    with pytest.raises(FileNotFoundError):
        spool.load(gone)
    assert list(spool.pending("assistant")) == [kept]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_the_worker_is_not_woken_by_the_echo_of_its_own_routing(home: Home) -> None:
    """Routing a backlog renames every message into an inbox; the worker looks at the
    inbox right after, so each rename's watcher event is an echo. Waking the loop for
    each of them made it rescan thousands of times while draining a backlog. A file
    another process drops into the inbox still wakes it."""
    worker_side = Spool(home, durable=False)
    inbox = worker_side.inbox("assistant")
    inbox.mkdir(parents=True, exist_ok=True)
    wakes: list[int] = []
    woken = threading.Event()

    def wake() -> None:
        wakes.append(1)
        woken.set()

    watcher = Watcher([inbox], wake, arrived=worker_side.arrived)
    watcher.start()
    try:
        routed = []
        for i in range(50):
            incoming = worker_side.put(make_message(f"routed {i}"))
            assert incoming is not None
            routed.append(worker_side.route(incoming, "assistant"))
        dropped = Spool(home, durable=False).put_for("assistant", make_message("dropped"))
        assert woken.wait(10), "an arrival from another process woke nobody"
        time.sleep(0.2)  # events queue in order: any echo would have come before
        assert len(wakes) == 1
        assert list(worker_side.pending("assistant")) == [*routed, dropped]
    finally:
        watcher.stop()


def test_threads_syncing_one_folder_at_once_share_fsyncs(tmp_path: Path) -> None:
    """Group commit: eight threads that each renamed a file and ask for the folder's
    fsync at once need about two fsyncs, not eight; and none returns before an fsync
    that started after its own call has finished."""
    calls: list[tuple[float, float]] = []
    lock = threading.Lock()

    def slow_fsync(folder: Path) -> None:
        started = time.monotonic()
        time.sleep(0.05)
        with lock:
            calls.append((started, time.monotonic()))

    sync = DirSync(slow_fsync)
    returned: list[tuple[float, float]] = []
    gate = threading.Barrier(8)

    def one() -> None:
        gate.wait()
        asked = time.monotonic()
        sync.sync(tmp_path)
        with lock:
            returned.append((asked, time.monotonic()))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(returned) == 8
    assert 1 <= len(calls) <= 3, calls
    for asked, back in returned:  # an fsync that began after the call, ended before return
        assert any(asked <= start and end <= back for start, end in calls)


def test_a_completion_is_made_durable_by_the_next_sync_of_its_folder(home: Home) -> None:
    """A completion's unlink waits for the folder's next fsync (the actor's next claim,
    or the worker's flush when idle) instead of making its own."""
    fsynced: list[Path] = []
    sync = DirSync(fsynced.append)
    box = home.queue / "processing" / "assistant"
    sync.changed(box)  # what complete() notes
    assert fsynced == []
    sync.flush()
    assert fsynced == [box]
    sync.flush()
    assert fsynced == [box]  # nothing new since
