"""Confine each actor's CLI with bubblewrap: its workspace is all it may write.

A CLI runs the model's shell commands as the user who runs tinyclaw, so unconfined
it can read everything that user can: the home's ``.env``, ``pairing/secret.key``
and ``store.json``, the queue and logs, other actors' workspaces, and through
``/proc`` the worker's environment. Under ``bwrap`` it sees the machine read-only,
the tinyclaw home and every other actor's workspace as empty folders, a private
``/tmp`` and a ``/proc`` of its own PID namespace, and may write only its workspace
and the CLI's own state folder (sessions: resume needs the same HOME/CODEX_HOME).
The files a message brings (attachments under ``queue/files/<id>/``) are shown to
it read-only, one by one.

:func:`confine` is the pure part: argv and env in, the confined argv and env out.
:class:`Sandbox` is what the runners call at the spawn point: it turns an actor's
configuration into a :class:`Policy` (probing once whether bwrap works at all) and
applies it. The process-group handling of ``runners.process`` is unchanged: bwrap
stays in the CLI's group (no ``--new-session``), so stopping the recorded group
stops the sandbox and everything in it, and ``--die-with-parent`` takes the
namespace down with bwrap if bwrap alone is killed.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from tinyclaw.config import ActorConfig, Config, SandboxNetwork
from tinyclaw.core import ConfigError, Home
from tinyclaw.runners.contract import EventSink, RunEvent, RunRequest
from tinyclaw.runners.environment import build_cli_env

log = logging.getLogger("tinyclaw.sandbox")

Probe = Callable[[str, bool], str | None]


class Confiner(Protocol):
    """What a runner calls between building a CLI's argv/env and spawning it."""

    def __call__(
        self, request: RunRequest, argv: Sequence[str], env: Mapping[str, str], emit: EventSink
    ) -> tuple[list[str], dict[str, str]]: ...


# Mount order for one path: hide first, then what is shown again inside it.
_RANK = {"hide": 0, "ro": 1, "rw": 2}


@dataclass(frozen=True)
class Policy:
    """What one actor's CLI may see and touch; ``confined`` False means as the user."""

    confined: bool
    network: SandboxNetwork = "shared"
    bwrap: str = "bwrap"
    writable: tuple[Path, ...] = ()  # the workspace, the CLI's state, configured extras
    readable: tuple[Path, ...] = ()  # shown again read-only inside a hidden folder
    hidden: tuple[Path, ...] = ()  # the tinyclaw home, other workspaces, configured extras
    note: str = ""  # why it is unconfined, for the log and doctor

    def describe(self) -> str:
        """One line for ``tinyclaw doctor`` and the actor window."""
        if not self.confined:
            return f"unconfined ({self.note})" if self.note else "unconfined"
        writes = ", ".join(str(p) for p in self.writable) or "nothing"
        hides = ", ".join(str(p) for p in self.hidden) or "nothing"
        net = "shared network" if self.network == "shared" else "no network"
        return f"bwrap: writes only {writes}; hides {hides}; private /tmp and /proc; {net}"


@dataclass(frozen=True)
class _Mount:
    path: Path
    op: str  # "hide" | "ro" | "rw"


def _depth(path: Path) -> int:
    return len(path.parts)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _mount_args(mount: _Mount) -> list[str]:
    path = str(mount.path)
    if mount.op == "rw":
        return ["--bind", path, path]
    if mount.op == "ro":
        return ["--ro-bind", path, path]
    if mount.path.is_dir():
        return ["--tmpfs", path]
    return ["--ro-bind", "/dev/null", path]  # a hidden file reads as empty


