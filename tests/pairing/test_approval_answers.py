"""Answering a running agent's permission question from a chat: who may, and how.

The real ``ApprovalDesk`` over a real pairing store and the approval files of a live
run (as ``RunLink`` writes them): a typed ``yes`` / ``always`` / ``no`` in a chat the
question went to answers it, a button's ``approval`` message too; only an owner or a
named approver may, and a ``yes`` with no question waiting is just a message.
"""

from __future__ import annotations

import pytest

from tests.pairing.helpers import ServiceFactory
from tests.support.messages import message
from tinyclaw.config import Config, parse_config
from tinyclaw.core.home import Home
from tinyclaw.core.live_files import put_approval, read_answer
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.pairing import Identity
from tinyclaw.worker.approvals import ApprovalDesk

from .helpers import ALICE, BOB, OWNER


@pytest.fixture
def config() -> Config:
    return parse_config({"actors": {"coder": {"approvers": [f"telegram:{BOB.user_id}"]}}})


@pytest.fixture
def desk(make_service: ServiceFactory, home: Home, config: Config) -> ApprovalDesk:
    service = make_service(owners={OWNER})
    return ApprovalDesk(home, config, lambda: service)


def ask(home: Home, *chats: str, key: str = "q1") -> None:
    put_approval(
        home,
        "coder",
        {
            "key": key,
            "actor": "coder",
            "tool": "Bash",
            "detail": "make test",
            "asked_at": 1.0,
            "routes": ["window", "chat"],
            "ask_chats": list(chats),
        },
    )


def said(ident: Identity, text: str, *, chat: str | None = None, **extra: object) -> Inbound:
    return message(
        text,
        channel=ident.channel,
        chat=chat or ident.user_id,
        sender=Sender(id=ident.user_id, name="Someone"),
        **extra,
    )


def test_the_owner_answers_yes_in_the_chat_the_question_went_to(
    desk: ApprovalDesk, home: Home
) -> None:
    ask(home, f"telegram:{OWNER.user_id}")
    assert desk.answer(said(OWNER, "Yes!")) == "Allowed once."
    answer = read_answer(home, "coder", "q1")
    assert answer is not None and answer["decision"] == "allow"
    assert answer["by"] == "telegram:Someone"
    # Answered: a second "no" is an ordinary message again.
    assert desk.answer(said(OWNER, "no")) is None


def test_always_allows_the_tool_for_the_conversation(desk: ApprovalDesk, home: Home) -> None:
    ask(home, f"telegram:{OWNER.user_id}")
    assert desk.answer(said(OWNER, "always")) == "Allowed Bash for this conversation."
    answer = read_answer(home, "coder", "q1")
    assert answer is not None and answer["decision"] == "allow_session"


def test_a_paired_user_who_is_not_an_approver_cannot_answer(desk: ApprovalDesk, home: Home) -> None:
    ask(home, f"telegram:{ALICE.user_id}")
    note = desk.answer(said(ALICE, "yes"))
    assert note == "Only the owner may answer what the assistant asks permission for."
    assert read_answer(home, "coder", "q1") is None


def test_a_named_approver_may_answer(desk: ApprovalDesk, home: Home) -> None:
    ask(home, f"telegram:{BOB.user_id}")
    assert desk.answer(said(BOB, "n")) == "Denied."


def test_yes_in_a_chat_with_no_question_is_just_a_message(desk: ApprovalDesk, home: Home) -> None:
    ask(home, "telegram:somewhere-else")
    assert desk.answer(said(OWNER, "yes")) is None


def test_a_button_answer_names_its_question_and_is_checked_the_same_way(
    desk: ApprovalDesk, home: Home
) -> None:
    ask(home, f"telegram:{OWNER.user_id}", key="q7")
    meta = {"approval": {"actor": "coder", "key": "q7", "decision": "deny"}}
    assert desk.answer(said(ALICE, "deny", kind="approval", meta=meta)).startswith("Only the owner")
    assert desk.answer(said(OWNER, "deny", kind="approval", meta=meta)) == "Denied."
    gone = desk.answer(said(OWNER, "deny", kind="approval", meta=meta))
    assert gone == "That question is not asked any more."
