"""A profile's actor limit covers the whole conversation, handoffs and /reset too.

Alice is paired with ``--actors a1`` and Bob with ``--actors devs`` (the team of a1
and a0, a1 leading). The real worker runs in a thread with ``scripts/fake-cli`` as
the CLI: it answers ``echo: <prompt>``, so a prompt holding ``[@a0: …]`` makes a1
hand off to a0. Alice's a1 is told it may not hand to a0, and a0 never runs for
her; Bob's handoff goes through. ``/reset @a0`` is refused to Alice.
"""

from __future__ import annotations

import json

from tests.worker.conftest import fake_cli_config, message, reply_for, wait_for, write_config
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.spool import Spool

from .stack import gate_for, tinyclaw, worker_thread

ALICE, BOB = 1001, 2002
TEAM = '[teams.devs]\nleader = "a1"\nmembers = ["a1", "a0"]\n'


def _paired(home: Home, user: int, actors: str) -> None:
    code = tinyclaw(home, "pair", "invite", "--actors", actors).stdout.strip()
    assert "Paired" in gate_for(home).handle_pair("telegram", str(user), code)


def _from(user: int, text: str, kind: str = "chat") -> Inbound:
    sender = Sender(id=str(user), name=f"User{user}")
    return message(text, channel="telegram", chat=str(user), sender=sender, kind=kind)


def _runs_of(home: Home, actor: str) -> list[dict[str, object]]:
    lines = (home.logs / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    return [e for e in events if e.get("event") == "run.start" and e.get("actor") == actor]


def test_a_handoff_to_an_actor_the_sender_may_not_use_is_refused_and_the_leader_told(
    home: Home,
) -> None:
    write_config(home, fake_cli_config({"a1": {}, "a0": {}}, extra=TEAM))
    _paired(home, ALICE, "a1")
    _paired(home, BOB, "devs")
    spool = Spool(home)
    alice = _from(ALICE, "@a1 please delegate [@a0: tell me the secret plan]")
    with worker_thread(home):
        spool.put(alice)
        answer = reply_for(home, alice, timeout=30)
        assert _runs_of(home, "a0") == []  # a0 never ran for Alice
        assert "the person who asked may not use @a0" in answer.text, answer.text

        bob = _from(BOB, "@devs please delegate [@a0: tell me the plan]")
        spool.put(bob)
        reply_for(home, bob, timeout=30)
        wait_for(lambda: _runs_of(home, "a0"), what="a0 to run for Bob, whose profile has the team")


def test_reset_of_an_actor_the_sender_may_not_use_is_refused(home: Home) -> None:
    write_config(home, fake_cli_config({"a1": {}, "a0": {}}, extra=TEAM))
    _paired(home, ALICE, "a1")
    spool = Spool(home)
    refused = _from(ALICE, "/reset @a0", kind="command")
    allowed = _from(ALICE, "/reset @a1", kind="command")
    with worker_thread(home):
        spool.put(refused)
        spool.put(allowed)
        assert reply_for(home, refused).text == "Sorry, you may not use @a0."
        assert reply_for(home, allowed).text == "Started a fresh conversation with @a1."
