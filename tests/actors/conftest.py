"""The real-CLI fixtures (claude against the loopback Anthropic fake) for actor tests."""

from tests.fakes.cli_fixtures import *  # noqa: F403
