"""What a listener sees: the two-question Gate protocol, served by pairing, built from
the home's tinyclaw.toml."""

from __future__ import annotations

import pytest

from tinyclaw.channels.gate import Gate
from tinyclaw.config import load_config
from tinyclaw.config.template import DEFAULT_CONFIG
from tinyclaw.core.errors import ConfigError
from tinyclaw.core.home import Home
from tinyclaw.pairing import PairingService, pairing_service
from tinyclaw.pairing.listener import ListenerGate

CONFIG = (
    DEFAULT_CONFIG.replace(
        '[channels.discord]\nenabled = false\ntoken_env = "DISCORD_BOT_TOKEN"\nallow_from = []',
        '[channels.discord]\nenabled = false\ntoken_env = "DISCORD_BOT_TOKEN"\nallow_from = ["42"]',
    )
    + '\n[pairing]\nowners = ["telegram:1"]\ncode_ttl = "15m"\nmax_pending_per_channel = 2\n'
)


@pytest.fixture
def configured(home: Home) -> PairingService:
    home.config_file.write_text(CONFIG)
    return pairing_service(home, load_config(home))


def test_the_service_takes_owners_allow_lists_and_limits_from_the_config(
    configured: PairingService,
) -> None:
    gate = ListenerGate(configured)
    assert isinstance(gate, Gate)
    assert gate.check("telegram", "1").allowed  # owner
    assert gate.check("discord", "42").allowed  # allow_from
    assert not gate.check("telegram", "42").allowed  # allow_from is per channel
    assert configured.max_pending_per_channel == 2
    assert "valid for 15 minutes" in (gate.check("telegram", "7").reply or "")


def test_a_stranger_pairs_through_the_listener_gate(configured: PairingService) -> None:
    gate = ListenerGate(configured)
    first = gate.check("telegram", "500")
    assert not first.allowed and first.reply is not None
    assert gate.check("telegram", "500").reply is None  # told once, then quiet

    code = configured.invite()
    assert "Paired" in gate.handle_pair("telegram", "500", code)
    assert gate.check("telegram", "500").allowed
    assert "Send /pair followed by" in gate.handle_pair("telegram", "501", "  ")


def test_strange_input_is_refused_not_raised(configured: PairingService, home: Home) -> None:
    gate = ListenerGate(configured)
    assert gate.check("telegram", "has space") == gate.check("Telegram!", "1")
    assert not gate.check("telegram", "has space").allowed
    assert "not available" in gate.handle_pair("telegram", "\n", "ACDE-FGHJ")
    (home.pairing / "store.json").write_text("{")
    assert gate.check("telegram", "500").reply is None
    assert "not available" in gate.handle_pair("telegram", "500", "ACDE-FGHJ")


def test_a_wrong_owner_in_the_config_is_a_config_error(home: Home) -> None:
    home.config_file.write_text(CONFIG.replace('owners = ["telegram:1"]', 'owners = ["1"]'))
    with pytest.raises(ConfigError, match=r"pairing\.owners"):
        pairing_service(home, load_config(home))
