"""``python -m tinyclaw.channels PLATFORM [-v]``: the light entry of a listener process
(the same as ``tinyclaw listen PLATFORM``, without the command-line application)."""

from __future__ import annotations

import argparse
import logging
import sys

from tinyclaw.channels.serve import PLATFORMS, run_listener
from tinyclaw.core.home import find_home


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyclaw.channels")
    parser.add_argument("platform", choices=PLATFORMS)
    parser.add_argument("-v", "--verbose", action="store_true")
    options = parser.parse_args()
    level = logging.DEBUG if options.verbose else logging.INFO
    return run_listener(find_home(), options.platform, level=level)


if __name__ == "__main__":
    sys.exit(main())
