"""The reliability suite reuses the real-CLI fixtures (provider fakes, CLI settings)."""

from tests.fakes.cli_fixtures import *  # noqa: F403
