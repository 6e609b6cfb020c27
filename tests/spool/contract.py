"""What every spool backend must do: one suite of tests, run against each backend.

A backend's test module subclasses :class:`SpoolContract` as ``Test<Name>`` and
implements the few hooks that need to reach under the interface (planting a file
that is not a message, reading what was failed). Everything else goes through
:class:`~tinyclaw.spool.backend.SpoolBackend` only, so a new backend that passes this
suite keeps the queue's promises: FIFO per actor, one winner per claim, a reply
keyed by its message id, the seen filter, nothing dropped silently, recovery after
a crash.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support.messages import message as make_message
from tests.support.messages import reply_to as make_reply
from tinyclaw.core.errors import InvalidMessageError, UnsafePathError
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.spool.backend import SpoolBackend

Backend = SpoolBackend[Any]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class SpoolContract:
    """The contract. Subclasses implement the hooks below."""

    def make_backend(self, home: Home, clock: Clock) -> Backend:
        """A fresh backend on ``home``; a second call is another process's view."""
        raise NotImplementedError

    def plant(self, backend: Backend, actor: str, data: bytes) -> Any:
        """Put raw ``data`` (not necessarily a message) into ``actor``'s inbox, as a
        careless writer would; returns its handle."""
        raise NotImplementedError

    def plant_reply(self, backend: Backend, channel: str, data: bytes) -> Any:
        """Put raw ``data`` among ``channel``'s waiting replies; returns its handle."""
        raise NotImplementedError

    def failures(self, backend: Backend) -> dict[str, str]:
        """What was failed: the message's key (its id) → the reason recorded."""
        raise NotImplementedError

    # -- fixtures --------------------------------------------------------------------

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest.fixture
    def spool(self, home: Home, clock: Clock) -> Backend:
        return self.make_backend(home, clock)

    # -- messages --------------------------------------------------------------------

    def test_a_routed_message_waits_in_its_actors_inbox_whole(self, spool: Backend) -> None:
        message = make_message("hi")
        spool.put_for("coder", message)
        [handle] = list(spool.pending("coder"))
        assert spool.load(handle) == message
        assert list(spool.pending("writer")) == []

    def test_each_actors_inbox_is_first_in_first_out(self, spool: Backend) -> None:
        sent = [make_message(f"m{i}") for i in range(60)]
        for i, message in enumerate(sent):
            spool.put_for("coder" if i % 2 else "writer", message)
        coder = [spool.load(h).text for h in spool.pending("coder")]
        writer = [spool.load(h).text for h in spool.pending("writer")]
        assert coder == [m.text for i, m in enumerate(sent) if i % 2]
        assert writer == [m.text for i, m in enumerate(sent) if not i % 2]

    def test_a_claimed_message_leaves_the_inbox_and_complete_releases_it(
        self, spool: Backend
    ) -> None:
        message = make_message()
        spool.put_for("coder", message)
        claimed = spool.claim(next(spool.pending("coder")), "coder")
        assert claimed is not None
        assert list(spool.pending("coder")) == []
        assert spool.load(claimed) == message
        assert spool.depths()["processing"] == 1
        spool.complete(claimed)
        assert spool.depths()["processing"] == 0
        assert spool.depths()["inboxes"] == 0

    def test_a_completion_flushed_stays_done_and_hints_change_nothing(
        self, spool: Backend, tmp_path: Path
    ) -> None:
        """``flush``, ``arrived`` and ``forget_listings`` only make a backend faster:
        whatever they do, the queue holds what it held."""
        waiting, done = make_message("waiting"), make_message("done")
        spool.put_for("coder", done)
        claimed = spool.claim(next(spool.pending("coder")), "coder")
        assert claimed is not None
        spool.put_for("coder", waiting)
        spool.complete(claimed)
        spool.flush()
        spool.arrived(tmp_path / "not-a-queue-file.json")  # no file of the backend
        assert [spool.load(h) for h in spool.pending("coder")] == [waiting]
        spool.forget_listings()
        assert [spool.load(h) for h in spool.pending("coder")] == [waiting]
        assert spool.depths()["processing"] == 0

    def test_a_routed_message_goes_behind_those_already_waiting(self, spool: Backend) -> None:
        spool.put_for("coder", make_message("first"))
        handle = spool.put(make_message("second"))
        assert spool.route(handle, "coder") is not None
        assert spool.route(handle, "coder") is None  # taken: the loser moves on
        assert [spool.load(h).text for h in spool.pending("coder")] == ["first", "second"]
        assert spool.depths()["incoming"] == 0

    def test_a_released_claim_runs_again_as_it_was(self, spool: Backend) -> None:
        message = make_message()
        spool.put_for("coder", message)
        claimed = spool.claim(next(spool.pending("coder")), "coder")
        assert spool.release(claimed, "coder") is not None
        assert spool.load(next(spool.pending("coder"))) == message
        assert spool.depths()["processing"] == 0

    def test_the_loser_of_a_claim_gets_none(self, spool: Backend) -> None:
        spool.put_for("coder", make_message())
        handle = next(spool.pending("coder"))
        assert spool.claim(handle, "coder") is not None
        assert spool.claim(handle, "coder") is None

    def test_threads_racing_to_claim_each_get_distinct_messages(self, spool: Backend) -> None:
        for i in range(200):
            spool.put_for("coder", make_message(f"m{i}"))
        handles = list(spool.pending("coder"))
        won: list[list[str]] = [[] for _ in range(6)]
        start = threading.Barrier(6)

        def claimer(mine: list[str]) -> None:
            start.wait()
            for handle in handles:
                claimed = spool.claim(handle, "coder")
                if claimed is not None:
                    mine.append(spool.load(claimed).text)

        threads = [threading.Thread(target=claimer, args=(w,)) for w in won]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        everything = [text for mine in won for text in mine]
        assert sorted(everything) == sorted(f"m{i}" for i in range(200))
        assert len(set(everything)) == 200

    def test_a_failed_message_is_kept_with_its_reason(self, spool: Backend) -> None:
        message = make_message()
        spool.put_for("coder", message)
        claimed = spool.claim(next(spool.pending("coder")), "coder")
        assert claimed is not None
        assert spool.fail(claimed, "the CLI refused it") is not None
        assert self.failures(spool) == {message.id: "the CLI refused it"}
        assert spool.depths()["failed"] == 1
        assert spool.depths()["processing"] == 0

    def test_a_retry_counts_an_attempt_and_backs_off(self, spool: Backend, clock: Clock) -> None:
        message = make_message()
        spool.put_for("coder", message)
        claimed = spool.claim(next(spool.pending("coder")), "coder")
        assert spool.retry(claimed, "coder", max_attempts=3, backoff=10.0, why="busy")
        [back] = list(spool.pending("coder"))
        again = spool.load(back)
        assert (again.id, again.attempts, again.not_before) == (message.id, 1, clock.now + 10.0)
        claimed = spool.claim(back, "coder")
        assert spool.retry(claimed, "coder", max_attempts=3, backoff=10.0, why="busy")
        assert spool.load(next(spool.pending("coder"))).not_before == clock.now + 20.0

    def test_a_retry_past_the_last_attempt_fails_the_message(self, spool: Backend) -> None:
        message = make_message(attempts=2)
        spool.put_for("coder", message)
        claimed = spool.claim(next(spool.pending("coder")), "coder")
        assert not spool.retry(claimed, "coder", max_attempts=3, backoff=1.0, why="busy")
        assert list(spool.pending("coder")) == []
        assert self.failures(spool) == {message.id: "busy; gave up after 3 attempts"}

    # -- rewriting a claimed message (a voice note's transcript) ---------------------

    def test_a_rewritten_claim_stays_claimed_and_keeps_its_new_content(
        self, spool: Backend
    ) -> None:
        """The transcript is written into the claimed message: it stays this run's,
        and a release (the worker stops) gives back the transcribed message, which
        the next run reads without transcribing again."""
        message = make_message("")
        spool.put_for("coder", message)
        claimed = spool.claim(next(spool.pending("coder")), "coder")
        heard = message.model_copy(
            update={"text": "buy milk", "meta": {"transcription": {"ok": True}}}
        )
        claimed = spool.rewrite(claimed, heard)
        assert list(spool.pending("coder")) == []
        assert spool.load(claimed) == heard
        assert spool.depths()["processing"] == 1
        assert spool.release(claimed, "coder") is not None
        [back] = list(spool.pending("coder"))
        assert spool.load(back) == heard
        again = spool.claim(back, "coder")
        assert again is not None and spool.load(again) == heard
        spool.complete(again)
        assert list(spool.pending("coder")) == []
        assert spool.depths()["processing"] == 0

    def test_a_rewritten_message_keeps_its_content_through_a_retry_and_a_crash(
        self, home: Home, clock: Clock
    ) -> None:
        """A retry rewritten with its own attempt and backoff (the CLI killed from
        outside) waits with them; a crash after a rewrite gives back the rewritten
        message with one more attempt counted."""
        crashed = self.make_backend(home, clock)
        message = make_message("")
        crashed.put_for("coder", message)
        claimed = crashed.claim(next(crashed.pending("coder")), "coder")
        retried = message.model_copy(
            update={"attempts": 1, "not_before": clock.now + 3.0, "meta": {"killed_retry": True}}
        )
        claimed = crashed.rewrite(claimed, retried)
        assert crashed.release(claimed, "coder") is not None
        [back] = list(crashed.pending("coder"))
        assert crashed.load(back) == retried
        claimed = crashed.claim(back, "coder")
        heard = retried.model_copy(update={"text": "buy milk"})
        crashed.rewrite(claimed, heard)

        restarted = self.make_backend(home, clock)
        assert restarted.recover(max_attempts=5, backoff=5.0).requeued == 1
        [back] = list(restarted.pending("coder"))
        again = restarted.load(back)
        assert (again.text, again.meta, again.attempts) == ("buy milk", heard.meta, 2)
        claimed = restarted.claim(back, "coder")
        assert restarted.fail(claimed, "the CLI refused it") is not None
        assert self.failures(restarted) == {message.id: "the CLI refused it"}
        assert list(restarted.pending("coder")) == []

    # -- where a message is ------------------------------------------------------------

    def test_a_message_is_located_through_every_state_it_passes(self, spool: Backend) -> None:
        """What a team conversation asks of its handoffs: will a run still answer
        this task (waiting, running), was it set aside (failed, and why), or is it
        done with (gone)."""
        ahead, message = make_message("ahead"), make_message("the task")
        assert spool.locate("coder", message.id).state == "gone"  # not queued yet
        spool.put_for("coder", ahead)
        spool.put_for("coder", message)
        assert spool.locate("coder", message.id).state == "waiting"
        assert spool.locate("writer", message.id).state == "gone"  # not that actor's
        [_, handle] = list(spool.pending("coder"))
        claimed = spool.claim(handle, "coder")
        assert spool.locate("coder", message.id).state == "running"
        claimed = spool.claim(spool.release(claimed, "coder"), "coder")
        assert spool.retry(claimed, "coder", max_attempts=5, backoff=60.0, why="busy")
        assert spool.locate("coder", message.id).state == "waiting"  # backing off
        [_, handle] = list(spool.pending("coder"))
        spool.complete(spool.claim(handle, "coder"))
        assert spool.locate("coder", message.id).state == "gone"

    def test_a_failed_message_is_located_with_its_first_reason(self, spool: Backend) -> None:
        message = make_message()
        spool.put_for("coder", message)
        spool.fail(spool.claim(next(spool.pending("coder")), "coder"), "the CLI killed the worker")
        spool.reject(f"{message.id}.json", b"{}", "a later copy, failed too")
        where = spool.locate("coder", message.id)
        assert (where.state, where.reason) == ("failed", "the CLI killed the worker")

    def test_locating_for_an_invalid_actor_name_is_refused(self, spool: Backend) -> None:
        with pytest.raises(UnsafePathError):
            spool.locate("../escape", make_message().id)

    # -- the seen filter -------------------------------------------------------------

    def test_a_redelivered_platform_message_is_queued_once(self, spool: Backend) -> None:
        assert spool.put(make_message("hi"), dedupe_key="chat1:42") is not None
        assert spool.put(make_message("hi"), dedupe_key="chat1:42") is None
        assert spool.put(make_message("hi"), dedupe_key="chat1:43") is not None
        assert spool.put(make_message("hi", channel="telegram"), dedupe_key="chat1:42")
        assert spool.depths()["incoming"] == 3

    def test_the_seen_filter_holds_across_processes(self, home: Home, clock: Clock) -> None:
        first = self.make_backend(home, clock)
        assert first.put(make_message(), dedupe_key="chat1:7") is not None
        second = self.make_backend(home, clock)
        assert second.put(make_message(), dedupe_key="chat1:7") is None

    # -- replies ---------------------------------------------------------------------

    def test_a_reply_is_keyed_by_its_message_id(self, spool: Backend) -> None:
        message = make_message()
        spool.put_reply(make_reply(message, "first try"))
        spool.put_reply(make_reply(message, "the replay"))
        [handle] = spool.replies("cli")
        assert spool.load_reply(handle).text == "the replay"
        assert spool.reply_exists("cli", message.id)
        assert not spool.reply_exists("cli", unique_name())

    def test_a_sent_reply_leaves_the_queue_and_is_still_known(self, spool: Backend) -> None:
        message = make_message()
        handle = spool.put_reply(make_reply(message, "done"))
        assert spool.mark_sent(handle, "cli") is not None
        assert spool.replies("cli") == []
        assert spool.reply_exists("cli", message.id)

    def test_delivery_progress_is_stored_and_never_revives_a_sent_reply(
        self, spool: Backend
    ) -> None:
        message = make_message()
        reply = make_reply(message, "two parts")
        handle = spool.put_reply(reply)
        progressed = reply.model_copy(update={"meta": {"parts_sent": 1}})
        assert spool.update_reply(handle, progressed)
        assert spool.load_reply(spool.replies("cli")[0]).meta == {"parts_sent": 1}
        spool.mark_sent(handle, "cli")
        assert not spool.update_reply(handle, progressed)
        assert spool.replies("cli") == []

    def test_replies_wait_in_arrival_order_per_channel(self, spool: Backend) -> None:
        messages = [make_message(f"m{i}") for i in range(20)]
        for m in messages:
            spool.put_reply(make_reply(m, m.text))
        assert [spool.load_reply(h).text for h in spool.replies("cli")] == [
            m.text for m in messages
        ]
        assert spool.replies("telegram") == []

    def test_a_new_reply_wakes_the_channels_watcher_and_no_other(self, spool: Backend) -> None:
        """What a listener's delivery waits on: a hint that a reply arrived, so it
        need not wait for its next scan."""
        from tinyclaw.spool import watch_replies

        woken = {"cli": threading.Event(), "telegram": threading.Event()}
        stops = [watch_replies(spool, name, event.set) for name, event in woken.items()]
        try:
            spool.put_reply(make_reply(make_message(), "wake up"))
            assert woken["cli"].wait(10)
            assert not woken["telegram"].wait(0.3)
        finally:
            for stop in stops:
                stop()

    # -- attachments -----------------------------------------------------------------

    def test_attachments_go_in_and_come_out_per_message(self, spool: Backend) -> None:
        message_id = unique_name()
        photo = spool.save_attachment(message_id, "photo.jpg", b"\xff\xd8jpeg")
        note = spool.save_attachment(message_id, "note.txt", b"hello")
        assert photo != note
        assert spool.read_attachment(photo) == b"\xff\xd8jpeg"
        assert spool.read_attachment(note) == b"hello"
        spool.discard_attachments(message_id)
        with pytest.raises(FileNotFoundError):
            spool.read_attachment(photo)

    def test_an_attachment_name_is_taken_once(self, spool: Backend) -> None:
        message_id = unique_name()
        spool.save_attachment(message_id, "a.txt", b"one")
        with pytest.raises(FileExistsError):
            spool.save_attachment(message_id, "a.txt", b"two")

    # -- recovery --------------------------------------------------------------------

    def test_a_claim_left_by_a_crash_goes_back_with_an_attempt_counted(
        self, home: Home, clock: Clock
    ) -> None:
        crashed = self.make_backend(home, clock)
        message = make_message()
        crashed.put_for("coder", message)
        assert crashed.claim(next(crashed.pending("coder")), "coder") is not None

        restarted = self.make_backend(home, clock)
        result = restarted.recover(max_attempts=3, backoff=5.0)
        assert (result.requeued, result.failed) == (1, 0)
        [back] = list(restarted.pending("coder"))
        again = restarted.load(back)
        assert (again.id, again.attempts, again.not_before) == (message.id, 1, clock.now + 5.0)
        assert restarted.depths()["processing"] == 0

    def test_a_message_that_keeps_killing_the_worker_ends_in_failed(
        self, home: Home, clock: Clock
    ) -> None:
        message = make_message()
        self.make_backend(home, clock).put_for("coder", message)
        for _ in range(3):
            crashed = self.make_backend(home, clock)
            crashed.claim(next(crashed.pending("coder")), "coder")
            self.make_backend(home, clock).recover(max_attempts=3, backoff=0.0)
        spool = self.make_backend(home, clock)
        assert list(spool.pending("coder")) == []
        assert "gave up after 3 attempts" in self.failures(spool)[message.id]

    def test_a_claim_whose_run_had_finished_goes_back_as_it_was(
        self, home: Home, clock: Clock
    ) -> None:
        crashed = self.make_backend(home, clock)
        message = make_message()
        crashed.put_for("coder", message)
        crashed.claim(next(crashed.pending("coder")), "coder")
        restarted = self.make_backend(home, clock)
        restarted.recover(max_attempts=3, backoff=5.0, ran=lambda mid: mid == message.id)
        assert restarted.load(next(restarted.pending("coder"))) == message

    def test_recovery_with_nothing_to_do_does_nothing(self, spool: Backend) -> None:
        spool.put_for("coder", make_message())
        result = spool.recover(max_attempts=3, backoff=1.0)
        assert (result.requeued, result.failed, result.rolled) == (0, 0, 0)
        assert len(list(spool.pending("coder"))) == 1

    # -- bad input -------------------------------------------------------------------

    @pytest.mark.parametrize(
        "data",
        [b"not json", b"[1, 2]", b'{"text": "no sender"}', b"\xff\xfe", b""],
        ids=["garbage", "not-an-object", "missing-fields", "not-utf8", "empty"],
    )
    def test_a_message_that_cannot_be_read_is_refused_clearly(
        self, spool: Backend, data: bytes
    ) -> None:
        handle = self.plant(spool, "coder", data)
        claimed = spool.claim(handle, "coder")
        with pytest.raises(InvalidMessageError):
            spool.load(claimed)

    def test_an_unreadable_claim_after_a_crash_ends_in_failed_with_its_reason(
        self, home: Home, clock: Clock
    ) -> None:
        crashed = self.make_backend(home, clock)
        crashed.claim(self.plant(crashed, "coder", b"{broken"), "coder")
        restarted = self.make_backend(home, clock)
        result = restarted.recover(max_attempts=3, backoff=1.0)
        assert (result.requeued, result.failed) == (0, 1)
        [reason] = self.failures(restarted).values()
        assert reason.startswith("unreadable after interrupted")
        assert list(restarted.pending("coder")) == []

    def test_an_unreadable_reply_is_refused_clearly(self, spool: Backend) -> None:
        handle = self.plant_reply(spool, "cli", b"{not a reply")
        with pytest.raises(InvalidMessageError):
            spool.load_reply(handle)
        assert spool.fail(handle, "unreadable reply") is not None
        assert list(self.failures(spool).values()) == ["unreadable reply"]

    def test_bytes_from_outside_the_queue_are_kept_with_their_reason(self, spool: Backend) -> None:
        spool.reject("request.json", b"{half a request", "outbox of @coder: not JSON")
        assert self.failures(spool) == {"request": "outbox of @coder: not JSON"}
        spool.reject("request.json", b"again", "outbox of @coder: still not JSON")
        assert sorted(self.failures(spool).values()) == [
            "outbox of @coder: not JSON",
            "outbox of @coder: still not JSON",
        ]

    def test_an_invalid_actor_name_is_refused(self, spool: Backend) -> None:
        with pytest.raises(Exception, match="invalid actor name"):
            spool.put_for("../escape", make_message())


__all__ = ["Clock", "SpoolContract", "make_message", "make_reply"]
