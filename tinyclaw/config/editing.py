"""Changing one key of the owner's configuration file, keeping everything else.

``tinyclaw.toml`` is the owner's: comments, order and formatting must survive a
change a command makes. ``tomlkit`` edits the document it parsed, so only the one
value changes. The result is validated as the whole configuration (with
``tinyclaw.local.toml`` laid over it) before anything is written, and written
atomically, so a crash leaves the old file or the new one, never half of either."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from tinyclaw.config.settings import (
    merge_tables,
    parse_config,
    parse_toml,
    read_config_text,
    read_toml,
)
from tinyclaw.core import ConfigError, Home, atomic_write


@dataclass(frozen=True)
class ConfigEdit:
    """A checked new text for one configuration file; :meth:`write` puts it there."""

    path: Path
    text: str
    changed: bool

    def write(self) -> None:
        if self.changed:
            atomic_write(self.path, self.text.encode("utf-8"))


def set_value(home: Home, table: str, key: str, value: str) -> ConfigEdit:
    """``[table] key = value`` in the file whose value counts: ``tinyclaw.local.toml``
    when it sets the key (it is laid over the other), else ``tinyclaw.toml``. The
    result must be a valid configuration (ConfigError naming the problem otherwise)."""
    local = read_toml(home.local_config_file, missing_ok=True)
    in_local = isinstance(local.get(table), dict) and key in local[table]
    path = home.local_config_file if in_local else home.config_file
    old = read_config_text(path)
    try:
        doc = tomlkit.parse(old)
    except TOMLKitError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if table not in doc:
        doc.add(table, tomlkit.table())
    section = doc[table]
    if not isinstance(section, MutableMapping):
        raise ConfigError(f"{path}: {table} is not a table")
    section[key] = value
    text = tomlkit.dumps(doc)
    base = parse_toml(
        text if path == home.config_file else read_config_text(home.config_file),
        str(home.config_file),
    )
    over = parse_toml(text, str(path)) if in_local else local
    parse_config(merge_tables(base, over) if over else base, str(path))
    return ConfigEdit(path, text, text != old)
