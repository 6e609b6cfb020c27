"""Which environment variables the configuration names as secrets, and who owns each.

A listener owns its platform's token (and WhatsApp's app secret and verify token);
the worker owns its runners' ``pass_env`` keys, which it hands to the CLIs, and the
transcription service's key. Nobody else needs any of them: the launcher gives each
supervised component only its own (``childenv``), and the worker redacts all of them,
and every secret of the home's ``.env``, from what it writes (``redaction``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tinyclaw.config import Config
from tinyclaw.config.childenv import looks_secret, read_dotenv
from tinyclaw.core.home import Home
from tinyclaw.core.redaction import FINGERPRINTS_ENV, Redactor, parse_fingerprints

PLATFORMS = ("telegram", "discord", "whatsapp")
WORKER = "worker"


def channel_secrets(config: Config, platform: str) -> list[str]:
    """The variables a listener of ``platform`` reads its credentials from."""
    channel = config.channels.get(platform)
    names = (channel.token_env, channel.app_secret_env, channel.verify_token_env)
    return [name for name in names if name]


def worker_secrets(config: Config) -> list[str]:
    """The variables the worker itself needs: the keys it passes on to its CLIs
    (``pass_env``) and the transcription service's key (voice notes are transcribed
    in the worker)."""
    names = config.runners.claude.pass_env + config.runners.codex.pass_env
    if config.transcription is not None and config.transcription.api_key_env:
        names = [*names, config.transcription.api_key_env]
    return list(dict.fromkeys(names))


def owned_secrets(config: Config) -> dict[str, list[str]]:
    """Component name → the configured secrets it may hold (others: none)."""
    owners = {platform: channel_secrets(config, platform) for platform in PLATFORMS}
    owners[WORKER] = worker_secrets(config)
    return owners


def configured_secrets(config: Config) -> list[str]:
    """Every variable the configuration names as a secret."""
    names = [name for names in owned_secrets(config).values() for name in names]
    return list(dict.fromkeys(names))


def worker_redactor(
    home: Home, config: Config, environ: Mapping[str, str] | None = None
) -> Redactor:
    """Everything the worker must never write out: the values of every configured
    secret it can see, every credential-named variable of its environment and of
    the home's ``.env``, and the fingerprints of those withheld from it."""
    environ = os.environ if environ is None else environ
    dotenv = read_dotenv(home.env_file)
    names = set(configured_secrets(config))
    values = [environ[n] for n in environ if n in names or looks_secret(n)]
    values += [dotenv[n] for n in dotenv if n in names or looks_secret(n)]
    for settings in (config.runners.claude, config.runners.codex):
        values += [v for n, v in settings.env.items() if looks_secret(n)]
    return Redactor(values, parse_fingerprints(environ.get(FINGERPRINTS_ENV, "")))
