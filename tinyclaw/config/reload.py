"""Reading ``tinyclaw.toml`` again while a process serves: what changed, what applies.

A running worker or listener keeps its :class:`~tinyclaw.config.Config` until a newer
one is *valid*: an edit that does not parse or validate is refused with one line and
the running configuration stays in force, so a typo never takes the assistant down.
Changes are named by their dotted keys (``actors``: added, removed, changed by name),
and split into those the process applies at once and those that only a restart
applies (a listener's token or address, the launcher's session, the metrics
exporter, the spool backend and the worker nodes), which are reported, not silently
ignored.

Whether the file changed is decided by its ``stat`` (inode, size, modification time),
so an editor that saves by rename and one that writes in place are both noticed, and
an unchanged file costs one ``stat`` per check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyclaw.config import Config, load_config
from tinyclaw.core import ConfigError, Home

LOCAL_CONFIG_NAME = "tinyclaw.local.toml"
Fingerprint = tuple[tuple[int, int, int] | None, ...]

# Listener settings read once when it connects: a change needs that listener restarted.
_LISTENER_KEYS = frozenset(
    {
        "enabled",
        "token_env",
        "verify_token_env",
        "app_secret_env",
        "base_url",
        "base_file_url",
        "api_base",
        "gateway_url",
        "phone_id",
        "host",
        "port",
    }
)
# Top-level sections only a restart applies.
_RESTART_SECTIONS = {
    "launcher": "restart tinyclaw: `tinyclaw restart`",
    "metrics": "restart the worker",
    "spool": "restart the worker and every listener",
    "nodes": "restart the workers",  # only when [nodes] appear or go
}


def config_files(home: Home) -> list[Path]:
    """The files the configuration is read from (the local one may not exist)."""
    return [home.config_file, home.root / LOCAL_CONFIG_NAME]


def fingerprint(home: Home) -> Fingerprint:
    """What tells a changed configuration file from the one last read."""
    marks: list[tuple[int, int, int] | None] = []
    for path in config_files(home):
        try:
            st = path.stat()
        except OSError:
            marks.append(None)
        else:
            marks.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(marks)


@dataclass(frozen=True)
class ConfigChange:
    """The difference between the running configuration and the file's."""

    applied: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.applied and not self.restart

    def summary(self) -> str:
        """One line: what changed, and what waits for a restart."""
        if self.empty:
            return "no changes"
        parts = []
        if self.applied:
            parts.append("applied: " + ", ".join(self.applied))
        if self.restart:
            parts.append("needs a restart: " + "; ".join(self.restart))
        return "; ".join(parts)


@dataclass(frozen=True)
class ReloadAttempt:
    """A fresh read of the configuration: the new config and its change, or the one
    line that refused it."""

    config: Config | None
    change: ConfigChange
    error: str | None = None


def read_again(home: Home, running: Config) -> ReloadAttempt:
    """Load and validate the file again and compare it with ``running``."""
    try:
        new = load_config(home)
    except ConfigError as exc:
        return ReloadAttempt(None, ConfigChange(), one_line(str(exc)))
    return ReloadAttempt(new, diff(running, new))


def one_line(text: str) -> str:
    """A multi-line validation report as one line (mistakes joined with ``; ``)."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def diff(old: Config, new: Config) -> ConfigChange:
    before, after = old.model_dump(), new.model_dump()
    applied: list[str] = []
    restart: list[str] = []
    for section in sorted(set(before) | set(after)):
        a, b = before.get(section), after.get(section)
        if a == b:
            continue
        if section in ("actors", "teams") or (section == "nodes" and a and b):
            # A node's actors move on a reload (the worker starts or stops serving
            # them); defining nodes where there were none, or none left, is a restart.
            applied += _named_changes(section, a or {}, b or {})
        elif section == "channels":
            _channel_changes(a or {}, b or {}, applied, restart)
        elif section in _RESTART_SECTIONS:
            restart.append(f"{section} ({_RESTART_SECTIONS[section]})")
        else:
            applied += [".".join(filter(None, (section, k))) for k in _changed_keys(a, b)]
    return ConfigChange(applied, restart)


def _named_changes(section: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = [f"{section}.{name} added" for name in b if name not in a]
    out += [f"{section}.{name} removed" for name in a if name not in b]
    out += [f"{section}.{name}" for name in b if name in a and a[name] != b[name]]
    return out


def _channel_changes(
    a: dict[str, Any], b: dict[str, Any], applied: list[str], restart: list[str]
) -> None:
    for name in sorted(set(a) | set(b)):
        for key in _changed_keys(a.get(name), b.get(name)):
            dotted = f"channels.{name}.{key}"
            if key in _LISTENER_KEYS:
                restart.append(f"{dotted} (restart the {name} listener)")
            else:
                applied.append(dotted)


def _changed_keys(a: Any, b: Any) -> list[str]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return [""] if a != b else []
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
