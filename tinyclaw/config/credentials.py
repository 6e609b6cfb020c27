"""Which environment variables the configuration names as secrets, and who owns each.

A listener owns its platform's token (and WhatsApp's app secret and verify token);
the worker owns its runners' ``pass_env`` keys, which it hands to the CLIs, and the
transcription service's key. With the queue on NATS, the worker and every listener
also hold the NATS credentials (``[spool] token_env``, ``user_env``/``password_env``),
which never reach a CLI. Nobody else needs any of them: the launcher gives each
supervised component only its own (``childenv``), and the worker redacts all of them,
and every secret of the home's ``.env``, from what it writes (``redaction``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tinyclaw.config import Config
from tinyclaw.config.childenv import looks_secret, read_dotenv
from tinyclaw.core import FINGERPRINTS_ENV, Home, Redactor, parse_fingerprints

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


def spool_secrets(config: Config) -> list[str]:
    """The variables holding the NATS credentials (``[spool] backend = "nats"``):
    every component that queues or takes messages needs them, no CLI ever does."""
    return config.spool.secret_names()


def owned_secrets(config: Config) -> dict[str, list[str]]:
    """Component name → the configured secrets it may hold (others: none)."""
    spool = spool_secrets(config)
    owners = {
        platform: list(dict.fromkeys(channel_secrets(config, platform) + spool))
        for platform in PLATFORMS
    }
    owners[WORKER] = list(dict.fromkeys(worker_secrets(config) + spool))
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
