"""Who gets which secret, and how a secret is found again in what the worker writes."""

from __future__ import annotations

from tinyclaw.config.childenv import child_environment
from tinyclaw.core.redaction import FINGERPRINTS_ENV, Redactor, fingerprint, parse_fingerprints

TOKEN = "7000000001:AAsome-bot-token-value"


def test_a_withheld_token_is_recognised_by_its_fingerprint_even_inside_a_url() -> None:
    redact = Redactor(fingerprints=[fingerprint(TOKEN)])
    text = f"GET https://api.telegram.org/bot{TOKEN}/getMe and again {TOKEN}."
    assert redact(text) == "GET https://api.telegram.org/bot***/getMe and again ***."
    assert redact("an ordinary sentence stays as it is") == "an ordinary sentence stays as it is"


def test_known_values_are_replaced_and_short_values_are_not() -> None:
    redact = Redactor(["sk-ant-123456", "abc"])
    assert redact("key sk-ant-123456, abc") == "key ***, abc"
    assert redact.deep({"a": ["sk-ant-123456"], "n": 1}) == {"a": ["***"], "n": 1}


def test_a_fingerprint_list_with_garbage_keeps_the_good_ones() -> None:
    good = fingerprint(TOKEN)
    assert parse_fingerprints(f"nonsense 3:abc {good} x:y") == {good}


def test_a_listener_gets_its_own_token_from_dotenv_over_the_inherited_one() -> None:
    inherited = {
        "PATH": "/bin",
        "TELEGRAM_BOT_TOKEN": "stale-inherited-token",
        "DISCORD_BOT_TOKEN": "discord-token-value",
        "MY_DB_PASSWORD": "db-password-value",
    }
    dotenv = {"TELEGRAM_BOT_TOKEN": "fixed-in-dotenv", "GREETING": "hello", "GH_TOKEN": "gh-val"}
    env, removed = child_environment(
        inherited, dotenv, own=["TELEGRAM_BOT_TOKEN"], withheld=["DISCORD_BOT_TOKEN"]
    )
    assert env["TELEGRAM_BOT_TOKEN"] == "fixed-in-dotenv"
    assert env["GREETING"] == "hello" and env["PATH"] == "/bin"
    assert not {"DISCORD_BOT_TOKEN", "MY_DB_PASSWORD", "GH_TOKEN"} & set(env)
    assert sorted(removed) == ["db-password-value", "discord-token-value"]
    assert parse_fingerprints(env[FINGERPRINTS_ENV]) == {
        fingerprint("discord-token-value"),
        fingerprint("db-password-value"),
    }


def test_without_dotenv_the_inherited_own_token_is_kept() -> None:
    env, _ = child_environment({"TELEGRAM_BOT_TOKEN": "exported"}, {}, own=["TELEGRAM_BOT_TOKEN"])
    assert env["TELEGRAM_BOT_TOKEN"] == "exported"