def confine(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    policy: Policy,
    readable: Iterable[Path] = (),
) -> tuple[list[str], dict[str, str]]:
    """``argv``/``env`` to run in ``cwd`` under ``policy``: unchanged when unconfined.

    Mounts are ordered by depth, so a folder shown again (the workspace inside the
    hidden home) is mounted after the folder that hides it. Paths that do not exist
    are skipped: bwrap refuses to bind a missing source. ``readable`` are the files
    this one run needs besides its workspace (a message's attachments)."""
    if not policy.confined:
        return list(argv), dict(env)
    shown = {_Mount(p, "ro") for p in (*policy.readable, *readable)}
    shown |= {_Mount(p, "rw") for p in policy.writable}
    # A path both hidden and shown (a workspace that is the home itself) is shown.
    mounts = shown | {_Mount(p, "hide") for p in policy.hidden} - {
        _Mount(m.path, "hide") for m in shown
    }
    ordered = sorted(
        (m for m in mounts if os.path.lexists(m.path)),
        key=lambda m: (_depth(m.path), _RANK[m.op], str(m.path)),
    )
    wrapped = [
        policy.bwrap,
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
    ]  # fmt: skip
    for mount in ordered:
        wrapped += _mount_args(mount)
    for mount in ordered:  # last: what is shown inside a hidden folder is mounted by now
        if mount.op == "hide" and mount.path.is_dir():
            wrapped += ["--remount-ro", str(mount.path)]  # a write there fails, not vanishes
    wrapped += ["--unshare-pid", "--unshare-ipc", "--die-with-parent"]
    if policy.network == "none":
        wrapped.append("--unshare-net")
    wrapped += ["--chdir", str(cwd), "--", *argv]
    confined_env = dict(env)
    confined_env["TMPDIR"] = "/tmp"  # the private one; a TMPDIR outside may be hidden
    return wrapped, confined_env


