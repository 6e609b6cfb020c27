"""``.env``: secrets beside the home, for those who would rather not export them.

The file is parsed by ``python-dotenv``, so it means what it means to every other
tool that reads ``.env``: ``export`` allowed, single or double quotes, escapes such
as ``\\n`` inside double quotes, ``# comments`` (also after an unquoted value:
``TOKEN=abc # my bot`` is ``abc``) and ``${VAR}`` / ``${VAR:-default}``, expanded
from the environment and from earlier lines of the file.

The values are merged into the environment *without overriding it* (unless a caller
passes ``override=True``): what the real environment says wins, so a token rotated
in a service manager is never shadowed by a stale file. A line that is not
``KEY=value`` is one clear error naming the file and the line.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import MutableMapping
from pathlib import Path

from tinyclaw.core import ConfigError

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_dotenv(
    path: Path, environ: MutableMapping[str, str] | None = None, *, override: bool = False
) -> dict[str, str]:
    """Every ``KEY=value`` of ``path`` in file order, ``${VAR}`` expanded from the
    environment ``environ`` and earlier lines (the environment wins unless
    ``override``); {} if there is no file."""
    env = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    # Imported here: a home without a .env (and every process that never reads one)
    # does not load the parser.
    from dotenv.parser import parse_stream
    from dotenv.variables import parse_variables

    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error or (binding.key is not None and binding.value is None):
            raise ConfigError(f"{path}:{line}: expected KEY=value")
        if binding.key is None or binding.value is None:
            continue  # a blank line or a comment
        if not ENV_NAME_RE.fullmatch(binding.key):
            raise ConfigError(f"{path}:{line}: {binding.key!r} is not a variable name")
        scope = {**env, **values} if override else {**values, **env}
        values[binding.key] = "".join(a.resolve(scope) for a in parse_variables(binding.value))
    return values


def load_dotenv(
    path: Path, environ: MutableMapping[str, str] | None = None, *, override: bool = False
) -> dict[str, str]:
    """Merge the ``.env`` file at ``path`` into ``environ`` (default: ``os.environ``)
    without overriding what it already says (unless ``override``). Returns the keys
    it set, with their values."""
    target = os.environ if environ is None else environ
    loaded: dict[str, str] = {}
    for key, value in read_dotenv(path, target, override=override).items():
        if override or key not in target:
            target[key] = value
            loaded[key] = value
    return loaded
