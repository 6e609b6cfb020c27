"""``python -m tinyclaw.worker``: the light entry of the worker process (the same as
``tinyclaw worker``, without the command-line application)."""

from __future__ import annotations

import sys

from tinyclaw.cli.worker_entry import exit_code, serve_worker
from tinyclaw.core.errors import TinyclawError
from tinyclaw.core.home import find_home


def main() -> int:
    try:
        serve_worker(find_home())
    except TinyclawError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exit_code(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
