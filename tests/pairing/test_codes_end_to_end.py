"""What a code cannot do, through a running listener and worker: outlive its TTL, be
used twice, be guessed, or be approved twice by two terminals at once.

The listener (real python-telegram-bot against the loopback Telegram fake) and the
worker (in a thread, ``scripts/fake-cli`` as its CLI) share one clock the test moves;
it starts at the wall clock, so codes made by ``tinyclaw pair`` agree with it until
the test moves it on.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.fakes.telegram_api import TelegramFake
from tinyclaw.core.home import Home
from tinyclaw.pairing import Access, Identity, texts
from tinyclaw.spool import Spool

from .helpers import FakeClock, code_in, wrong_codes
from .stack import (
    configure,
    downloaded,
    failed_reasons,
    gate_for,
    handled,
    incoming,
    said,
    telegram_listener,
    tinyclaw,
    until,
    worker_thread,
)

OLIVIA, ALICE, BOB, CAROL, MALLORY = 100, 1001, 2002, 3003, 6666  # Olivia owns the home
REPO = Path(__file__).resolve().parents[2]
PHOTO = b"\xff\xd8 not for strangers"


def wall_clock() -> FakeClock:
    return FakeClock(datetime.now(UTC))


def nothing_queued(home: Home) -> bool:
    return incoming(home) == [] and failed_reasons(home) == [] and downloaded(home) == []


# -- expiry ------------------------------------------------------------------------


async def test_an_invite_past_its_ttl_is_refused_and_nothing_is_queued(
    home: Home, telegram: TelegramFake
) -> None:
    configure(home)
    clock = wall_clock()
    code = tinyclaw(home, "pair", "invite", "--ttl", "15m").stdout.strip()
    alice = telegram.user(ALICE, "Alice")
    async with telegram_listener(home, telegram, gate_for(home, clock)):
        with worker_thread(home, clock):
            clock.advance(minutes=15, seconds=1)
            telegram.push_message(alice, f"/pair {code}")
            refusal = await said(telegram, ALICE, "not valid")
            telegram.push_message(alice, "so am I in?", photo=PHOTO)
            await said(telegram, ALICE, "pairing code")  # still a stranger: asked to request
    assert refusal.startswith("That code is not valid (wrong, expired or already used).")
    assert not any(t.startswith(("Paired", "echo:")) for t in telegram.texts(ALICE))
    assert nothing_queued(home) and telegram.calls_to("getFile") == []
    assert "No paired profiles" in tinyclaw(home, "pair", "list").stdout


async def test_an_expired_request_cannot_be_approved_and_the_sender_gets_a_fresh_code(
    home: Home, telegram: TelegramFake
) -> None:
    configure(home, f'[pairing]\nowners = ["telegram:{OLIVIA}"]\ncode_ttl = "1h"\n')
    clock = wall_clock()
    bob, olivia = telegram.user(BOB, "Bob"), telegram.user(OLIVIA, "Olivia")
    async with telegram_listener(home, telegram, gate_for(home, clock)):
        with worker_thread(home, clock):
            telegram.push_message(bob, "hello, may I?")
            old = code_in(await said(telegram, BOB, "pairing code"))
            clock.advance(hours=1, seconds=1)

            # The owner approves from chat: the worker's check keeps the same clock.
            telegram.push_message(olivia, f"/approve {old}")
            too_late = await said(telegram, OLIVIA, "did not work")
            telegram.push_message(olivia, "/pending")
            await said(telegram, OLIVIA, "No pending requests")

            telegram.push_message(bob, "hello again?")
            await until(lambda: len(telegram.texts(BOB)) == 2, "a second answer to Bob")
            fresh_text = telegram.texts(BOB)[1]
            fresh = code_in(fresh_text)
            telegram.push_message(olivia, "/pending")
            pending = await said(telegram, OLIVIA, "Pending requests")

            telegram.push_message(olivia, f"/approve {fresh}")
            await said(telegram, OLIVIA, "Approved")
            await said(telegram, BOB, "You're in")
            telegram.push_message(bob, "thanks!")
            await said(telegram, BOB, "echo:")
    assert "no pending request matches" in too_late and "expired" in too_late
    assert fresh != old and "valid for 1 hour" in fresh_text
    # ages and time left come from the service's clock, not the wall clock
    assert "telegram:2002 (Bob): asked just now, expires in 1 hour" in pending
    assert incoming(home) == [] and failed_reasons(home) == []


# -- single use ---------------------------------------------------------------------


async def test_an_invite_code_works_once(home: Home, telegram: TelegramFake) -> None:
    configure(home)
    code = tinyclaw(home, "pair", "invite").stdout.strip()
    alice, bob = telegram.user(ALICE, "Alice"), telegram.user(BOB, "Bob")
    async with telegram_listener(home, telegram):
        with worker_thread(home):
            telegram.push_message(alice, f"/pair {code.lower()}")
            await said(telegram, ALICE, "Paired")
            telegram.push_message(bob, f"/pair {code}")
            refusal = await said(telegram, BOB, "not valid")
            telegram.push_message(bob, "but I have the code", photo=PHOTO)
            await said(telegram, BOB, "pairing code")  # a stranger, not paired
            telegram.push_message(alice, "and me?")
            await said(telegram, ALICE, "echo:")
    assert "wrong, expired or already used" in refusal
    assert not any(t.startswith(("Paired", "echo:")) for t in telegram.texts(BOB))
    assert nothing_queued(home) and telegram.calls_to("getFile") == []
    listing = tinyclaw(home, "pair", "list").stdout
    assert f"telegram:{ALICE}" in listing and f"telegram:{BOB}" not in listing


# -- guessing -----------------------------------------------------------------------


async def test_ten_thousand_wrong_codes_through_the_listener_never_get_in(
    home: Home, telegram: TelegramFake
) -> None:
    """The first guesses arrive through Telegram; the rest of the 10,000 go straight
    into the running listener's gate (``handle_pair``, what the listener calls for
    ``/pair``), since 10,000 updates through the fake would take minutes."""
    configure(home)
    clock = wall_clock()
    gate = gate_for(home, clock)
    real = tinyclaw(home, "pair", "invite", "--profile", "alice").stdout.strip()
    guesses = wrong_codes(10_000, real)
    mallory, alice = telegram.user(MALLORY, "Mallory"), telegram.user(ALICE, "Alice")
    async with telegram_listener(home, telegram, gate):
        with worker_thread(home, clock):
            for guess in guesses[:3]:
                telegram.push_message(mallory, f"/pair {guess}")
            await until(lambda: len(telegram.texts(MALLORY)) == 3, "three refusals")
            answers = [gate.handle_pair("telegram", str(MALLORY), g) for g in guesses[3:]]

            telegram.push_message(mallory, f"/pair {real}")  # the right code, too late
            await said(telegram, MALLORY, "Too many wrong codes")
            last = telegram.push_message(mallory, "just let me in", photo=PHOTO)
            await handled(telegram, last)
            mallory_saw = telegram.texts(MALLORY)

            telegram.push_message(alice, f"/pair {real}")  # whom it was meant for
            await said(telegram, ALICE, "Paired")
            telegram.push_message(alice, "hello")
            await said(telegram, ALICE, "echo:")
    assert mallory_saw[:3] == [texts.wrong(n) for n in (4, 3, 2)]
    assert answers[0] == texts.wrong(1)
    assert set(answers[1:]) == {"Too many wrong codes. Try again in 15 minutes."}
    assert len(mallory_saw) == 4 and mallory_saw[3].startswith("Too many wrong codes")
    assert not any("Paired" in t for t in answers + mallory_saw)
    assert gate.pairing.check(Identity("telegram", str(MALLORY))).state is Access.LOCKED
    assert not any(t.startswith("echo:") for t in mallory_saw)
    assert nothing_queued(home) and telegram.calls_to("getFile") == []
    profiles = json.loads((home.pairing / "store.json").read_text())["profiles"]
    assert [p["identities"] for p in profiles] == [[f"telegram:{ALICE}"]]


# -- two terminals at once ----------------------------------------------------------


def _race(home: Home, *commands: tuple[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """Start ``tinyclaw pair VERB CODE`` for each (verb, code) at once, as real
    processes, and wait for all of them."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tinyclaw", "--home", str(home.root), "pair", verb, code],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for verb, code in commands
    ]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def _one_winner(results: list[subprocess.CompletedProcess[str]]) -> int:
    """Index of the only racer that succeeded; every other failed with one clear line."""
    winners = [n for n, r in enumerate(results) if r.returncode == 0]
    assert len(winners) == 1, [(r.returncode, r.stdout, r.stderr) for r in results]
    for n, result in enumerate(results):
        if n == winners[0]:
            continue
        assert result.returncode == 1 and result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: no pending request matches"), line
    return winners[0]