@functools.lru_cache(maxsize=8)
def probe_bwrap(program: str, unshare_net: bool = False) -> str | None:
    """None if ``program`` can build a sandbox here, else why not (one line).

    bwrap may be installed and still fail: a container without user namespaces, or
    one whose seccomp profile forbids mount. So it is run once, for real."""
    path = shutil.which(program)
    if path is None:
        return f"{program!r} is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    argv = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    argv += ["--unshare-pid", "--unshare-ipc", "--die-with-parent"]
    argv += ["--unshare-net"] if unshare_net else []
    try:
        done = subprocess.run(
            [*argv, "--", "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{path} cannot run: {exc}"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return f"{path} does not work here: {lines[-1] if lines else f'exit {done.returncode}'}"
    return None


def _expand(path: str, home: Home) -> Path:
    expanded = Path(os.path.expanduser(path))
    return (expanded if expanded.is_absolute() else home.root / expanded).resolve()


def state_dirs(kind: str, env: Mapping[str, str], dedicated: bool) -> list[Path]:
    """Where the CLI keeps its sessions, which it must write to resume them: a HOME
    or CODEX_HOME set for it (``runners.<kind>.home``) whole, else only the CLI's own
    part of the user's real HOME."""
    home = env.get("HOME")
    if kind == "codex":
        codex_home = env.get("CODEX_HOME") or (f"{home}/.codex" if home else None)
        return [Path(codex_home)] if codex_home else []
    if not home:
        return []
    if dedicated:
        return [Path(home)]
    return [Path(home) / ".claude", Path(home) / ".claude.json"]


def _package_root(command: Path) -> Path:
    """The ``node_modules`` folder a CLI's script lives in (its sibling packages come
    with it: codex loads its native binary from one), else the program's folder."""
    for parent in command.parents:
        if parent.name == "node_modules":
            return parent
    return command.parent


class Sandbox:
    """The runners' hook at the spawn point: ``sandbox(request, argv, env, emit)``.

    ``probe`` is injectable so a test can show a machine where bwrap fails."""

    def __init__(self, home: Home, config: Config, probe: Probe = probe_bwrap) -> None:
        self.home = home
        self.config = config
        self._probe = probe

    def policy(self, actor: str, env: Mapping[str, str] | None = None) -> Policy:
        """``actor``'s policy; ``env`` is its CLI's environment (default: what the
        runner would build from ``os.environ``), where its state folder is named."""
        settings = self.config.sandbox
        actor_settings = self.config.actors.get(actor)
        if actor_settings is None:  # made only then: a model built on first use
            actor_settings = ActorConfig()
        own = actor_settings.sandbox
        mode = own.mode or settings.mode
        network = own.network or settings.network
        if mode == "off":
            return Policy(False, network, note="sandbox mode is off in tinyclaw.toml")
        problem = self._probe(settings.bwrap, network == "none")
        if problem is not None:
            if mode == "bwrap":
                return Policy(False, network, note=f"REFUSED: {problem}")
            return Policy(False, network, note=f"bwrap unusable: {problem}")
        kind = actor_settings.runner
        runner = self.config.runners.for_kind(kind)
        if env is None:
            env = build_cli_env(runner, kind, os.environ)
        state = state_dirs(kind, env, dedicated=runner.home is not None)
        mine = self._workspace(actor)
        writable = [*([mine] if mine else []), *(p.resolve() for p in state)]
        writable += [_expand(path, self.home) for path in (*settings.writable, *own.writable)]
        return Policy(
            True,
            network,
            bwrap=shutil.which(settings.bwrap) or settings.bwrap,
            writable=tuple(dict.fromkeys(writable)),
            readable=tuple(self._readable()),
            hidden=tuple(self._hidden(actor, settings.hide)),
        )

    def check(self) -> None:
        """At worker start: refuse (ConfigError) when an actor demands bwrap and it does
        not work here; warn loudly for each actor that runs unconfined for lack of it."""
        refused = []
        for name in self.config.actors:
            policy = self.policy(name)
            if policy.note.startswith("REFUSED"):
                refused.append(name)
            elif not policy.confined and policy.note.startswith("bwrap unusable"):
                log.warning(
                    "actor=%s runs UNCONFINED: its CLI can read everything this user can "
                    "(the home's .env, pairing keys, other workspaces): %s",
                    name,
                    policy.note,
                )
        if refused:
            problem = self._probe(self.config.sandbox.bwrap, False) or "bwrap does not work"
            raise ConfigError(
                f'sandbox mode "bwrap" is required for {", ".join(refused)} but {problem}'
            )

    def __call__(
        self, request: RunRequest, argv: Sequence[str], env: Mapping[str, str], emit: EventSink
    ) -> tuple[list[str], dict[str, str]]:
        policy = self.policy(request.actor, env)
        if policy.confined:
            # bwrap binds only what exists: the workspace and state folders are made
            # now (the process runner would make the workspace only after this).
            workspace = request.workspace
            for folder in (workspace, *policy.writable):
                if folder.name != ".claude.json" and not os.path.lexists(folder):
                    folder.mkdir(parents=True, exist_ok=True)
            programs = [Path(argv[0]), Path(argv[0]).resolve()] if argv else []
            policy = replace(
                policy,
                # Also under the configured name: a symlink to the workspace inside
                # the hidden home would be gone, and claude keys sessions by the cwd.
                writable=tuple(
                    dict.fromkeys((workspace.resolve(), workspace.absolute(), *policy.writable))
                ),
                readable=(*policy.readable, *dict.fromkeys(_package_root(p) for p in programs)),
            )
        emit(RunEvent("sandbox", policy.describe(), {"confined": policy.confined}))
        return confine(argv, env, request.workspace, policy, request.readable)

    # -- the parts of a policy -------------------------------------------------------

    def _workspace(self, actor: str) -> Path | None:
        if actor not in self.config.actors:
            return None
        return self.config.workspace_for(self.home, actor).resolve()

    def _readable(self) -> list[Path]:
        tools = self.home.root / ".tools"
        return [tools.resolve()] if tools.exists() else []

    def _hidden(self, actor: str, extra: Iterable[str]) -> list[Path]:
        root = self.home.root.resolve()
        hidden = [root]
        mine = self._workspace(actor)
        if mine is not None and _inside(root, mine):
            # The workspace holds the home: hide the home's own parts one by one.
            hidden += [root / name for name in (".env", "pairing", "state", "logs", "queue")]
            hidden += [root / "actors", root / "tinyclaw.toml"]
        for name in self.config.actors:
            other = self._workspace(name)
            if other is not None and other != mine and not _inside(other, root):
                hidden.append(other)
        hidden += [_expand(path, self.home) for path in extra]
        return list(dict.fromkeys(hidden))
