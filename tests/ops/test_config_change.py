"""What a reload says about an edit: applied at once, or waiting for a restart."""

from __future__ import annotations

from typing import Any

from tinyclaw.config import parse_config
from tinyclaw.config.reload import diff, one_line

BASE: dict[str, Any] = {
    "actors": {"assistant": {}, "coder": {"model": "sonnet"}},
    "channels": {"telegram": {"enabled": True, "allow_from": ["1"]}},
}


def changed(**sections: Any) -> tuple[list[str], list[str]]:
    change = diff(parse_config(BASE), parse_config({**BASE, **sections}))
    return change.applied, change.restart


def test_actors_and_teams_are_named_as_added_removed_or_changed() -> None:
    applied, restart = changed(
        actors={"coder": {"model": "opus"}, "reviewer": {}},
        teams={"devs": {"leader": "coder", "members": ["coder", "reviewer"]}},
    )
    assert applied == [
        "actors.reviewer added",
        "actors.assistant removed",
        "actors.coder",
        "teams.devs added",
    ]
    assert restart == []


def test_allow_lists_apply_and_a_token_or_address_needs_that_listener_restarted() -> None:
    applied, restart = changed(
        channels={
            "telegram": {"enabled": True, "allow_from": ["1", "2"], "token_env": "OTHER_TOKEN"},
            "discord": {"base_url": "http://127.0.0.1:1"},
        }
    )
    assert applied == ["channels.telegram.allow_from"]
    assert restart == [
        "channels.discord.base_url (restart the discord listener)",
        "channels.telegram.token_env (restart the telegram listener)",
    ]


def test_limits_and_worker_apply_launcher_and_metrics_need_a_restart() -> None:
    applied, restart = changed(
        limits={"max_hops": 3},
        worker={"concurrency": 2},
        launcher={"session_name": "x"},
        metrics={"enabled": True},
    )
    assert applied == ["limits.max_hops", "worker.concurrency"]
    assert restart == [
        "launcher (restart tinyclaw: `tinyclaw restart`)",
        "metrics (restart the worker)",
    ]
    assert diff(parse_config(BASE), parse_config(BASE)).summary() == "no changes"


def test_moving_the_queue_to_nats_or_the_actors_between_nodes_needs_a_restart() -> None:
    applied, restart = changed(
        spool={"backend": "nats"}, nodes={"box-a": {"actors": ["assistant", "coder"]}}
    )
    assert applied == []
    assert restart == [
        "nodes (restart the workers)",
        "spool (restart the worker and every listener)",
    ]


def test_a_report_of_several_mistakes_becomes_one_line() -> None:
    assert one_line("a: wrong\n\nb: also wrong\n") == "a: wrong; b: also wrong"


def test_actors_moved_between_defined_nodes_are_applied_by_the_running_workers() -> None:
    nats = {"spool": {"backend": "nats"}}
    before = {**BASE, **nats, "actors": {"assistant": {}, "coder": {}}}
    layout = {"box-a": {"actors": ["assistant"]}, "box-b": {"actors": ["coder"]}}
    moved = {"box-a": {"actors": ["assistant", "coder"]}, "box-b": {"actors": []}}
    change = diff(
        parse_config({**before, "nodes": layout}), parse_config({**before, "nodes": moved})
    )
    assert change.applied == ["nodes.box-a", "nodes.box-b"] and change.restart == []
