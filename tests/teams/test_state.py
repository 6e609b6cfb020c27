"""Conversation state on disk: atomic, validated, findable by any of its message ids."""

from __future__ import annotations

import pytest

from tests.support.teams import blank_conversation
from tinyclaw.core.errors import ConversationError
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.teams.conversations import ConversationStore, Outcome


def test_a_saved_conversation_loads_back_equal_and_leaves_no_temporary_files(home: Home) -> None:
    store = ConversationStore(home.state / "conversations")
    c = blank_conversation()
    handoff = Inbound(
        id=f"{c.id}.h001", channel="cli", chat_id="local", sender=Sender(id="actor:lead"), text="t"
    )
    c.outcomes["m"] = Outcome(message_id="m", actor="lead", kind="opened", at=2.0, inbox=[handoff])
    store.save(c)
    assert store.load(c.id) == c
    assert [p.name for p in store.root.iterdir()] == [f"{c.id}.json"]


def test_a_conversation_is_found_by_any_message_id_in_it(home: Home) -> None:
    store = ConversationStore(home.state / "conversations")
    c = blank_conversation()
    c.outcomes["elsewhere-42"] = Outcome(message_id="elsewhere-42", actor="a", kind="late", at=3)
    store.save(c)
    store.save(blank_conversation("20260101T000000.000002Z-1-000002"))
    for ident in (c.id, f"{c.id}.h007", f"{c.id}.0p0001", "elsewhere-42"):
        found = store.find(ident)
        assert found is not None and found.id == c.id, ident
    assert store.find("unknown") is None


def test_bad_ids_and_broken_files_are_errors(home: Home) -> None:
    store = ConversationStore(home.state / "conversations")
    with pytest.raises(ConversationError):
        store.path("../escape")
    store.root.mkdir(parents=True)
    store.path("broken").write_text('{"id": 1}')
    with pytest.raises(ConversationError, match="not a valid conversation"):
        store.load("broken")
    assert store.find("broken") is None  # trace skips it rather than crash
    (store.root / "x.tmp").write_text("half")
    assert store.clean_tmp() == 1
