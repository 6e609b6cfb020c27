"""Who may switch a model with ``/model``, answered by the real command handler over a
real pairing store and the real choices file (no worker needed: a running run is a
real open model box)."""

from __future__ import annotations

from dataclasses import replace

from tests.worker.conftest import message
from tinyclaw.config import parse_config
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.pairing import Identity, PairingService
from tinyclaw.worker.commands import CommandContext, handle_command
from tinyclaw.worker.model_choice import ModelChoices
from tinyclaw.worker.model_switch import ModelSwitches

OWNER = Identity("telegram", "1")
ALICE = Identity("telegram", "1001")
BOB = Identity("telegram", "2002")
CONFIG = parse_config(
    {
        "actors": {
            "assistant": {"models": ["sonnet", "opus"]},
            "coder": {"model": "gpt-5.5", "runner": "codex"},
        },
        "teams": {"devs": {"leader": "assistant", "members": ["assistant", "coder"]}},
    }
)


def command(ident: Identity, text: str, *, group: bool = False) -> Inbound:
    return message(
        text,
        channel=ident.channel,
        chat="-500" if group else ident.user_id,
        kind="command",
        is_group=group,
        sender=Sender(id=ident.user_id),
    )


def setup(home: Home) -> tuple[CommandContext, ModelChoices, list[tuple[str, str]]]:
    pairing = PairingService(home.pairing, owners={OWNER})
    pairing.redeem(ALICE, pairing.invite())
    pairing.redeem(BOB, pairing.invite(actors=["coder"]))
    choices = ModelChoices(home.actors)
    resets: list[tuple[str, str]] = []
    ctx = CommandContext(
        CONFIG,
        reset_session=lambda actor, key: resets.append((actor, key)),
        chat_status=lambda m: "",
        cancel_chat=lambda m: [],
        pairing=pairing,
        models=choices,
    )
    return ctx, choices, resets


def test_a_paired_user_switches_only_their_own_chat(home: Home) -> None:
    ctx, choices, _ = setup(home)
    answer = handle_command(command(ALICE, "/model opus"), ctx)
    assert answer == "@assistant now uses opus in this chat, from the next message on."
    assert choices.get("assistant", "telegram:1001") == "opus"
    assert choices.get("assistant", "telegram:2002") is None
    # Addressing the team switches its leader, the actor that gets the chat's messages.
    handle_command(command(ALICE, "/model @devs sonnet"), ctx)
    assert choices.get("assistant", "telegram:1001") == "sonnet"


def test_in_a_group_only_an_owner_switches_but_anyone_may_look(home: Home) -> None:
    ctx, choices, _ = setup(home)
    refused = handle_command(command(ALICE, "/model opus", group=True), ctx)
    assert refused == (
        "Sorry, only the owner can do that. "
        "In a group, only an owner may switch the model for everyone."
    )
    assert choices.get("assistant", "telegram:-500") is None
    assert handle_command(command(ALICE, "/model", group=True), ctx).startswith(
        "@assistant uses the CLI's default model in this chat."
    )
    assert handle_command(command(OWNER, "/model opus", group=True), ctx).startswith(
        "@assistant now uses opus"
    )
    assert choices.get("assistant", "telegram:-500") == "opus"


def test_an_actor_outside_the_profile_or_without_models_cannot_be_switched(home: Home) -> None:
    ctx, _, _ = setup(home)
    assert handle_command(command(BOB, "/model opus"), ctx) == "Sorry, you may not use @assistant."
    assert handle_command(command(BOB, "/model @coder o3"), ctx) == (
        "@coder offers no models to pick from; it uses gpt-5.5."
    )
    assert handle_command(command(BOB, "/model @coder"), ctx) == (
        "@coder uses gpt-5.5 in this chat.\n"
        "It offers no other models (the owner can list some in [actors.coder] models)."
    )
    assert handle_command(command(ALICE, "/model @ghost opus"), ctx) == (
        "No actor called @ghost. Try /actors."
    )
    assert list(home.actors.glob("*/models.json")) == []


def test_back_to_default_starts_a_fresh_claude_conversation_only_when_it_must(
    home: Home,
) -> None:
    ctx, choices, resets = setup(home)
    handle_command(command(ALICE, "/model opus"), ctx)
    back = handle_command(command(ALICE, "/model default"), ctx)
    assert back.endswith("This starts a fresh conversation.")
    assert resets == [("assistant", "telegram:1001")]
    assert choices.get("assistant", "telegram:1001") is None
    # Nothing was chosen: nothing to undo, the conversation goes on.
    again = handle_command(command(ALICE, "/model default"), ctx)
    assert (
        again == "@assistant is back to its default model (the CLI's default model) in this chat."
    )
    assert len(resets) == 1


def test_a_stale_choice_falls_back_to_the_actors_model(home: Home) -> None:
    ctx, choices, _ = setup(home)
    choices.set("assistant", "telegram:1001", "retired-model")  # no longer offered
    shown = handle_command(command(ALICE, "/model"), ctx)
    assert shown.startswith("@assistant uses the CLI's default model in this chat.")


def test_a_switch_reaches_the_run_of_that_chat_that_is_working_now(home: Home) -> None:
    config = parse_config(
        {"actors": {"assistant": {"model": "sonnet", "models": ["sonnet", "opus", "haiku"]}}}
    )
    ctx, choices, resets = setup(home)
    switches = ModelSwitches()
    ctx = replace(ctx, config=config, switch_running=switches.switch)
    running = switches.open("assistant", "telegram:1001")  # Alice's run is working
    elsewhere = switches.open("assistant", "telegram:2002")

    answer = handle_command(command(ALICE, "/model opus"), ctx)
    assert answer == (
        "@assistant now uses opus in this chat; the turn that is running switched to it too."
    )
    assert running.take() == "opus" and running.take() is None  # handed over once
    assert elsewhere.take() is None
    # Back to the default: the running turn goes back to the actor's own model.
    back = handle_command(command(ALICE, "/model default"), ctx)
    assert back == (
        "@assistant is back to its default model (sonnet) in this chat; "
        "the turn that is running switched to it too."
    )
    assert running.take() == "sonnet"
    assert choices.get("assistant", "telegram:1001") is None and resets == []
    # The run ended: the choice is stored and applies from the next message on.
    switches.close(running)
    assert handle_command(command(ALICE, "/model haiku"), ctx).endswith("from the next message on.")


def test_back_to_the_clis_default_does_not_switch_a_running_turn(home: Home) -> None:
    ctx, _, resets = setup(home)  # @assistant has no model of its own
    switches = ModelSwitches()
    ctx = replace(ctx, switch_running=switches.switch)
    running = switches.open("assistant", "telegram:1001")
    handle_command(command(ALICE, "/model opus"), ctx)
    assert running.take() == "opus"

    back = handle_command(command(ALICE, "/model default"), ctx)
    assert back.endswith("This starts a fresh conversation.")
    assert running.take() is None and resets == [("assistant", "telegram:1001")]
