"""The store fails closed: if it cannot be read, nobody it pairs gets in, and nothing
writes an empty store over the damaged one. Who tinyclaw.toml lets in (its owners and
allow_from entries) still gets in, so the owner can reach the assistant to fix it."""

from __future__ import annotations

import json
import stat

import pytest

from tinyclaw.core.errors import PairingError, PairingStoreError
from tinyclaw.core.home import Home
from tinyclaw.pairing import Access, Identity, PairingService, RedeemOutcome

from .conftest import ServiceFactory
from .helpers import ALICE, BOB, OWNER

CAROL = Identity("telegram", "3003")  # in allow_from of tinyclaw.toml

DAMAGE = {
    "truncated JSON": b'{"version": 1, "profiles": [',
    "empty file": b"",
    "not an object": b"[]",
    "unknown version": json.dumps({"version": 2}).encode(),
    "unknown field": json.dumps({"version": 1, "admins": ["telegram:1001"]}).encode(),
    "one identity in two profiles": json.dumps(
        {
            "version": 1,
            "profiles": [
                {"name": "a", "identities": ["telegram:1001"], "created_at": "2030-01-01T00:00Z"},
                {"name": "b", "identities": ["telegram:1001"], "created_at": "2030-01-01T00:00Z"},
            ],
        }
    ).encode(),
    "an identity that is not one": json.dumps(
        {
            "version": 1,
            "profiles": [{"name": "a", "identities": ["1001"], "created_at": "2030-01-01T00:00Z"}],
        }
    ).encode(),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_store_denies_everyone_and_is_never_overwritten(
    make_service: ServiceFactory, home: Home, damage: bytes
) -> None:
    service = make_service(owners={OWNER}, static_allow={CAROL})
    service.redeem(ALICE, service.invite())
    assert service.check(ALICE).allowed
    store = home.pairing / "store.json"
    store.write_bytes(damage)

    decision = service.check(ALICE)
    assert not decision.allowed and decision.state is Access.LOCKED
    assert "unreadable" in decision.reason
    # tinyclaw.toml does not depend on the store: its owners and allow_from entries
    # still reach the assistant (which is how the owner gets in to fix things)
    assert service.check(OWNER).allowed and service.check(OWNER).owner
    assert service.check(CAROL).allowed and not service.check(CAROL).owner
    assert service.handle_unknown(BOB) is None
    assert service.redeem(BOB, "ACDE-FGHJ").outcome is RedeemOutcome.UNAVAILABLE
    for change in (
        lambda: service.invite(),
        lambda: service.approve("ACDE-FGHJ"),
        lambda: service.deny("telegram:2002"),
        lambda: service.revoke("telegram:1001"),
        lambda: service.link("a", BOB),
    ):
        with pytest.raises(PairingStoreError, match="move it aside"):
            change()
    with pytest.raises(PairingStoreError):
        service.profiles()
    assert store.read_bytes() == damage


def test_moving_the_damaged_store_aside_starts_over(service: PairingService, home: Home) -> None:
    store = home.pairing / "store.json"
    store.write_bytes(b"garbage")
    store.rename(home.pairing / "store.json.broken")
    assert service.check(ALICE).state is Access.UNKNOWN
    assert service.redeem(ALICE, service.invite()).ok


def test_the_store_is_written_atomically_and_privately(service: PairingService, home: Home) -> None:
    service.redeem(ALICE, service.invite(profile="alice"))
    store = home.pairing / "store.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE((home.pairing / "secret.key").stat().st_mode) == 0o600
    assert sorted(p.name for p in home.pairing.iterdir()) == [
        "secret.key",
        "store.json",
        "store.lock",
    ]
    data = json.loads(store.read_text())
    assert data["version"] == 1
    assert data["profiles"][0]["identities"] == ["telegram:1001"]


def test_no_code_is_stored_in_the_clear(service: PairingService, home: Home) -> None:
    invite = service.invite()
    reply = service.handle_unknown(BOB)
    assert reply is not None
    text = (home.pairing / "store.json").read_text()
    for code in (invite, reply.split("code is ")[1][:9]):
        assert code not in text and code.replace("-", "") not in text


def test_a_missing_store_is_an_empty_one(service: PairingService, home: Home) -> None:
    assert service.check(ALICE).state is Access.UNKNOWN
    assert service.profiles() == []
    assert not (home.pairing / "store.json").exists()  # reading creates nothing


def test_a_damaged_key_stops_codes_but_not_the_gate(service: PairingService, home: Home) -> None:
    service.redeem(ALICE, service.invite())
    (home.pairing / "secret.key").write_bytes(b"oops")
    fresh = PairingService(home.pairing)
    assert fresh.check(ALICE).allowed  # checking needs no key
    with pytest.raises(PairingError, match="damaged"):
        fresh.invite()