async def test_two_terminals_answering_one_request_at_once_exactly_one_wins(
    home: Home, telegram: TelegramFake
) -> None:
    configure(home)
    bob, carol = telegram.user(BOB, "Bob"), telegram.user(CAROL, "Carol")
    spool = Spool(home)
    async with telegram_listener(home, telegram):
        telegram.push_message(bob, "hi")
        telegram.push_message(carol, "hi")
        bob_code = code_in(await said(telegram, BOB, "pairing code"))
        carol_code = code_in(await said(telegram, CAROL, "pairing code"))

    # The listener is down, so every notice the racers queue stays countable.
    both_approve = await asyncio.to_thread(
        _race, home, ("approve", bob_code), ("approve", bob_code)
    )
    winner = _one_winner(both_approve)
    assert both_approve[winner].stdout.startswith("Approved telegram:2002 as profile")
    approve_or_deny = await asyncio.to_thread(
        _race, home, ("approve", carol_code), ("deny", carol_code)
    )
    carol_in = _one_winner(approve_or_deny) == 0

    store = json.loads((home.pairing / "store.json").read_text())
    identities = [i for p in store["profiles"] for i in p["identities"]]
    assert sorted(identities) == sorted(["telegram:2002"] + ["telegram:3003"] * carol_in)
    assert store["requests"] == {}
    assert len(spool.list_box(spool.outgoing("telegram"))) == 1 + carol_in

    async with telegram_listener(home, telegram):
        with worker_thread(home):
            await said(telegram, BOB, "You're in")
            await until(lambda: not spool.list_box(spool.outgoing("telegram")), "all delivered")
            telegram.push_message(bob, "thanks!")
            await said(telegram, BOB, "echo:")
            last = telegram.push_message(carol, "and me?")
            await handled(telegram, last)
            if carol_in:
                await said(telegram, CAROL, "echo:")
    assert sum("You're in" in t for t in telegram.texts(BOB)) == 1
    carol_saw = telegram.texts(CAROL)[1:]  # after her code: told once and served, or silence
    assert [t.split()[0] for t in carol_saw] == (["You're", "echo:"] if carol_in else [])
    assert incoming(home) == [] and failed_reasons(home) == []
