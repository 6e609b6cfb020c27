"""The reliability suite reuses the real-CLI fixtures (provider fakes, CLI settings)."""

from tests.fakes.cli_fixtures import *  # noqa: F403
from tests.worker.conftest import fake_home  # noqa: F401  (a home on tests/fakes/bin/fake-cli)
