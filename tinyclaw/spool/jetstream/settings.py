"""From ``[spool]`` in tinyclaw.toml to a connected JetStream spool.

The configuration names environment variables; their values (a token, a password)
are read here, at connect time, and never stored anywhere else."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from tinyclaw.config import SpoolConfig
from tinyclaw.core import ConfigError
from tinyclaw.spool.jetstream.connection import NatsConnection, NatsSettings
from tinyclaw.spool.jetstream.kv import JetStreamKeyValue
from tinyclaw.spool.jetstream.layout import Layout
from tinyclaw.spool.jetstream.spool import JetStreamSpool


def nats_settings(config: SpoolConfig, environ: Mapping[str, str] | None = None) -> NatsSettings:
    """The servers and credentials ``config`` names; a named variable that is not
    set is a ConfigError (a connection without it would be refused anyway)."""
    environ = os.environ if environ is None else environ

    def value(name: str | None, what: str) -> str | None:
        if name is None:
            return None
        found = environ.get(name)
        if not found:
            raise ConfigError(
                f"[spool] {what} names {name}, which is not set (.env or environment)"
            )
        return found

    return NatsSettings(
        servers=list(config.servers),
        token=value(config.token_env, "token_env"),
        user=value(config.user_env, "user_env"),
        password=value(config.password_env, "password_env"),
        creds_file=value(config.creds_env, "creds_env"),
        timeout=config.timeout,
    )


def open_jetstream(
    config: SpoolConfig,
    environ: Mapping[str, str] | None = None,
    *,
    redact: Callable[[str], str] | None = None,
    actors: frozenset[str] | None = None,
) -> JetStreamSpool:
    """Connect and open the home's streams as ``[spool]`` describes them."""
    conn = NatsConnection(nats_settings(config, environ))
    try:
        return JetStreamSpool(
            conn,
            prefix=config.stream_prefix,
            replicas=config.replicas,
            redact=redact,
            claim_ttl=config.claim_ttl,
            max_deliveries=config.max_deliveries,
            dedupe_hours=config.dedupe_hours,
            actors=actors,
            owns_connection=True,
        )
    except BaseException:
        conn.close()
        raise


def open_bucket(
    config: SpoolConfig, name: str, environ: Mapping[str, str] | None = None
) -> JetStreamKeyValue:
    """The home's key-value bucket ``name`` alone, on a connection of its own: for a
    command that needs a store but not the queue (``tinyclaw pair``). The connection
    lasts as long as the process."""
    conn = NatsConnection(nats_settings(config, environ))
    try:
        return JetStreamKeyValue(
            conn, Layout(config.stream_prefix).bucket(name), replicas=config.replicas
        )
    except BaseException:
        conn.close()
        raise


def probe(config: SpoolConfig, environ: Mapping[str, str] | None = None) -> str:
    """Connect, ask for the JetStream account, and describe what answered (for
    ``tinyclaw doctor``); SpoolError or ConfigError when it cannot."""
    conn = NatsConnection(nats_settings(config, environ))
    try:
        info: Any = conn.call(conn.js.account_info(), "JetStream account info")
        server = conn.nc.connected_url
        where = f"{server.scheme}://{server.hostname}:{server.port}" if server else "?"
        return f"{where} answers; JetStream has {info.streams} stream(s)"
    finally:
        conn.close()
