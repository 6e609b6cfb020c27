"""``python -m tinyclaw.launcher``: the small entry points the tmux windows run.

    python -m tinyclaw.launcher supervise COMPONENT [--ready P] [--interactive]
        [--own NAME,…] [--withhold NAME,…] -- ARGV…
    python -m tinyclaw.launcher watch ACTOR
    python -m tinyclaw.launcher dashboard

They do the same as ``tinyclaw supervise``, ``tinyclaw watch`` and ``tinyclaw
dashboard``, without importing the Typer application and through it every command
module: that saves about 0.2 s of CPU per window (a supervisor sits in every window,
and start-up time of all windows together is what ``tinyclaw start`` waits for) and
about 40 MB for each supervisor.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tinyclaw.core.home import find_home

if TYPE_CHECKING:
    from tinyclaw.config import Config
    from tinyclaw.core.home import Home


def _load_config() -> tuple[Home, Config] | None:
    """The home and its configuration (``.env`` first), or None after saying why."""
    from tinyclaw.config import load_config
    from tinyclaw.config.dotenv import load_dotenv
    from tinyclaw.core.errors import ConfigError

    home = find_home()
    try:
        load_dotenv(home.env_file)
        return home, load_config(home)
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return None


def _supervise(raw: list[str]) -> int:
    from tinyclaw.launcher.supervisor import supervise_main

    if "--" not in raw:
        sys.stderr.write("usage: python -m tinyclaw.launcher supervise COMPONENT -- COMMAND…\n")
        return 2
    split = raw.index("--")
    parser = argparse.ArgumentParser(prog="python -m tinyclaw.launcher supervise")
    parser.add_argument("component")
    parser.add_argument("--ready", default="alive:1")
    parser.add_argument("--interactive", action="store_true")
    parser.add_argument("--own", default="", help="secrets the child may hold (names)")
    parser.add_argument("--withhold", default="", help="secrets it must not (names)")
    options = parser.parse_args(raw[:split])
    return supervise_main(
        options.component,
        raw[split + 1 :],
        ready=options.ready,
        interactive=options.interactive,
        home_root=find_home().root,
        own=[n for n in options.own.split(",") if n],
        withheld=[n for n in options.withhold.split(",") if n],
    )


def _watch(raw: list[str]) -> int:
    from tinyclaw.launcher.watch import watch_main

    parser = argparse.ArgumentParser(prog="python -m tinyclaw.launcher watch")
    parser.add_argument("actor")
    options = parser.parse_args(raw)
    loaded = _load_config()
    if loaded is None:
        return 1
    home, config = loaded
    if options.actor not in config.actors:
        sys.stderr.write(f"error: no actor {options.actor!r}\n")
        return 2
    return watch_main(home, config, options.actor)


def _dashboard(raw: list[str]) -> int:
    from tinyclaw.launcher.dashboard import dashboard_main
    from tinyclaw.launcher.tmux import session_name

    argparse.ArgumentParser(prog="python -m tinyclaw.launcher dashboard").parse_args(raw)
    loaded = _load_config()
    if loaded is None:
        return 1
    home, config = loaded
    return dashboard_main(home, config, session_name(config))


COMMANDS = {"supervise": _supervise, "watch": _watch, "dashboard": _dashboard}


def main(args: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if args is None else args)
    if not raw or raw[0] not in COMMANDS:
        sys.stderr.write(f"usage: python -m tinyclaw.launcher {{{','.join(COMMANDS)}}} …\n")
        return 2
    return COMMANDS[raw[0]](raw[1:])


if __name__ == "__main__":
    sys.exit(main())
