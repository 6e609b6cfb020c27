"""The owner hands out a code; whoever sends ``/pair CODE`` first is in. Profiles join
one person's accounts across platforms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from tinyclaw.core.errors import PairingError
from tinyclaw.pairing import Access, Identity, PairingService, RedeemOutcome, Role

from .conftest import ServiceFactory
from .helpers import ALICE, ALICE_DISCORD, BOB, MALLORY, OWNER, FakeClock, code_in


def test_an_invite_lets_its_holder_in(service: PairingService) -> None:
    code = service.invite()
    result = service.redeem(ALICE, code)
    assert result.ok and result.outcome is RedeemOutcome.LINKED
    assert result.profile is not None and result.profile.name == "telegram-1001"
    assert service.check(ALICE).allowed


def test_an_invite_is_single_use(service: PairingService) -> None:
    code = service.invite()
    assert service.redeem(ALICE, code).ok
    second = service.redeem(BOB, code)
    assert second.outcome is RedeemOutcome.WRONG
    assert not service.check(BOB).allowed


def test_an_invite_expires(service: PairingService, clock: FakeClock) -> None:
    code = service.invite(ttl=timedelta(minutes=15))
    clock.advance(minutes=15)
    assert service.redeem(ALICE, code).outcome is RedeemOutcome.WRONG
    assert service.invites() == []


@pytest.mark.parametrize("shape", [str.lower, lambda c: c.replace("-", ""), lambda c: f"  {c} "])
def test_an_invite_is_accepted_as_people_type_it(
    service: PairingService, shape: Callable[[str], str]
) -> None:
    code = service.invite()
    assert service.redeem(ALICE, shape(code)).ok


def test_one_person_on_two_platforms(service: PairingService) -> None:
    assert service.redeem(ALICE, service.invite(profile="alice", actors=["coder"])).ok
    # Alice also wants to talk from Discord: an invite to her profile links the account
    result = service.redeem(ALICE_DISCORD, service.invite(profile="alice"))
    assert result.ok
    [alice] = service.profiles()
    assert alice.identities == ("telegram:1001", "discord:555000111")
    for ident in (ALICE, ALICE_DISCORD):
        decision = service.check(ident)
        assert decision.allowed and decision.profile == alice
        assert service.may_use(ident, "coder") and not service.may_use(ident, "admin")


def test_link_adds_an_account_without_a_code(service: PairingService) -> None:
    service.redeem(ALICE, service.invite(profile="alice"))
    profile = service.link("alice", ALICE_DISCORD)
    assert profile.identities == ("telegram:1001", "discord:555000111")
    assert service.check(ALICE_DISCORD).profile == profile
    with pytest.raises(PairingError, match="no profile"):
        service.link("nobody", BOB)
    service.redeem(BOB, service.invite(profile="bob"))
    with pytest.raises(PairingError, match="already belongs to profile alice"):
        service.link("bob", ALICE_DISCORD)


def test_an_owner_invite_makes_an_owner(service: PairingService) -> None:
    service.redeem(OWNER, service.invite(profile="me", owner=True))
    assert service.is_owner(OWNER)
    assert service.check(OWNER).profile.role is Role.OWNER  # type: ignore[union-attr]
    assert service.may_use(OWNER, "anything")
    # and that owner may now answer from a chat
    code = code_in(service.handle_unknown(BOB))
    assert service.approve(code, by=OWNER).identity == BOB
    assert not service.is_owner(BOB)
    with pytest.raises(PairingError, match="only an owner"):
        service.invite(by=BOB)


def test_owners_and_allow_lists_from_the_config(make_service: ServiceFactory) -> None:
    service = make_service(owners={OWNER}, static_allow={BOB})
    assert service.check(OWNER).owner and service.may_use(OWNER, "x")
    bob = service.check(BOB)
    assert bob.allowed and not bob.owner and service.may_use(BOB, "x")
    assert not service.check(ALICE).allowed


def test_an_invite_to_an_existing_profile_keeps_its_role(service: PairingService) -> None:
    service.redeem(ALICE, service.invite(profile="alice"))
    with pytest.raises(PairingError, match="keeps its role and actors"):
        service.invite(profile="alice", owner=True)
    with pytest.raises(PairingError, match="keeps its role and actors"):
        service.invite(profile="alice", actors=["coder"])


def test_a_paired_sender_does_not_use_up_an_invite(service: PairingService) -> None:
    service.redeem(ALICE, service.invite())
    code = service.invite(owner=True)
    result = service.redeem(ALICE, code)
    assert result.outcome is RedeemOutcome.ALREADY_PAIRED
    assert not service.is_owner(ALICE)
    assert service.redeem(BOB, code).ok


def test_sending_your_own_request_code_is_explained_not_counted(service: PairingService) -> None:
    code = code_in(service.handle_unknown(MALLORY))
    for _ in range(10):
        assert service.redeem(MALLORY, code).outcome is RedeemOutcome.OWN_REQUEST
    assert service.check(MALLORY).state is Access.PENDING
    assert not service.check(MALLORY).allowed


def test_redeem_does_not_accept_someone_elses_request_code(service: PairingService) -> None:
    code = code_in(service.handle_unknown(ALICE))
    assert service.redeem(MALLORY, code).outcome is RedeemOutcome.WRONG
    assert not service.check(MALLORY).allowed


def test_revoke_stops_a_sender_at_once_even_in_another_process(
    make_service: ServiceFactory,
) -> None:
    listener, cli = make_service(), make_service()  # two readers of one store
    listener.redeem(ALICE, listener.invite(profile="alice"))
    listener.link("alice", ALICE_DISCORD)
    assert listener.check(ALICE).allowed
    assert cli.revoke("telegram:1001") == [ALICE]
    assert not listener.check(ALICE).allowed
    assert listener.check(ALICE_DISCORD).allowed
    assert cli.revoke("alice") == [ALICE_DISCORD]
    assert not listener.check(ALICE_DISCORD).allowed
    assert listener.profiles() == []
    with pytest.raises(PairingError, match="not paired"):
        cli.revoke("telegram:1001")


def test_revoking_a_profile_cancels_its_open_invites(service: PairingService) -> None:
    service.redeem(ALICE, service.invite(profile="alice"))
    code = service.invite(profile="alice")
    service.revoke("alice")
    assert service.redeem(ALICE_DISCORD, code).outcome is RedeemOutcome.WRONG


def test_a_profile_changed_after_the_fact(service: PairingService) -> None:
    service.redeem(ALICE, service.invite(profile="alice", actors=["coder"]))
    changed = service.update_profile("alice", role=Role.OWNER, actors=["coder", "reviewer"])
    assert (changed.role, changed.actors) == (Role.OWNER, ("coder", "reviewer"))
    assert service.is_owner(ALICE)
    with pytest.raises(PairingError, match="only an owner"):
        service.update_profile("alice", role=Role.USER, by=BOB)
    with pytest.raises(PairingError, match="not a valid actor name"):
        service.update_profile("alice", actors=["Bad Name"])
    with pytest.raises(PairingError, match="nothing to change"):
        service.update_profile("alice")
    # an owner in chat may demote themselves; actors=None keeps the actors
    assert service.update_profile("alice", role=Role.USER, by=ALICE).actors == (
        "coder",
        "reviewer",
    )
    assert not service.is_owner(ALICE)


def test_names_are_checked(service: PairingService) -> None:
    with pytest.raises(PairingError, match="not a valid profile name"):
        service.invite(profile="../etc")
    with pytest.raises(PairingError, match="not a valid actor name"):
        service.invite(actors=["Bad Name"])
    with pytest.raises(PairingError):
        Identity("telegram", "has space")
    with pytest.raises(PairingError):
        Identity.parse("no-colon")
    assert str(Identity.parse(" whatsapp:+4915112345 ")) == "whatsapp:+4915112345"
