"""The environment a supervised component starts with: its own secrets, nobody else's.

Each tmux window's supervisor builds its child's environment here, at every
(re)start, so a token fixed in the home's ``.env`` is used when the operator presses
Enter or runs ``tinyclaw restart``, and a process never holds a secret it does not
use. The rules, in order:

1. Start from the supervisor's own environment (what ``tinyclaw start`` passed on).
2. Re-read the home's ``.env``. A name it defines takes its ``.env`` value: the file
   wins over a value that was only inherited from the launcher.
3. Remove every secret the component does not own: the names the configuration
   withholds (other listeners' tokens), every ``.env`` name that looks like a
   credential, and every inherited name that looks like one. The component's own
   names (``own``) are kept.

Only the standard library and the ``.env`` reader: this runs in every supervisor.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from tinyclaw.config.dotenv import load_dotenv
from tinyclaw.core.redaction import FINGERPRINTS_ENV, MIN_SECRET_LENGTH, fingerprint

_SECRET_PARTS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "API_KEY", "PRIVATE_KEY")
_SECRET_SUFFIXES = ("_KEY", "_PASS")


def looks_secret(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential."""
    upper = name.upper()
    return any(part in upper for part in _SECRET_PARTS) or upper.endswith(_SECRET_SUFFIXES)


def read_dotenv(path: Path) -> dict[str, str]:
    """Every ``KEY=value`` of the ``.env`` at ``path`` (empty if there is none).
    A malformed file raises ConfigError, like every other reader of it."""
    values: dict[str, str] = {}
    load_dotenv(path, values)
    return values


def child_environment(
    environ: Mapping[str, str],
    dotenv: Mapping[str, str],
    *,
    own: Collection[str],
    withheld: Collection[str] = (),
) -> tuple[dict[str, str], list[str]]:
    """The child's environment, and the secret values left out of it.

    The fingerprints of what was left out are added to ``TINYCLAW_REDACT``, so the
    worker can still redact a withheld token that a reply quotes."""
    env = dict(environ)
    for name, value in dotenv.items():
        if name in own or not looks_secret(name):
            env[name] = value
    removed: list[str] = []
    for name in [*withheld, *dotenv, *environ]:
        if name in own or name not in env:
            continue
        if name in withheld or looks_secret(name):
            removed.append(env.pop(name))
    marks = set(env.get(FINGERPRINTS_ENV, "").split())
    marks |= {fingerprint(v) for v in removed if len(v) >= MIN_SECRET_LENGTH}
    if marks:
        env[FINGERPRINTS_ENV] = " ".join(sorted(marks))
    return env, removed
