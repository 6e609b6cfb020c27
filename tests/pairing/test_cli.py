"""The owner at a terminal: ``tinyclaw pair list|pending|approve|deny|revoke|invite|link|profile``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import typer
from typer.testing import CliRunner, Result

from tinyclaw.cli.pair import register
from tinyclaw.config.template import DEFAULT_CONFIG
from tinyclaw.core.home import Home
from tinyclaw.core.messages import load_reply
from tinyclaw.pairing import Identity, PairingService, RedeemOutcome
from tinyclaw.pairing.texts import ago
from tinyclaw.spool import Spool

from .helpers import ALICE, ALICE_DISCORD, BOB, OWNER, code_in

CONFIG = (
    DEFAULT_CONFIG
    + '\n[actors.coder]\nrunner = "claude"\n'
    + '\n[pairing]\nowners = ["telegram:1"]\ncode_ttl = "30m"\n'
)


@pytest.fixture
def told() -> list[tuple[Identity, str]]:
    return []


@pytest.fixture
def app(home: Home, told: list[tuple[Identity, str]]) -> typer.Typer:
    home.config_file.write_text(CONFIG)
    main = typer.Typer()

    @main.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = home

    register(main, notifier=lambda h: lambda notice: told.append((notice.identity, notice.text)))
    return main


Run = Callable[..., Result]


@pytest.fixture
def run(app: typer.Typer) -> Run:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["pair", *args])

    return invoke


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def _fails(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0]


@pytest.fixture
def service(home: Home) -> PairingService:  # what a listener would hold
    return PairingService(home.pairing)


def test_invite_then_list(run: Run, service: PairingService) -> None:
    result = run("invite", "--profile", "alice", "--actors", "assistant", "--ttl", "2h")
    code = _ok(result).strip()
    assert code_in(code) == code
    assert f"/pair {code}" in result.stderr and "2 hours" in result.stderr
    assert "Open invites: 1" in _ok(run("list"))

    assert service.redeem(ALICE, code).ok
    listing = _ok(run("list"))
    assert "alice" in listing and "telegram:1001" in listing and "assistant" in listing
    assert "Owners from tinyclaw.toml: telegram:1" in listing


def test_pending_then_approve(
    run: Run, service: PairingService, told: list[tuple[Identity, str]]
) -> None:
    assert "No pending requests" in _ok(run("pending"))
    code = code_in(service.handle_unknown(ALICE, "Alice [bold]A[/bold]"))
    listing = _ok(run("pending"))
    assert "telegram:1001" in listing and "Alice [bold]A[/bold]" in listing
    assert "just now" in listing and "1 minute ago" not in listing  # asked a moment ago
    assert code not in listing  # the owner approves the code the sender hands over

    out = _ok(run("approve", code.lower()))
    assert "Approved telegram:1001 as profile telegram-1001" in out
    assert told == [(ALICE, told[0][1])] and "You're in" in told[0][1]
    assert service.check(ALICE).allowed
    _fails(run("approve", code), "no pending request")


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (2, "just now"),
        (-3, "just now"),  # a clock a little behind the one that wrote the request
        (42, "42 seconds ago"),
        (61, "1 minute ago"),
        (119, "1 minute ago"),  # rounded down: it was not two minutes yet
        (3600 + 5 * 60, "1 hour 5 minutes ago"),
        (3 * 86400, "3 days ago"),
    ],
)
def test_how_long_ago_a_request_was_made_is_rounded_down(seconds: int, said: str) -> None:
    assert ago(timedelta(seconds=seconds)) == said


def test_approve_without_a_notifier_says_what_to_tell(home: Home, service: PairingService) -> None:
    main = typer.Typer()
    main.callback()(lambda: None)
    register(main, notifier=None)  # TINYCLAW_HOME finds the home
    code = code_in(service.handle_unknown(BOB))
    out = _ok(CliRunner().invoke(main, ["pair", "approve", code]))
    assert "not told automatically" in out


def test_approve_queues_the_notice_for_the_chat_the_sender_asked_from(
    home: Home, service: PairingService
) -> None:
    main = typer.Typer()
    main.callback()(lambda: None)
    register(main)  # as the real app mounts it: notices go to the outgoing queue
    code = code_in(service.handle_unknown(ALICE_DISCORD, "Alice", chat_id="dm-777"))
    out = _ok(CliRunner().invoke(main, ["pair", "approve", code]))
    assert "told in their chat" in out
    spool = Spool(home)
    [path] = spool.list_box(spool.outgoing("discord"))
    notice = load_reply(path.read_bytes())
    assert (notice.kind, notice.chat_id) == ("notice", "dm-777")
    assert "You're in" in notice.text


def test_a_discord_request_without_a_chat_cannot_be_announced(
    home: Home, service: PairingService
) -> None:
    main = typer.Typer()
    main.callback()(lambda: None)
    register(main)
    code = code_in(service.handle_unknown(ALICE_DISCORD))  # recorded before chats were kept
    out = _ok(CliRunner().invoke(main, ["pair", "approve", code]))
    assert "not told automatically" in out and "You're in" in out
    assert Spool(home).list_box(Spool(home).outgoing("discord")) == []


def test_deny(run: Run, service: PairingService) -> None:
    code = code_in(service.handle_unknown(BOB))
    assert "Denied the request of telegram:2002" in _ok(run("deny", code))
    assert not service.check(BOB).allowed and service.handle_unknown(BOB) is None
    _fails(run("deny", "telegram:2002"), "no pending request")


def test_link_and_revoke(run: Run, service: PairingService) -> None:
    service.redeem(ALICE, service.invite(profile="alice"))
    out = _ok(run("link", "alice", "discord:555000111"))
    assert "telegram:1001 discord:555000111" in out
    assert service.check(ALICE_DISCORD).allowed

    assert "Revoked: telegram:1001" in _ok(run("revoke", "telegram:1001"))
    assert not service.check(ALICE).allowed and service.check(ALICE_DISCORD).allowed
    assert "Revoked: discord:555000111" in _ok(run("revoke", "alice"))
    assert not service.check(ALICE_DISCORD).allowed
    _fails(run("revoke", "alice"), "no profile or identity 'alice'")
    _fails(run("link", "alice", "discord:1"), "no profile 'alice'")
    _fails(run("link", "bob", "nonsense"), "not an identity")


def test_revoking_a_config_owner_warns_that_the_config_still_allows_them(
    run: Run, service: PairingService
) -> None:
    service.redeem(OWNER, service.invite(profile="me", owner=True))
    out = _ok(run("revoke", "me"))
    assert "telegram:1 is still allowed by tinyclaw.toml" in out


def test_profile_changes_role_and_actors_from_the_next_message(
    run: Run, service: PairingService, home: Home
) -> None:
    service.redeem(ALICE, service.invite(profile="alice", actors=["assistant"]))
    service.link("alice", ALICE_DISCORD)
    assert not service.is_owner(ALICE) and not service.may_use(ALICE, "coder")

    out = _ok(run("profile", "alice", "--actors", "coder,assistant,coder"))
    assert out.strip() == "Profile alice: role user, actors coder, assistant"
    assert service.may_use(ALICE_DISCORD, "coder")  # every account of the person

    out = _ok(run("profile", "alice", "--role", "owner"))
    assert "role owner, actors coder, assistant" in out
    assert service.is_owner(ALICE) and service.is_owner(ALICE_DISCORD)
    # now she may answer requests from her chat
    code = code_in(service.handle_unknown(BOB))
    assert service.approve(code, by=ALICE).identity == BOB

    out = _ok(run("profile", "alice", "--role", "user", "--actors", ""))
    assert "role user, actors all" in out
    assert not service.is_owner(ALICE) and service.may_use(ALICE, "anything")
    assert "Note:" not in out  # telegram:1 still owns the home through tinyclaw.toml
    [alice] = [p for p in service.profiles() if p.name == "alice"]
    assert alice.identities == ("telegram:1001", "discord:555000111")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["profile", "ghost", "--role", "owner"], "no profile 'ghost'"),
        (["profile", "alice"], "nothing to change"),
        (["profile", "alice", "--role", "admin"], "'admin' is not a role: use owner or user"),
        (["profile", "alice", "--actors", "assistant,ghost"], "unknown actor(s) ghost"),
        (["profile", "alice", "--actors", "Bad Name"], "unknown actor(s) Bad Name"),
        (["profile", "Not A Name", "--role", "user"], "not a valid profile name"),
    ],
)
def test_profile_mistakes_change_nothing(
    run: Run, service: PairingService, home: Home, args: list[str], message: str
) -> None:
    service.redeem(ALICE, service.invite(profile="alice", actors=["assistant"]))
    before = (home.pairing / "store.json").read_bytes()
    _fails(run(*args), message)
    assert (home.pairing / "store.json").read_bytes() == before


def test_demoting_the_last_owner_says_how_to_get_one_back(
    home: Home, service: PairingService
) -> None:
    main = typer.Typer()
    main.callback()(lambda: None)
    register(main, notifier=None)  # TINYCLAW_HOME finds the home; no tinyclaw.toml
    service.redeem(OWNER, service.invite(profile="me", owner=True))
    out = _ok(CliRunner().invoke(main, ["pair", "profile", "me", "--role", "user"]))
    assert "no owner is left" in out and "--role owner" in out
    assert not service.is_owner(OWNER)


def test_owner_invite(run: Run, service: PairingService) -> None:
    code = _ok(run("invite", "--owner")).strip()
    assert service.redeem(BOB, code).outcome is RedeemOutcome.LINKED
    assert service.is_owner(BOB)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["invite", "--actors", "assistant,ghost"], "unknown actor(s) ghost"),
        (["invite", "--ttl", "soon"], "not a duration"),
        (["invite", "--ttl", "90d"], "between 1 second and 30 days"),
        (["invite", "--profile", "Not A Name"], "not a valid profile name"),
        (["approve", "nope"], "not a pairing code"),
        (["revoke", "telegram:42"], "not paired"),
    ],
)
def test_mistakes_are_one_line_and_exit_1(run: Run, args: list[str], message: str) -> None:
    _fails(run(*args), message)


def test_a_damaged_store_is_reported_not_replaced(run: Run, home: Home) -> None:
    store = home.pairing / "store.json"
    store.write_text("{oops")
    _fails(run("list"), "pairing store is unreadable")
    _fails(run("invite"), "move it aside")
    assert store.read_text() == "{oops"


def test_a_broken_config_is_one_line(run: Run, home: Home) -> None:
    home.config_file.write_text(CONFIG.replace('code_ttl = "30m"', 'code_ttl = "later"'))
    _fails(run("list"), "pairing.code_ttl")


def test_a_one_second_invite_says_one_second(run: Run) -> None:
    result = run("invite", "--ttl", "1s")
    assert "Single use, valid for 1 second." in result.stderr


def test_approving_the_help_example_of_old_names_the_symbol_codes_never_use(run: Run) -> None:
    result = run("approve", "ABCD-EFGH")
    assert result.exit_code == 1
    assert "codes never contain B" in result.stderr and "e.g. KQ7M-T4XA" in result.stderr
    assert "KQ7M-T4XA" in run("approve", "--help").stdout


def test_list_and_pending_as_json(run: Run, service: PairingService) -> None:
    import json

    assert json.loads(_ok(run("pending", "--json"))) == {"requests": []}
    service.handle_unknown(ALICE, "Alice")
    (request,) = json.loads(_ok(run("pending", "--json")))["requests"]
    assert request["identity"] == "telegram:1001" and request["name"] == "Alice"
    assert request["asked_at"] < request["expires_at"]

    code = _ok(run("invite", "--profile", "bob", "--actors", "assistant")).strip()
    assert service.redeem(BOB, code).ok
    listing = json.loads(_ok(run("list", "--json")))
    assert listing["owners"] == ["telegram:1"]
    assert listing["open_invites"] == 0
    (bob,) = listing["profiles"]
    assert bob["name"] == "bob" and bob["role"] == "user" and bob["actors"] == ["assistant"]
    assert bob["identities"] == [str(BOB)]
