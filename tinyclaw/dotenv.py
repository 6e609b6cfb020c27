"""``.env``: secrets beside the home, for those who would rather not export them.

``KEY=value`` lines (``export`` allowed, quotes stripped, ``#`` comments) are merged
into the environment *without overriding it*: what the real environment says wins,
so a token rotated in a service manager is never shadowed by a stale file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tinyclaw.errors import ConfigError

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load_dotenv(path: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Merge ``KEY=value`` lines of a ``.env`` file into ``environ`` without overriding
    what the real environment already says. Returns the keys it set."""
    target = os.environ if environ is None else environ
    loaded: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return loaded
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not ENV_NAME_RE.fullmatch(key):
            raise ConfigError(f"{path}:{number}: expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key not in target:
            target[key] = value
            loaded[key] = value
    return loaded
