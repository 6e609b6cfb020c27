"""Build the pairing service of a home from its ``tinyclaw.toml``.

The config contributes what does not live in the store: ``[pairing] owners``
(``channel:user_id`` strings), each ``[channels.X] allow_from`` list (user ids of that
channel), the code lifetime and the pending cap. Listeners, the worker and
``tinyclaw pair`` all build their service here, so they agree on who is allowed.
"""

from __future__ import annotations

from tinyclaw.config import ChannelsConfig, Config, PairingConfig
from tinyclaw.core.errors import ConfigError, PairingError
from tinyclaw.core.home import Home
from tinyclaw.pairing.gate import Clock, Notify, utc_now
from tinyclaw.pairing.identity import Identity
from tinyclaw.pairing.service import PairingService
from tinyclaw.schedule.durations import parse_duration


def owners_from(config: PairingConfig) -> set[Identity]:
    try:
        return {Identity.parse(entry) for entry in config.owners}
    except PairingError as exc:
        raise ConfigError(f"tinyclaw.toml: pairing.owners: {exc}") from None


def allow_lists_from(channels: ChannelsConfig) -> set[Identity]:
    allowed: set[Identity] = set()
    for name in type(channels).model_fields:
        for user_id in channels.get(name).allow_from:
            try:
                allowed.add(Identity(name, user_id.strip()))
            except PairingError as exc:
                raise ConfigError(f"tinyclaw.toml: channels.{name}.allow_from: {exc}") from None
    return allowed


def pairing_service(
    home: Home,
    config: Config | None,
    *,
    notify: Notify | None = None,
    now: Clock = utc_now,
) -> PairingService:
    """The service for ``home``; with ``config=None`` (no ``tinyclaw.toml`` yet) there are
    no config owners or allow-lists and the defaults apply."""
    pairing = config.pairing if config is not None else PairingConfig()
    try:
        ttl = parse_duration(pairing.code_ttl)
    except ConfigError as exc:
        raise ConfigError(f"tinyclaw.toml: pairing.code_ttl: {exc}") from None
    return PairingService(
        home.pairing,
        owners=owners_from(pairing),
        static_allow=allow_lists_from(config.channels) if config is not None else set(),
        now=now,
        notify=notify,
        max_pending_per_channel=pairing.max_pending_per_channel,
        code_ttl=ttl,
    )
