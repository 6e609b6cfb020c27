"""The configuration of one home: ``tinyclaw.toml`` and the secrets beside it.

The base layer, with :mod:`tinyclaw.core` below it and everything else above:

* :mod:`~tinyclaw.config.settings` — the validated ``tinyclaw.toml`` (re-exported here);
* :mod:`~tinyclaw.config.template` — the file ``tinyclaw init`` writes;
* :mod:`~tinyclaw.config.reload` — reading it again while a process serves;
* :mod:`~tinyclaw.config.dotenv`, :mod:`~tinyclaw.config.credentials`,
  :mod:`~tinyclaw.config.childenv` — which secrets exist, who owns each, and the
  environment each child process starts with.

The keys themselves are documented in ``docs/configuration.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.config.settings import (
    NAME_PATTERN,
    NAME_RE,
    ActorConfig,
    ChannelConfig,
    ChannelsConfig,
    Config,
    MetricsConfig,
    NodeConfig,
    PairingConfig,
    RunnerKind,
    RunnersConfig,
    RunnerSettings,
    SandboxNetwork,
    SpendLimits,
    SpoolConfig,
    TranscriptionConfig,
    WorkerConfig,
    load_config,
    load_home_config,
    merge_tables,
    parse_config,
    parse_toml,
    progress_mode,
    read_config_text,
    read_toml,
)
from tinyclaw.core import lazy_exports

if TYPE_CHECKING:
    from tinyclaw.config.childenv import child_environment, looks_secret, read_dotenv
    from tinyclaw.config.credentials import (
        WORKER,
        configured_secrets,
        owned_secrets,
        worker_redactor,
        worker_secrets,
    )
    from tinyclaw.config.dotenv import load_dotenv
    from tinyclaw.config.editing import ConfigEdit, set_value
    from tinyclaw.config.reload import (
        LOCAL_CONFIG_NAME,
        ReloadAttempt,
        config_files,
        fingerprint,
        one_line,
        read_again,
    )
    from tinyclaw.config.template import DEFAULT_CONFIG
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "DEFAULT_CONFIG",
    "LOCAL_CONFIG_NAME",
    "NAME_PATTERN",
    "NAME_RE",
    "WORKER",
    "ActorConfig",
    "ChannelConfig",
    "ChannelsConfig",
    "Config",
    "ConfigEdit",
    "MetricsConfig",
    "NodeConfig",
    "PairingConfig",
    "ReloadAttempt",
    "RunnerKind",
    "RunnerSettings",
    "RunnersConfig",
    "SandboxNetwork",
    "SpendLimits",
    "SpoolConfig",
    "TranscriptionConfig",
    "WorkerConfig",
    "child_environment",
    "config_files",
    "configured_secrets",
    "fingerprint",
    "load_config",
    "load_dotenv",
    "load_home_config",
    "looks_secret",
    "merge_tables",
    "one_line",
    "owned_secrets",
    "parse_config",
    "parse_toml",
    "progress_mode",
    "read_again",
    "read_config_text",
    "read_dotenv",
    "read_toml",
    "set_value",
    "worker_redactor",
    "worker_secrets",
]
