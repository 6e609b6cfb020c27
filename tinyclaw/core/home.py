"""Where tinyclaw keeps its files, and how a process finds them.

The home is chosen as git finds ``.git``: ``--home``, else ``TINYCLAW_HOME``, else the
nearest ancestor of the current directory holding ``tinyclaw.toml``, else
``~/.tinyclaw``. Every path any module uses is derived here, so a test that points
the home at ``tmp_path`` can never touch a real one.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from tinyclaw.core.errors import HomeError

CONFIG_NAME = "tinyclaw.toml"
LOCAL_CONFIG_NAME = "tinyclaw.local.toml"
ENV_VAR = "TINYCLAW_HOME"


@dataclass(frozen=True)
class Home:
    """The runtime layout of one tinyclaw home (docs/configuration.md, "The home")."""

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def local_config_file(self) -> Path:
        """The owner's settings merged over ``tinyclaw.toml`` (git-ignored in a checkout)."""
        return self.root / LOCAL_CONFIG_NAME

    @property
    def env_file(self) -> Path:
        return self.root / ".env"

    @property
    def queue(self) -> Path:
        return self.root / "queue"

    @property
    def actors(self) -> Path:
        return self.root / "actors"

    @property
    def pairing(self) -> Path:
        return self.root / "pairing"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state(self) -> Path:
        """Worker-owned state that is not a queue: sessions, conversations, locks."""
        return self.root / "state"

    @property
    def schedules(self) -> Path:
        return self.root / "schedules"

    @property
    def runs(self) -> Path:
        """The process groups of the CLIs running now (``runners.groups``)."""
        return self.state / "runs"

    def actor_dir(self, name: str) -> Path:
        return self.actors / name

    def ensure(self) -> None:
        """Create the folders every process expects; cheap and idempotent."""
        for path in (self.queue, self.actors, self.pairing, self.logs, self.state):
            path.mkdir(parents=True, exist_ok=True)
        # Who may talk to the assistant is nobody else's business on this machine.
        if self.pairing.stat().st_mode & 0o077:
            with contextlib.suppress(PermissionError):  # not ours: `tinyclaw doctor` says so
                self.pairing.chmod(0o700)


def find_home(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Home:
    """Resolve the home by the documented precedence; never creates anything."""
    if explicit:
        return Home(Path(explicit).expanduser().resolve())
    env = os.environ.get(ENV_VAR)
    if env:
        return Home(Path(env).expanduser().resolve())
    start = (cwd or Path.cwd()).resolve()
    for candidate in (start, *start.parents):
        if (candidate / CONFIG_NAME).is_file():
            return Home(candidate)
    return user_home()


def user_home() -> Home:
    """``~/.tinyclaw``: the home of an installed tinyclaw (what ``tinyclaw init``
    creates when told no other place)."""
    try:
        home_dir = Path.home()
    except RuntimeError as exc:  # no HOME and no passwd entry
        raise HomeError("cannot find a home: set TINYCLAW_HOME or pass --home") from exc
    return Home((home_dir / ".tinyclaw").resolve())
