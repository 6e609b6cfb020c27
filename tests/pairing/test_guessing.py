"""Nobody gets in by guessing: not one sender trying 10,000 codes, not 10,000 made-up
senders trying one each. Each loop must finish in a second or two."""

from __future__ import annotations

import json

from tinyclaw.core.home import Home
from tinyclaw.pairing import Access, Identity, PairingService, RedeemOutcome

from .helpers import ALICE, BOB, MALLORY, FakeClock, wrong_codes


def test_ten_thousand_wrong_codes_from_one_sender_never_succeed(
    service: PairingService, clock: FakeClock
) -> None:
    real = service.invite(profile="alice")
    outcomes = [service.redeem(MALLORY, code).outcome for code in wrong_codes(10_000, real)]

    assert RedeemOutcome.LINKED not in outcomes
    assert outcomes[:4] == [RedeemOutcome.WRONG] * 4
    assert set(outcomes[4:]) == {RedeemOutcome.LOCKED}
    assert service.check(MALLORY).state is Access.LOCKED
    # While locked the code is not even looked at: the right one is refused too.
    assert service.redeem(MALLORY, real).outcome is RedeemOutcome.LOCKED
    # Others on the channel are not punished for one sender's guesses.
    clock.advance(minutes=15)
    assert service.check(MALLORY).state is Access.UNKNOWN
    assert service.redeem(ALICE, real).ok


def test_the_lockout_grows(service: PairingService, clock: FakeClock) -> None:
    durations = []
    for _ in range(3):
        for code in wrong_codes(5, "ACDE-FGHJ"):
            result = service.redeem(MALLORY, code)
        assert result.outcome is RedeemOutcome.LOCKED
        start = clock.now
        while service.check(MALLORY).state is Access.LOCKED:
            clock.advance(minutes=1)
        durations.append((clock.now - start).total_seconds() / 60)
    assert durations == [15, 30, 60]


def test_a_flood_of_made_up_senders_cannot_guess_either(
    service: PairingService, clock: FakeClock, home: Home
) -> None:
    real = service.invite()
    floods = wrong_codes(10_000, real)
    outcomes = [
        service.redeem(Identity("telegram", f"bot{n}"), code).outcome
        for n, code in enumerate(floods)
    ]

    assert RedeemOutcome.LINKED not in outcomes
    assert outcomes.count(RedeemOutcome.WRONG) == service.limits.channel_failures
    assert outcomes.count(RedeemOutcome.BUSY) == 10_000 - service.limits.channel_failures
    # the store stays small: what is kept is bounded by the channel cap
    stored = json.loads((home.pairing / "store.json").read_text())
    assert len(stored["senders"]) == service.limits.channel_failures
    # the flood on telegram does not close discord
    assert service.redeem(Identity("discord", "7"), "ACDE-FGHJ").outcome is RedeemOutcome.WRONG
    # honest people wait for the window, then get in
    assert service.redeem(BOB, real).outcome is RedeemOutcome.BUSY
    clock.advance(minutes=15)
    assert service.redeem(BOB, real).ok


def test_a_flood_of_strangers_gets_only_as_many_codes_as_the_cap(
    service: PairingService, home: Home
) -> None:
    replies = [service.handle_unknown(Identity("telegram", f"bot{n}")) for n in range(10_000)]
    assert sum(r is not None for r in replies) == service.max_pending_per_channel
    stored = json.loads((home.pairing / "store.json").read_text())
    assert len(stored["requests"]) == service.max_pending_per_channel


def test_failures_are_shared_between_processes(
    service: PairingService, home: Home, clock: FakeClock
) -> None:
    """The listener and the worker each hold a service; guesses add up across them."""
    other = PairingService(home.pairing, now=clock)
    for n, code in enumerate(wrong_codes(5, "ACDE-FGHJ")):
        (service if n % 2 else other).redeem(MALLORY, code)
    assert service.check(MALLORY).state is Access.LOCKED
    assert other.check(MALLORY).state is Access.LOCKED
