"""The text of tinyclaw's systemd user units, made from a home and its configuration.

One service for the worker and one per enabled listener, grouped by a target so that
``systemctl --user restart tinyclaw.target`` restarts them all. Each service:

* is ``Type=notify``: systemd counts it as started when the process says ``READY=1``
  (the worker after recovering and watching its queues, a listener once connected);
  on a home whose queue is on NATS the worker has no start timeout, since on standby
  (another machine serves its node) it says it only once it takes over;
* restarts on failure, except a listener that exited with 2 (its token was refused
  or its configuration is wrong: only a person can fix that, so no restart loop);
* stops with SIGTERM to the main process only (``KillMode=mixed``), which lets the
  worker end or hand back the CLI runs in flight as it does on Ctrl-C;
* reloads with SIGHUP (``systemctl --user reload``), the worker's hot reload;
* logs to the journal (``journalctl --user -u tinyclaw-worker``) besides ``logs/``;
* gets its home as ``TINYCLAW_HOME``, never from the working directory, and the PATH
  of the shell that installed it (where ``claude`` and ``codex`` were found).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from tinyclaw.config import Config
from tinyclaw.core import Home

CHANNELS = ("telegram", "discord", "whatsapp")
AUTH_EXIT = 2  # tinyclaw.channels.serve: "do not retry"
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Unit:
    name: str
    text: str


def quote(value: str) -> str:
    """One systemd word: double-quoted, with ``\\``, ``"``, ``%`` and ``$`` escaped so
    that a path with spaces or a percent sign reaches the process unchanged."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return '"' + escaped.replace("$", "$$") + '"'


def _environment(home: Home, path_env: str) -> list[str]:
    pairs = {"TINYCLAW_HOME": str(home.root), "PYTHONUNBUFFERED": "1"}
    if path_env:
        pairs["PATH"] = path_env
    return [f"Environment={quote(f'{k}={v}')}" for k, v in pairs.items()]


def _service(
    name: str,
    target: str,
    description: str,
    argv: list[str],
    home: Home,
    path_env: str,
    *,
    stop_seconds: float,
    extra: tuple[str, ...] = (),
) -> Unit:
    lines = [
        "[Unit]",
        "Description=" + description.replace("%", "%%"),
        f"PartOf={target}",
        "StartLimitIntervalSec=300",
        "StartLimitBurst=10",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=" + " ".join(quote(arg) for arg in argv),
        "ExecReload=/bin/kill -HUP $MAINPID",
        # A path setting takes the rest of the line as is: no quotes, only % escaped.
        "WorkingDirectory=" + str(home.root).replace("%", "%%"),
        *_environment(home, path_env),
        "Restart=on-failure",
        "RestartSec=5",
        *extra,
        "KillMode=mixed",
        f"TimeoutStopSec={int(stop_seconds)}",
        "StandardOutput=journal",
        "StandardError=journal",
        "",
        "[Install]",
        f"WantedBy={target}",
        "",
    ]
    return Unit(name, "\n".join(lines))


def render_units(
    home: Home,
    config: Config,
    *,
    prefix: str = "tinyclaw",
    python: str = sys.executable,
    path_env: str = "",
    node: str | None = None,
) -> list[Unit]:
    """The target, the worker's service and one service per enabled listener. The
    worker runs as worker node ``node`` when one is given (``--node NAME``)."""
    if not NAME_RE.fullmatch(prefix):
        raise ValueError(f"{prefix!r} is not a unit name prefix (letters, digits, - and _)")
    target = f"{prefix}.target"
    stop = config.worker.stop_timeout + 30
    # On NATS a worker may wait, before it says READY=1, for the servers or for its
    # node's lease while another machine serves the node (standby): as long as it takes.
    waits = ("TimeoutStartSec=infinity",) if config.spool.backend != "file" else ()
    units = [
        _service(
            f"{prefix}-worker.service",
            target,
            f"tinyclaw worker ({home.root})",
            [python, "-m", "tinyclaw.worker", *(["--node", node] if node else [])],
            home,
            path_env,
            stop_seconds=stop,
            extra=waits,
        )
    ]
    for channel in CHANNELS:
        if config.channels.get(channel).enabled:
            units.append(
                _service(
                    f"{prefix}-listen-{channel}.service",
                    target,
                    f"tinyclaw {channel} listener ({home.root})",
                    [python, "-m", "tinyclaw.channels", channel],
                    home,
                    path_env,
                    stop_seconds=30,
                    extra=(f"RestartPreventExitStatus={AUTH_EXIT}",),
                )
            )
    services = " ".join(unit.name for unit in units)
    grouping = Unit(
        target,
        "\n".join(
            [
                "[Unit]",
                "Description=" + f"tinyclaw ({home.root})".replace("%", "%%"),
                f"Wants={services}",
                "",
                "[Install]",
                "WantedBy=default.target",
                "",
            ]
        ),
    )
    return [grouping, *units]


def unit_paths(directory: Path, prefix: str) -> list[Path]:
    """The unit files of ``prefix`` already in ``directory`` (a previous install)."""
    found = [directory / f"{prefix}.target", directory / f"{prefix}-worker.service"]
    found += sorted(directory.glob(f"{prefix}-listen-*.service"))
    return [path for path in found if path.exists()]
