"""A stranger writes, gets a code, hands it to the owner; the owner lets them in."""

from __future__ import annotations

import pytest

from tinyclaw.core.errors import PairingError, SpoolError
from tinyclaw.pairing import Access, Identity, Notice, PairingService

from .conftest import ServiceFactory
from .helpers import ALICE, BOB, OWNER, FakeClock, code_in


def test_an_unknown_sender_is_not_allowed_and_gets_a_code(service: PairingService) -> None:
    decision = service.check(ALICE)
    assert decision.state is Access.UNKNOWN and not decision.allowed

    reply = service.handle_unknown(ALICE, "Alice")
    code = code_in(reply)
    assert f"tinyclaw pair approve {code}" in (reply or "")
    assert service.check(ALICE).state is Access.PENDING
    assert [r.identity for r in service.pending()] == ["telegram:1001"]
    assert service.pending()[0].display_name == "Alice"


def test_the_owner_approves_and_the_sender_is_told(make_service: ServiceFactory) -> None:
    told: list[tuple[Identity, str]] = []
    service = make_service(notify=lambda n: told.append((n.identity, n.text)))
    code = code_in(service.handle_unknown(ALICE, "Alice"))

    approval = service.approve(code.lower().replace("-", ""))

    assert approval.identity == ALICE and approval.notified
    assert told == [(ALICE, approval.notice)]
    decision = service.check(ALICE)
    assert decision.allowed and decision.profile == approval.profile
    assert approval.profile.label == "Alice" and not decision.owner
    assert service.pending() == []
    assert service.handle_unknown(ALICE) is None  # allowed people are not given codes


def test_a_code_approves_once(service: PairingService) -> None:
    code = code_in(service.handle_unknown(ALICE))
    service.approve(code)
    with pytest.raises(PairingError, match="no pending request"):
        service.approve(code)


def test_the_same_sender_gets_the_same_code_back_and_is_not_flooded(
    service: PairingService, clock: FakeClock
) -> None:
    first = code_in(service.handle_unknown(ALICE))
    for _ in range(20):  # a chatty stranger: quiet until the reminder interval passes
        assert service.handle_unknown(ALICE) is None
        assert service.check(ALICE).state is Access.PENDING
    clock.advance(minutes=10)
    assert code_in(service.handle_unknown(ALICE)) == first
    assert service.handle_unknown(ALICE) is None


def test_an_expired_request_cannot_be_approved_and_the_sender_starts_again(
    service: PairingService, clock: FakeClock
) -> None:
    old = code_in(service.handle_unknown(ALICE))
    clock.advance(minutes=59)
    assert service.check(ALICE).state is Access.PENDING
    clock.advance(minutes=1)
    assert service.check(ALICE).state is Access.UNKNOWN
    with pytest.raises(PairingError, match="expired"):
        service.approve(old)
    new = code_in(service.handle_unknown(ALICE))
    assert new != old
    service.approve(new)
    assert service.check(ALICE).allowed


def test_pending_requests_are_capped_per_channel(make_service: ServiceFactory) -> None:
    service = make_service(max_pending_per_channel=3)
    strangers = [Identity("telegram", str(n)) for n in range(10)]
    replies = [service.handle_unknown(s) for s in strangers]
    assert [r is not None for r in replies] == [True] * 3 + [False] * 7
    assert len(service.pending()) == 3
    assert service.check(strangers[5]).state is Access.UNKNOWN
    # another platform has its own cap
    assert service.handle_unknown(Identity("discord", "1")) is not None
    # answering one request makes room for one more
    service.approve(code_in(replies[0]))
    assert service.handle_unknown(strangers[5]) is not None
    assert service.handle_unknown(strangers[6]) is None


def test_a_denied_sender_is_kept_quiet_for_a_day(service: PairingService, clock: FakeClock) -> None:
    code = code_in(service.handle_unknown(BOB))
    assert service.deny(code) == BOB
    assert service.check(BOB).state is Access.LOCKED
    assert service.handle_unknown(BOB) is None
    with pytest.raises(PairingError):
        service.approve(code)
    clock.advance(hours=24)
    assert code_in(service.handle_unknown(BOB)) != code


def test_deny_by_identity(service: PairingService) -> None:
    service.handle_unknown(BOB)
    assert service.deny("telegram:2002") == BOB
    assert service.pending() == []
    with pytest.raises(PairingError):
        service.deny("telegram:2002")


def test_approve_into_a_named_profile_with_some_actors(service: PairingService) -> None:
    code = code_in(service.handle_unknown(ALICE))
    approval = service.approve(code, profile="alice", actors=["coder"])
    assert approval.profile.name == "alice"
    assert service.may_use(ALICE, "coder")
    assert not service.may_use(ALICE, "reviewer")


def test_a_notice_that_cannot_be_delivered_does_not_undo_the_approval(
    make_service: ServiceFactory,
) -> None:
    def broken(notice: Notice) -> None:
        raise SpoolError("disk full")

    service = make_service(notify=broken)
    approval = service.approve(code_in(service.handle_unknown(ALICE)))
    assert not approval.notified
    assert service.check(ALICE).allowed


def test_only_an_owner_approves_from_a_chat(make_service: ServiceFactory) -> None:
    service = make_service(owners={OWNER})
    code = code_in(service.handle_unknown(ALICE))
    with pytest.raises(PairingError, match="only an owner"):
        service.approve(code, by=BOB)
    assert service.approve(code, by=OWNER).identity == ALICE


def test_a_display_name_cannot_smuggle_control_characters(service: PairingService) -> None:
    service.handle_unknown(ALICE, "Eve\x1b[31m\n\u202eadmin" + "x" * 200)
    name = service.pending()[0].display_name
    assert "\x1b" not in name and "\n" not in name and "\u202e" not in name
    assert len(name) <= 64


def test_typos_in_an_approval_are_one_clear_error(service: PairingService) -> None:
    with pytest.raises(PairingError, match="not a pairing code"):
        service.approve("hello")
