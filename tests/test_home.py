"""Where tinyclaw lives: `tinyclaw init` makes a home, every command finds it the way
git finds `.git`, and secrets come from the environment or a `.env` beside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinyclaw.cli.app import app
from tinyclaw.config import load_config
from tinyclaw.config.dotenv import load_dotenv
from tinyclaw.core.errors import ConfigError
from tinyclaw.core.home import Home, find_home


def test_init_makes_a_working_home_and_never_clobbers_one(tmp_path: Path) -> None:
    target = tmp_path / "assistant-home"
    made = CliRunner().invoke(app, ["init", str(target)])
    assert made.exit_code == 0, made.output
    home = Home(target)
    for folder in (home.queue, home.actors, home.pairing, home.logs, home.state):
        assert folder.is_dir(), folder
    assert oct(home.pairing.stat().st_mode & 0o777) == "0o700"
    config = load_config(home)  # the template is a valid configuration
    assert config.actors

    home.config_file.write_text(home.config_file.read_text() + "\n# mine\n")
    again = CliRunner().invoke(app, ["init", str(target)])
    assert again.exit_code == 1
    assert "already exists; not overwriting it" in again.output
    assert home.config_file.read_text().endswith("# mine\n")


def test_init_honours_the_home_option(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    made = CliRunner().invoke(app, ["--home", str(chosen), "init"])
    assert made.exit_code == 0, made.output
    assert (chosen / "tinyclaw.toml").is_file()


def test_init_without_a_path_creates_the_user_home_even_inside_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "tinyclaw.toml").write_text("[actors.dev]\n")
    monkeypatch.delenv("TINYCLAW_HOME")
    monkeypatch.chdir(checkout)

    made = CliRunner().invoke(app, ["init"])

    assert made.exit_code == 0, made.output
    user_home = Path(os.environ["HOME"]).resolve() / ".tinyclaw"
    assert f"created {user_home}" in made.stdout
    assert load_config(Home(user_home)).actors
    assert (checkout / "tinyclaw.toml").read_text() == "[actors.dev]\n"  # untouched
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TINYCLAW_HOME")  # the command exported it for its sub-commands
    assert find_home().root == user_home  # outside a checkout, commands find it


def test_the_home_is_found_like_git_finds_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    deep = project / "src" / "deep"
    deep.mkdir(parents=True)
    (project / "tinyclaw.toml").write_text("")
    monkeypatch.delenv("TINYCLAW_HOME")

    assert find_home(cwd=deep).root == project  # the nearest ancestor with tinyclaw.toml
    assert find_home(cwd=tmp_path).root == Path(os.environ["HOME"]).resolve() / ".tinyclaw"
    monkeypatch.setenv("TINYCLAW_HOME", str(tmp_path / "from-env"))
    assert find_home(cwd=deep).root == tmp_path / "from-env"  # the environment wins
    assert find_home(tmp_path / "explicit", cwd=deep).root == tmp_path / "explicit"  # --home


def test_dotenv_fills_in_secrets_without_overriding_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# secrets\n"
        "TELEGRAM_BOT_TOKEN=from-file\n"
        "export DISCORD_BOT_TOKEN='quoted value'\n"
        'WHATSAPP_TOKEN="double"\n'
        "\n"
    )
    environ = {"TELEGRAM_BOT_TOKEN": "from-environment"}

    loaded = load_dotenv(env_file, environ)

    assert environ == {
        "TELEGRAM_BOT_TOKEN": "from-environment",
        "DISCORD_BOT_TOKEN": "quoted value",
        "WHATSAPP_TOKEN": "double",
    }
    assert loaded == {"DISCORD_BOT_TOKEN": "quoted value", "WHATSAPP_TOKEN": "double"}
    assert load_dotenv(tmp_path / "missing.env", environ) == {}


def test_a_bad_dotenv_line_is_one_clear_error(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("GOOD=1\nthis is not an assignment\n")
    with pytest.raises(ConfigError, match=r"\.env:2: expected KEY=value"):
        load_dotenv(env_file, {})


def test_dotenv_reads_values_as_other_tools_do(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "TELEGRAM_BOT_TOKEN=abc # my bot\n"
        'GREETING="line one\\nline two"\n'
        "BASE=/srv/bot\n"
        "DATA=${BASE}/data\n"
        "CACHE=${XDG_CACHE:-/tmp/cache}/bot\n"
        "FROM_ENV=${USER_NAME}-suffix\n"
        "KEY= # nothing but a comment\n"
    )
    environ = {"USER_NAME": "ada"}

    load_dotenv(env_file, environ)

    assert environ["TELEGRAM_BOT_TOKEN"] == "abc"
    assert environ["GREETING"] == "line one\nline two"
    assert environ["DATA"] == "/srv/bot/data"
    assert environ["CACHE"] == "/tmp/cache/bot"
    assert environ["FROM_ENV"] == "ada-suffix"
    assert environ["KEY"] == ""


def test_dotenv_expansion_prefers_the_environment_and_overrides_only_when_told(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BASE=/from/file\nDATA=${BASE}/data\n")
    environ = {"BASE": "/from/env"}

    assert load_dotenv(env_file, environ) == {"DATA": "/from/env/data"}
    assert environ["BASE"] == "/from/env"

    forced = {"BASE": "/from/env"}
    load_dotenv(env_file, forced, override=True)
    assert forced["BASE"] == "/from/file"
    assert forced["DATA"] == "/from/file/data"
