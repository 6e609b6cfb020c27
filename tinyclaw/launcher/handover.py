"""What ``tinyclaw start`` hands each window of secrets: its own, and nothing else.

The launcher's environment holds whatever the operator exported, plus the home's
``.env`` (read by every command). None of it goes to the tmux server, whose global
environment every window and every shell in the session would inherit. A component
gets, in its window only, the secrets it owns that were exported rather than read
from ``.env``: its supervisor reads ``.env`` itself at every start, so a value in the
file is never frozen into the session. The worker's window also gets the
fingerprints of the secrets it is denied, to redact them from replies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tinyclaw.config import Config
from tinyclaw.config.childenv import looks_secret, read_dotenv
from tinyclaw.config.credentials import WORKER, configured_secrets
from tinyclaw.core.home import Home
from tinyclaw.core.redaction import FINGERPRINTS_ENV, MIN_SECRET_LENGTH, fingerprint
from tinyclaw.launcher.components import Component


@dataclass
class Handover:
    windows: dict[str, dict[str, str]] = field(default_factory=dict)  # component -> env
    unset: set[str] = field(default_factory=set)  # kept from the tmux server


def launch_secrets(
    home: Home,
    config: Config,
    components: Sequence[Component],
    environ: Mapping[str, str] | None = None,
) -> Handover:
    environ = os.environ if environ is None else environ
    dotenv = read_dotenv(home.env_file)
    configured = set(configured_secrets(config))
    names = {n for n in [*environ, *dotenv] if n in configured or looks_secret(n)}
    exported = {n: environ[n] for n in names if n in environ and dotenv.get(n) != environ[n]}
    handover = Handover(unset={n for n in names if n in environ})
    for component in components:
        own = {n: exported[n] for n in component.own if n in exported}
        if component.name == WORKER:
            denied = [v for n, v in exported.items() if n not in component.own]
            marks = {fingerprint(v) for v in denied if len(v) >= MIN_SECRET_LENGTH}
            if marks:
                own[FINGERPRINTS_ENV] = " ".join(sorted(marks))
        if own:
            handover.windows[component.name] = own
    return handover
