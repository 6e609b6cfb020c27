"""``tinyclaw doctor`` names every problem with its fix, and never prints a secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.commands import run_tinyclaw
from tests.support.launcher import write_config
from tests.support.paths import FAKE_CLI
from tinyclaw.cli.doctor import Doctor, format_checks
from tinyclaw.core.home import Home
from tinyclaw.worker.assembly import PACKAGE_ROOT

CONFIG = """\
[runners.claude]
{claude}

[actors.assistant]
runner = "claude"
{channels}
"""


def _config(home: Home, *, claude: str = "", channels: str = "") -> None:
    home.config_file.write_text(CONFIG.format(claude=claude, channels=channels))


def _private(home: Home) -> None:
    home.pairing.chmod(0o700)


def test_a_missing_cli_is_a_problem_with_the_install_command(home: Home) -> None:
    _config(home, claude='command = "/nonexistent/bin/claude"')
    _private(home)

    result = run_tinyclaw("doctor")

    assert result.returncode == 1
    out = result.stdout
    line = next(line for line in out.splitlines() if line.startswith("FAIL  claude"))
    assert "'/nonexistent/bin/claude' does not exist" in line
    assert "npm install --prefix" in out
    assert "@anthropic-ai/claude-code@2.1.331 @openai/codex@0.169.0" in out
    assert "fix [runners.claude] command in tinyclaw.toml" in out
    assert "1 problem(s)" in out


def test_tokens_are_checked_by_name_and_never_printed(home: Home) -> None:
    secret = "discord-secret-value-123456"
    channels = (
        '[channels.telegram]\nenabled = true\ntoken_env = "TELEGRAM_BOT_TOKEN"\n'
        '[channels.discord]\nenabled = true\ntoken_env = "DISCORD_BOT_TOKEN"\n'
    )
    _config(home, claude=f'command = "{FAKE_CLI}"', channels=channels)
    _private(home)
    home.env_file.write_text(f"DISCORD_BOT_TOKEN={secret}\n")
    home.env_file.chmod(0o600)

    result = run_tinyclaw("doctor")

    assert result.returncode == 1
    assert secret not in result.stdout + result.stderr
    assert "ok    discord token: DISCORD_BOT_TOKEN is set" in result.stdout
    assert "FAIL  telegram token: TELEGRAM_BOT_TOKEN is not set" in result.stdout
    assert f"add TELEGRAM_BOT_TOKEN=... to {home.env_file}" in result.stdout


def test_secrets_readable_by_others_are_problems(home: Home) -> None:
    _config(home, claude=f'command = "{FAKE_CLI}"')
    home.pairing.chmod(0o755)
    (home.pairing / "store.json").write_text("{}")
    (home.pairing / "store.json").chmod(0o644)
    home.env_file.write_text("ANTHROPIC_API_KEY=sk-test-123456\n")
    home.env_file.chmod(0o644)

    result = run_tinyclaw("doctor")

    assert result.returncode == 1
    assert f"chmod 600 {home.env_file}" in result.stdout
    assert f"chmod 700 {home.pairing}" in result.stdout
    assert f"chmod 600 {home.pairing / 'store.json'}" in result.stdout
    assert "sk-test-123456" not in result.stdout


def test_a_group_readable_key_in_a_private_folder_is_still_a_problem(home: Home) -> None:
    # 0700 keeps strangers out of the folder, but 0640 on the key says "my group may
    # read it": one chmod on the folder away from every group member minting invites.
    home.pairing.chmod(0o700)
    key = home.pairing / "secret.key"
    key.write_bytes(b"k" * 32)
    key.chmod(0o640)
    store = home.pairing / "store.json"
    store.write_text("{}")
    store.chmod(0o600)

    checks = Doctor(home, environ={}, run=lambda argv: (0, "tmux 3.4")).pairing_permissions()

    problems = [c for c in checks if c.level == "problem"]
    assert [(c.detail.split()[0], c.fix) for c in problems] == [(str(key), f"chmod 600 {key}")]
    assert "0640" in problems[0].detail

    key.chmod(0o600)
    fixed = Doctor(home, environ={}).pairing_permissions()
    assert [c.level for c in fixed] == ["ok"]


def test_no_cli_installed_anywhere_is_a_problem_with_the_install_command(
    home: Home, tmp_path: Path
) -> None:
    _config(home)  # no command configured: claude is looked for on PATH and in .tools
    _private(home)
    empty = tmp_path / "empty-bin"
    empty.mkdir()

    doctor = Doctor(
        home,
        environ={"PATH": str(empty)},
        run=lambda argv: (0, "tmux 3.4"),
        which=lambda name: "/usr/bin/tmux" if name == "tmux" else None,
        search_dirs=[],
    )
    checks = {c.name: c for c in doctor.checks()}

    claude = checks["claude"]
    assert claude.level == "problem"  # the actor runs claude
    assert claude.detail == "not found: not on PATH"
    assert claude.fix is not None and claude.fix.startswith(
        f"npm install --prefix {home.root / '.tools'} @anthropic-ai/claude-code@"
    )
    assert checks["codex"].level == "info"  # nobody runs codex: said, not a problem
    assert "FAIL  claude: not found" in format_checks(list(checks.values()))


def test_a_broken_config_is_reported_line_by_line(home: Home) -> None:
    home.config_file.write_text('[actors.assistant]\nrunner = "gpt"\ntimout = 5\n')

    result = run_tinyclaw("doctor")

    assert result.returncode == 1
    assert "FAIL  config:" in result.stdout
    assert "actors.assistant.runner" in result.stdout
    assert "actors.assistant.timout: unknown key" in result.stdout


def test_from_a_checkout_the_pinned_versions_and_tools_are_looked_up_beside_the_package() -> None:
    """The tests run from a checkout (an editable install): doctor reads the pinned
    versions from its scripts/versions.sh, and the CLIs are looked for in its .tools/."""
    assert (PACKAGE_ROOT / "tinyclaw" / "__init__.py").is_file()
    assert (PACKAGE_ROOT / "scripts" / "versions.sh").is_file()


def test_a_healthy_home_has_no_problems(home: Home) -> None:
    tools = PACKAGE_ROOT / ".tools" / "node_modules" / ".bin"
    if not (tools / "claude").exists() or not (tools / "codex").exists():
        if os.environ.get("CI"):
            pytest.fail("the pinned CLIs must be installed in CI (scripts/bootstrap)")
        pytest.skip("the pinned CLIs are not installed in .tools/")
    write_config(home)  # fake CLI for claude; codex is unused but found in .tools
    home.config_file.write_text(home.config_file.read_text().replace(f'command = "{FAKE_CLI}"', ""))
    _private(home)

    result = run_tinyclaw("doctor", timeout=120)

    assert result.returncode == 0, result.stdout
    assert "no problems found" in result.stdout
    assert "ok    claude:" in result.stdout and "2.1.331" in result.stdout
    assert "ok    tmux: tmux" in result.stdout


def test_voice_notes_need_their_key_or_their_local_model(home: Home, tmp_path: Path) -> None:
    claude = f'command = "{FAKE_CLI}"'
    _config(home, claude=claude, channels='[transcription]\napi_key_env = "GROQ_API_KEY"\n')
    _private(home)

    result = run_tinyclaw("doctor")
    assert (
        "FAIL  transcription: GROQ_API_KEY is not set "
        "(voice notes go to https://api.openai.com/v1)" in result.stdout
    )

    missing = tmp_path / "no-model"
    _config(
        home,
        claude=claude,
        channels=f'[transcription]\nengine = "local"\nlocal_model = "{missing}"\n',
    )
    result = run_tinyclaw("doctor")
    assert f"FAIL  transcription: no faster-whisper model in {missing}" in result.stdout


def test_a_key_the_runner_sets_in_env_is_not_reported_missing(home: Home) -> None:
    fake = FAKE_CLI
    home.config_file.write_text(
        f'[runners.claude]\ncommand = "{fake}"\npass_env = ["ANTHROPIC_API_KEY"]\n'
        'env = { ANTHROPIC_API_KEY = "sk-from-config" }\n'
        f'[runners.codex]\ncommand = "{fake}"\npass_env = ["OPENAI_API_KEY"]\n'
        'env = { OPENAI_API_KEY = "sk-also-from-config" }\n'
        '[actors.assistant]\nrunner = "claude"\n[actors.coder]\nrunner = "codex"\n'
    )
    _private(home)

    out = run_tinyclaw("doctor").stdout

    assert "ANTHROPIC_API_KEY (runners.claude.pass_env) is not set" not in out
    assert "OPENAI_API_KEY (runners.codex.pass_env) is not set" not in out

    home.config_file.write_text(
        f'[runners.claude]\ncommand = "{fake}"\npass_env = ["ANTHROPIC_API_KEY"]\n'
        '[actors.assistant]\nrunner = "claude"\n'
    )
    assert "ANTHROPIC_API_KEY (runners.claude.pass_env) is not set" in run_tinyclaw("doctor").stdout
