"""What runs in which tmux window: the plan of a session, derived from the config.

One window per component: the status dashboard, the worker, one per *enabled*
listener, one per actor. Each window runs the small supervisor, which runs the real
program with the Python of this very process (``sys.executable -m tinyclaw …``), so
the session uses the virtualenv that started it, whatever PATH says.

A component's ``name`` is unique and safe as a file name (``worker``, ``telegram``,
``actor-coder``, ``status``); its ``window`` is what tmux shows (the actor's plain
name). Windows are found again by the ``@tinyclaw`` window option holding the name,
so an actor called "worker" cannot be mistaken for the worker.

Each component names the secrets it owns (``own``) and those it must not hold
(``withheld``: every other configured secret); its supervisor builds the child's
environment from them (``childenv``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from typing import Literal

from tinyclaw.config import Config, configured_secrets, owned_secrets

Kind = Literal["status", "worker", "listener", "actor"]
LISTENERS = ("telegram", "discord", "whatsapp")
STATUS = "status"
WORKER = "worker"
ACTOR_PREFIX = "actor-"

# Readiness probes (see supervisor.ReadyProbe). The worker announces itself with a
# ``worker.start`` event once it recovered the queue and watches its boxes; our own
# window programs touch the ready file; a listener only with ``listener.ready``, which
# it writes once the platform accepted its token and it receives messages. No grace
# period: a listener that cannot reach its platform is "connecting", never "ready".
WORKER_READY = "event:worker.start"
LISTENER_READY = "event:listener.ready"
PROGRAM_READY = "file"
# Every window uses a light entry point (`python -m tinyclaw.worker`,
# `python -m tinyclaw.channels PLATFORM`, `python -m tinyclaw.launcher watch|dashboard`):
# the same code as the `tinyclaw` commands without importing the Typer application,
# which would cost every long-lived process tens of MB and a third of a second.
LIGHT = "tinyclaw.launcher"


@dataclass(frozen=True)
class Component:
    name: str
    window: str
    kind: Kind
    args: tuple[str, ...]  # arguments of `python -m <module>` for the child program
    ready: str
    interactive: bool = False
    actor: str | None = None
    module: str = "tinyclaw"  # our own window programs use the light tinyclaw.launcher
    own: tuple[str, ...] = ()  # secrets the child may hold
    withheld: tuple[str, ...] = ()  # configured secrets it must not

    def child_argv(self, python: str) -> list[str]:
        return [python, "-m", self.module, *self.args]

    def supervise_argv(self, python: str) -> list[str]:
        argv = [python, "-m", "tinyclaw.launcher", "supervise", self.name, "--ready", self.ready]
        if self.interactive:
            argv.append("--interactive")
        if self.own:
            argv += ["--own", ",".join(self.own)]
        if self.withheld:
            argv += ["--withhold", ",".join(self.withheld)]
        return [*argv, "--", *self.child_argv(python)]

    def window_command(self, python: str) -> str:
        """The shell line tmux runs; ``exec`` makes the supervisor the pane's process."""
        return "exec " + shlex.join(self.supervise_argv(python))


def actor_component(actor: str) -> str:
    return ACTOR_PREFIX + actor


def plan(config: Config, node: str | None = None) -> list[Component]:
    """Every component of a session for ``config``, in window order; the worker runs
    as worker node ``node`` when one is given (``--node NAME``)."""
    return [_with_secrets(c, config) for c in _components(config, node)]


def _with_secrets(component: Component, config: Config) -> Component:
    own = tuple(owned_secrets(config).get(component.name, ()))
    withheld = tuple(n for n in configured_secrets(config) if n not in own)
    return replace(component, own=own, withheld=withheld)


def _components(config: Config, node: str | None) -> list[Component]:
    worker_args = ("--node", node) if node is not None else ()
    components = [
        Component(STATUS, STATUS, "status", ("dashboard",), PROGRAM_READY, module=LIGHT),
        Component(WORKER, WORKER, "worker", worker_args, WORKER_READY, module="tinyclaw.worker"),
    ]
    for name in LISTENERS:
        if config.channels.get(name).enabled:
            components.append(
                Component(
                    name, name, "listener", (name,), LISTENER_READY, module="tinyclaw.channels"
                )
            )
    for actor in config.actors:
        components.append(
            Component(
                actor_component(actor),
                actor,
                "actor",
                ("watch", actor),
                PROGRAM_READY,
                interactive=True,
                actor=actor,
                module=LIGHT,
            )
        )
    return components
