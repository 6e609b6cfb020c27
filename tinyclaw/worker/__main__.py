"""``python -m tinyclaw.worker [--node NAME]``: the light entry of the worker process
(the same as ``tinyclaw worker``, without the command-line application)."""

from __future__ import annotations

import sys

from tinyclaw.core import TinyclawError, find_home
from tinyclaw.worker.entry import exit_code, serve_worker


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    node = None
    if args[:1] == ["--node"] and len(args) == 2:
        node = args[1]
    elif args:
        sys.stderr.write("usage: python -m tinyclaw.worker [--node NAME]\n")
        return 2
    try:
        serve_worker(find_home(), node=node)
    except TinyclawError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exit_code(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
