"""Fixtures of the runner tests: the real CLIs against loopback provider fakes.

They live in ``tests.fakes.cli_fixtures`` so other suites can reuse them too.
"""

from tests.fakes.cli_fixtures import *  # noqa: F403
