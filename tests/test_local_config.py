"""A checkout is a home whose tinyclaw.toml is tracked by git: the owner's settings go
in tinyclaw.local.toml, laid over it, and the tracked file stays untouched."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tinyclaw.cli.app import app
from tinyclaw.config import load_config
from tinyclaw.config.template import DEFAULT_CONFIG
from tinyclaw.core.errors import ConfigError
from tinyclaw.core.home import Home


@pytest.fixture
def checkout(home: Home) -> Home:
    home.config_file.write_text(DEFAULT_CONFIG, encoding="utf-8")
    return home


def test_local_settings_are_laid_over_the_tracked_file(checkout: Home) -> None:
    checkout.local_config_file.write_text(
        "[channels.telegram]\n"
        "enabled = true\n"
        'allow_from = ["123"]\n'
        "[actors.assistant]\n"
        'model = "opus"\n'
        "[worker]\n"
        "concurrency = 2\n",
        encoding="utf-8",
    )

    config = load_config(checkout)

    assert config.channels.telegram.enabled is True
    assert config.channels.telegram.allow_from == ["123"]
    assert config.channels.telegram.token_env == "TELEGRAM_BOT_TOKEN"  # kept from the base
    assert config.actors["assistant"].model == "opus"
    assert config.actors["assistant"].permission_mode == "acceptEdits"  # kept from the base
    assert config.worker.concurrency == 2
    assert checkout.config_file.read_text() == DEFAULT_CONFIG


def test_a_mistake_in_the_local_file_names_both_files(checkout: Home) -> None:
    checkout.local_config_file.write_text("[worker]\nconcurrency = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"tinyclaw\.toml \+ tinyclaw\.local\.toml: worker"):
        load_config(checkout)
    checkout.local_config_file.write_text("[worker\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"tinyclaw\.local\.toml: not valid TOML"):
        load_config(checkout)


def test_actor_add_and_remove_edit_the_local_file_when_there_is_one(checkout: Home) -> None:
    checkout.local_config_file.write_text("# my settings\n", encoding="utf-8")
    runner = CliRunner()

    added = runner.invoke(app, ["actor", "add", "coder", "--runner", "codex"])
    assert added.exit_code == 0, added.output
    assert "[actors.coder]" in checkout.local_config_file.read_text()
    assert set(load_config(checkout).actors) == {"assistant", "coder"}

    removed = runner.invoke(app, ["actor", "remove", "coder", "--yes"])
    assert removed.exit_code == 0, removed.output
    assert f"removed [actors.coder] from {checkout.local_config_file}" in removed.stdout
    assert checkout.local_config_file.read_text() == "# my settings\n"
    assert checkout.config_file.read_text() == DEFAULT_CONFIG


def test_doctor_names_the_local_file_it_read(checkout: Home) -> None:
    from tests.launcher.conftest import run_tinyclaw

    checkout.local_config_file.write_text("[worker]\nconcurrency = 2\n", encoding="utf-8")
    assert "tinyclaw.toml + tinyclaw.local.toml (assistant)" in run_tinyclaw("doctor").stdout
    checkout.local_config_file.write_text("[worker]\nconcurrency = 0\n", encoding="utf-8")
    broken = run_tinyclaw("doctor").stdout
    assert "worker.concurrency" in broken and "or tinyclaw.local.toml" in broken
