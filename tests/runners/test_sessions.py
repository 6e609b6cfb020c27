"""Session ids per actor and conversation survive a restart and many threads."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tinyclaw.core.errors import UnsafePathError
from tinyclaw.runners import SessionStore


def test_a_conversation_remembers_its_session_across_restarts(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "actors")
    assert store.get("coder", "telegram:42") is None
    store.set("coder", "telegram:42", "sid-1")
    store.set("coder", "discord:7", "sid-2")
    store.set("reviewer", "telegram:42", "sid-3")

    reopened = SessionStore(tmp_path / "actors")
    assert reopened.get("coder", "telegram:42") == "sid-1"
    assert reopened.get("coder", "discord:7") == "sid-2"
    assert reopened.get("reviewer", "telegram:42") == "sid-3"
    data = json.loads((tmp_path / "actors" / "coder" / "sessions.json").read_text())
    assert data["sessions"] == {"discord:7": "sid-2", "telegram:42": "sid-1"}


def test_reset_one_conversation_or_all_of_an_actor(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.set("coder", "a", "1")
    store.set("coder", "b", "2")
    store.set("other", "a", "3")
    store.reset("coder", "a")
    assert store.get("coder", "a") is None and store.get("coder", "b") == "2"
    store.reset("coder")
    assert store.get("coder", "b") is None
    assert store.get("other", "a") == "3"
    store.reset("nobody")  # nothing to forget is fine


@pytest.mark.parametrize("actor", ["../etc", "Coder", "", "a/b", ".hidden", "x" * 33])
def test_unsafe_actor_names_are_refused(tmp_path: Path, actor: str) -> None:
    store = SessionStore(tmp_path)
    with pytest.raises(UnsafePathError):
        store.set(actor, "c", "s")
    with pytest.raises(UnsafePathError):
        store.get(actor, "c")


def test_threads_setting_at_once_lose_nothing(tmp_path: Path) -> None:
    root = tmp_path / "actors"
    store = SessionStore(root)

    def worker(n: int) -> None:
        for i in range(10):
            store.set("coder", f"chat-{n}-{i}", f"s-{n}-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fresh = SessionStore(root)
    expected = {f"chat-{n}-{i}": f"s-{n}-{i}" for n in range(8) for i in range(10)}
    assert {key: fresh.get("coder", key) for key in expected} == expected
    assert sorted(p.name for p in (root / "coder").iterdir()) == [
        "sessions.json",
        "sessions.lock",
    ]  # no tmp files left


def test_an_unreadable_file_means_new_conversations_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "coder").mkdir()
    (tmp_path / "coder" / "sessions.json").write_text("{ not json")
    store = SessionStore(tmp_path)
    assert store.get("coder", "a") is None
    store.set("coder", "a", "1")
    assert store.get("coder", "a") == "1"


def test_a_reset_during_a_run_is_not_undone_when_the_run_ends(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.set("coder", "chat", "old")
    running = store.lease("coder", "chat")  # a run resumes "old" ...
    fresh = store.lease("coder", "other")

    store.reset("coder", "chat")  # ... and the user says /reset meanwhile

    assert store.set("coder", "chat", "old", running) is False
    assert store.get("coder", "chat") is None
    assert store.set("coder", "other", "new", fresh) is True  # other chats unaffected
    later = store.lease("coder", "chat")
    assert store.set("coder", "chat", "next", later) is True
    assert store.get("coder", "chat") == "next"


def test_a_reset_of_every_conversation_also_beats_runs_under_way(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    running = store.lease("coder", "chat")
    store.reset("coder")
    assert store.set("coder", "chat", "s1", running) is False
    assert store.get("coder", "chat") is None


def test_sessions_kept_by_version_1_in_state_are_read_and_moved(tmp_path: Path) -> None:
    legacy = tmp_path / "state" / "sessions"
    legacy.mkdir(parents=True)
    (legacy / "coder.json").write_text(json.dumps({"version": 1, "sessions": {"a": "s1"}}))
    store = SessionStore(tmp_path / "actors", legacy=legacy)

    assert store.get("coder", "a") == "s1"
    store.set("coder", "b", "s2")

    assert not (legacy / "coder.json").exists()
    assert store.get("coder", "a") == "s1" and store.get("coder", "b") == "s2"
