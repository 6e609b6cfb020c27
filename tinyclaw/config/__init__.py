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

from tinyclaw.config.settings import (
    NAME_PATTERN,
    NAME_RE,
    ActorConfig,
    ChannelConfig,
    ChannelsConfig,
    Config,
    MetricsConfig,
    PairingConfig,
    RunnerKind,
    RunnersConfig,
    RunnerSettings,
    SandboxNetwork,
    SpendLimits,
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

__all__ = [
    "NAME_PATTERN",
    "NAME_RE",
    "ActorConfig",
    "ChannelConfig",
    "ChannelsConfig",
    "Config",
    "MetricsConfig",
    "PairingConfig",
    "RunnerKind",
    "RunnerSettings",
    "RunnersConfig",
    "SandboxNetwork",
    "SpendLimits",
    "TranscriptionConfig",
    "WorkerConfig",
    "load_config",
    "load_home_config",
    "merge_tables",
    "parse_config",
    "parse_toml",
    "progress_mode",
    "read_config_text",
    "read_toml",
]
