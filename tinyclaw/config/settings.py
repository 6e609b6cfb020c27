"""``tinyclaw.toml``: the validated configuration of one home.

Every section is a pydantic model with ``extra="forbid"``, so a typo is an error, not
a silently ignored key. :func:`load_config` turns pydantic's report into one line per
mistake naming the key and what was expected. The file never holds secrets: tokens are
named here (``token_env``, ``pass_env``) and read from the environment or ``.env``.
"""

from __future__ import annotations

import codecs
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tinyclaw.config.dotenv import ENV_NAME_RE, load_dotenv
from tinyclaw.core import ConfigError, Home, UnsafePathError, parse_target, read_regular

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
NAME_RE = re.compile(NAME_PATTERN)
ActorName = Annotated[str, Field(pattern=NAME_PATTERN)]
MAX_CONFIG_BYTES = 1024 * 1024  # a real tinyclaw.toml is a few KB
_PLAIN_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")

RunnerKind = Literal["claude", "codex"]
ChannelName = Literal["telegram", "discord", "whatsapp"]


class Strict(BaseModel):
    """A section of ``tinyclaw.toml``. Built on first use (``defer_build``): a process
    validates only :class:`Config`, whose validator covers every section, so no
    section compiles a validator of its own unless something validates it alone."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _section(model: type[Strict], **values: Any) -> Any:
    """The default of a section left out of the file: its defaults (and ``values``),
    which are valid by construction, so made without validating them
    (``model_construct``); equal to what validating an empty section gives."""
    return Field(default_factory=lambda: model.model_construct(**values))


def _check_url(value: str | None, schemes: tuple[str, ...], example: str) -> str | None:
    """A URL a listener connects to: checked here, because a listener given
    ``"::::"`` would otherwise retry the connection for ever."""
    if value is None:
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a URL ({exc}); expected e.g. {example}") from None
    if parts.scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ValueError(f"{value!r} is not a {wanted} URL; expected e.g. {example}")
    return value


def _check_user_ids(values: list[Any]) -> list[str]:
    """Platform user ids: numbers (TOML integers welcome), spaces around them dropped.
    An ``@name`` or a phone number with ``+`` matches nobody, silently: refused."""
    ids = []
    for value in values:
        text = str(value).strip() if isinstance(value, str | int) else value
        if not isinstance(text, str) or not text.isdigit():
            raise ValueError(
                f'{value!r} is not a user id: ids are numbers, such as "123456789" '
                "(not @names; WhatsApp: the phone number as digits only, no '+')"
            )
        ids.append(text)
    return ids


def _check_env_names(names: list[str]) -> list[str]:
    for name in names:
        if not ENV_NAME_RE.fullmatch(name):
            raise ValueError(f"{name!r} is not an environment variable name")
    return names


class RunnerSettings(Strict):
    """How to start one CLI. ``env`` holds plain values; ``pass_env`` names secrets that
    are copied from tinyclaw's own environment into the CLI's, and nothing else is."""

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    pass_env: list[str] = Field(default_factory=list)
    home: str | None = Field(
        default=None,
        description="HOME (claude) or CODEX_HOME (codex) for the CLI; default: the real one",
    )
    live: bool = Field(
        default=True,
        description="keep a two-way channel to the CLI during a run (steer, cancel, approve)",
    )

    @field_validator("pass_env")
    @classmethod
    def _pass_env_names(cls, value: list[str]) -> list[str]:
        return _check_env_names(value)

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        _check_env_names(list(value))
        return value


class RunnersConfig(Strict):
    claude: RunnerSettings = _section(RunnerSettings)
    codex: RunnerSettings = _section(RunnerSettings)

    def for_kind(self, kind: RunnerKind) -> RunnerSettings:
        return self.claude if kind == "claude" else self.codex


class HeartbeatConfig(Strict):
    every: str = Field(description="interval such as 30m or 2h")
    active_hours: str | None = Field(default=None, description="HH:MM-HH:MM local time")
    to: str | None = Field(default=None, description="target chat channel:chat_id")


# What each CLI accepts: claude's --permission-mode, codex's --sandbox.
PERMISSION_MODES: dict[str, tuple[str, ...]] = {
    "claude": ("default", "acceptEdits", "auto", "bypassPermissions", "dontAsk", "manual", "plan"),
    "codex": ("read-only", "workspace-write", "danger-full-access"),
}


MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/\[\]-]{0,99}$"
ModelName = Annotated[str, Field(pattern=MODEL_PATTERN)]


class SpendLimits(Strict):
    """Spend caps in US dollars; None: no cap. A day and a month are counted in the
    host's local time zone (``$TZ``, else ``/etc/localtime``)."""

    max_usd_per_day: float | None = Field(default=None, ge=0)
    max_usd_per_month: float | None = Field(default=None, ge=0)


ApprovalRoute = Literal["window", "chat"]


def _both_routes() -> list[ApprovalRoute]:
    return ["window", "chat"]


SandboxMode = Literal["auto", "bwrap", "off"]
SandboxNetwork = Literal["shared", "none"]


class SandboxConfig(Strict):
    """How each actor's CLI is confined (``[sandbox]``). ``auto`` uses bubblewrap
    where it works and runs unconfined with a warning where it does not; ``bwrap``
    refuses to start without it; ``off`` never confines."""

    mode: SandboxMode = "auto"
    network: SandboxNetwork = Field(
        default="shared", description='"none" cuts the CLI off its hosted API too'
    )
    bwrap: str = Field(default="bwrap", description="the bubblewrap program (name or path)")
    writable: list[str] = Field(
        default_factory=list, description="more paths every sandboxed CLI may write"
    )
    hide: list[str] = Field(
        default_factory=list, description="more paths no sandboxed CLI may see (~/.ssh)"
    )


class ActorSandboxConfig(Strict):
    """One actor's exceptions to ``[sandbox]``; unset keys inherit it."""

    mode: SandboxMode | None = None
    network: SandboxNetwork | None = None
    writable: list[str] = Field(
        default_factory=list, description="more paths this actor's CLI may write"
    )


class ActorConfig(SpendLimits):
    runner: RunnerKind = "claude"
    model: str | None = None
    models: list[ModelName] = Field(
        default_factory=list,
        description="models a chat may pick with /model (passed to the CLI as --model)",
    )
    description: str = ""
    persona: str = ""
    workspace: str | None = Field(default=None, description="default: actors/<name>/workspace")
    timeout: float = Field(default=600.0, gt=0, le=86400)
    permission_mode: str | None = Field(
        default=None,
        description="claude: --permission-mode value; codex: --sandbox value",
    )
    heartbeat: HeartbeatConfig | None = None
    owner_chat: str | None = Field(default=None, description="channel:chat_id it may write to")
    may_message: list[str] = Field(
        default_factory=list,
        description="more channel:chat_id targets its outbox and own schedules may write to",
    )
    approvals: list[ApprovalRoute] = Field(
        default_factory=_both_routes,
        description="where a tool permission the CLI asks for goes; empty: denied at once",
    )
    approval_timeout: float = Field(
        default=300.0, gt=0, le=86400, description="seconds without an answer means deny"
    )
    approvers: list[str] = Field(
        default_factory=list,
        description="channel:user_id profiles besides the owners that may answer approvals",
    )
    approval_policy: Literal["never", "on-request", "untrusted"] | None = Field(
        default=None,
        description="codex: when it asks before a command or edit (default never, as exec)",
    )
    steer_note: bool = Field(
        default=True, description="tell the chat user when the owner steers their run"
    )
    sandbox: ActorSandboxConfig = _section(ActorSandboxConfig)

    @model_validator(mode="after")
    def _permission_mode_of_its_runner(self) -> ActorConfig:
        # A typo here would pass every check and fail every run, so it is caught now.
        modes = PERMISSION_MODES[self.runner]
        if self.permission_mode is not None and self.permission_mode not in modes:
            raise ValueError(
                f"permission_mode {self.permission_mode!r} is not a {self.runner} mode; "
                f"expected one of: {', '.join(modes)}"
            )
        return self

    @field_validator("may_message")
    @classmethod
    def _may_message_targets(cls, value: list[str]) -> list[str]:
        try:
            return [str(parse_target(item)) for item in value]
        except ConfigError as exc:
            raise ValueError(str(exc)) from None


class TeamConfig(Strict):
    leader: str
    members: list[str]
    description: str = ""
    progress: Literal["all", "handoffs", "off"] = Field(
        default="all",
        description="what the user sees while the team works: every handoff and "
        "answer (all), the handoffs only, or nothing but the final answer (off)",
    )

    @model_validator(mode="after")
    def _leader_is_member(self) -> TeamConfig:
        if self.leader not in self.members:
            raise ValueError(f"leader {self.leader!r} must also be listed in members")
        return self


class LimitsConfig(Strict):
    max_hops: int = Field(default=6, ge=1, le=100)
    max_runs: int = Field(default=20, ge=1, le=1000)
    budget_seconds: float = Field(default=1800.0, gt=0)


class WorkerConfig(Strict):
    concurrency: int = Field(default=4, ge=1, le=64)
    default_actor: str | None = None
    scan_interval: float = Field(default=5.0, gt=0, le=3600)
    max_attempts: int = Field(default=3, ge=1, le=100)
    retry_backoff: float = Field(default=2.0, ge=0, le=3600)
    stop_timeout: float = Field(
        default=30.0, ge=0, description="seconds in-flight runs get on stop before requeue"
    )
    keep_days: float = Field(
        default=7.0,
        gt=0,
        le=3650,
        description="days queue/sent/ and queue/seen/ remember a message before pruning",
    )
    dedupe_window: float = Field(
        default=300.0,
        ge=0,
        le=86400,
        description="seconds within which an actor's second identical outbox note or "
        "schedule file is dropped as a repeat (0: never)",
    )


# What ``progress`` means where a channel leaves it unset: the platforms whose
# listener edits one status message in place show it; WhatsApp cannot edit.
PROGRESS_DEFAULTS = {"telegram": "edit", "discord": "edit"}


def progress_mode(channel: str, settings: ChannelConfig | None) -> str:
    """The ``progress`` a channel really has: its own setting, else its platform's
    default ("off" for a channel that is not configured)."""
    if settings is None:
        return "off"
    if settings.progress is not None:
        return settings.progress
    return PROGRESS_DEFAULTS.get(channel, "off")


class ChannelConfig(Strict):
    enabled: bool = False
    token_env: str | None = None
    allow_from: list[str] = Field(default_factory=list)
    allow_groups: list[str] = Field(default_factory=list)
    max_attachment_mb: float = Field(default=20.0, gt=0, le=2048)
    progress: Literal["off", "notes", "edit"] | None = Field(
        default=None,
        description="live steps of a run: off, throttled notes (one every 2 s at most), "
        "or edit (one status message edited in place); unset: edit on Telegram and "
        "Discord, off elsewhere (see progress_mode)",
    )
    base_url: str | None = None
    base_file_url: str | None = None
    api_base: str | None = Field(
        default=None,
        description="discord: REST base such as http://host:port/api/v10; "
        "whatsapp: where Graph API calls go instead of https://graph.facebook.com",
    )
    gateway_url: str | None = Field(default=None, description="discord: gateway websocket URL")
    phone_id: str | None = None
    verify_token_env: str | None = None
    app_secret_env: str | None = None
    formatting: Literal["markdown", "plain"] = Field(
        default="markdown",
        description="markdown: replies are rendered the platform's way (bold, code "
        "blocks, links); plain: sent as the model wrote them",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535, description="0: any free port")

    @field_validator("token_env", "verify_token_env", "app_secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None:
            _check_env_names([value])
        return value

    @field_validator("allow_from", mode="before")
    @classmethod
    def _user_ids(cls, value: Any) -> Any:
        return _check_user_ids(value) if isinstance(value, list) else value

    @field_validator("allow_groups", mode="before")
    @classmethod
    def _group_ids(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [str(v).strip() if isinstance(v, str | int) else v for v in value]

    @field_validator("base_url", "base_file_url", "api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _check_url(value, ("http", "https"), "https://api.telegram.org/bot")

    @field_validator("gateway_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        return _check_url(value, ("ws", "wss"), "wss://gateway.discord.gg")


_SECRET_ENV_DEFAULTS: dict[str, dict[str, str]] = {
    "telegram": {"token_env": "TELEGRAM_BOT_TOKEN"},
    "discord": {"token_env": "DISCORD_BOT_TOKEN"},
    "whatsapp": {
        "token_env": "WHATSAPP_TOKEN",
        "verify_token_env": "WHATSAPP_VERIFY_TOKEN",
        "app_secret_env": "WHATSAPP_APP_SECRET",
    },
}


class ChannelsConfig(Strict):
    # An absent [channels.NAME] is off and reads the documented variables.
    telegram: ChannelConfig = _section(ChannelConfig, **_SECRET_ENV_DEFAULTS["telegram"])
    discord: ChannelConfig = _section(ChannelConfig, **_SECRET_ENV_DEFAULTS["discord"])
    whatsapp: ChannelConfig = _section(ChannelConfig, **_SECRET_ENV_DEFAULTS["whatsapp"])

    @model_validator(mode="before")
    @classmethod
    def _default_secret_names(cls, data: Any) -> Any:
        """A ``[channels.X]`` section that leaves out the ``*_env`` keys still reads the
        documented variables (TELEGRAM_BOT_TOKEN, ...)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, defaults in _SECRET_ENV_DEFAULTS.items():
            section = data.get(name)
            if isinstance(section, dict):
                data[name] = {**defaults, **section}
        return data

    def get(self, name: str) -> ChannelConfig:
        value: ChannelConfig = getattr(self, name)
        return value


class PairingConfig(SpendLimits):
    """``max_usd_per_day``/``max_usd_per_month`` here are every paired person's own
    caps, except owners'; ``[pairing.profiles.NAME]`` sets one profile's instead."""

    owners: list[str] = Field(
        default_factory=list, description="identities (channel:user_id) that are owners"
    )
    code_ttl: str = "1h"
    max_pending_per_channel: int = Field(default=5, ge=1, le=1000)
    profiles: dict[ActorName, SpendLimits] = Field(
        default_factory=dict, description="one profile's spend limits, instead of the defaults"
    )


TranscribedKind = Literal["voice", "audio"]
_TRANSCRIBED: tuple[TranscribedKind, ...] = ("voice", "audio")


class TranscriptionConfig(Strict):
    """``[transcription]``: voice notes become text before the actor sees them.

    ``engine = "api"`` posts the audio to an OpenAI-compatible
    ``{base_url}/audio/transcriptions`` (OpenAI, Groq, a local whisper server);
    ``engine = "local"`` runs faster-whisper (``pip install 'tinyclaw[whisper]'``) on
    the model folder ``local_model``."""

    enabled: bool = True
    engine: Literal["api", "local"] = "api"
    base_url: str = Field(
        default="https://api.openai.com/v1",
        description="the API root: requests go to {base_url}/audio/transcriptions",
    )
    model: str = "whisper-1"
    api_key_env: str | None = Field(
        default="OPENAI_API_KEY",
        description="environment variable holding the API key; empty: send none",
    )
    language: str | None = Field(default=None, description="ISO-639-1 code, e.g. en")
    timeout: float = Field(default=60.0, gt=0, le=3600)
    max_mb: float = Field(default=25.0, gt=0, le=2048)
    max_seconds: float = Field(default=600.0, gt=0, le=86400)
    show_transcript: bool = Field(
        default=True, description="tell the user what was heard before the answer"
    )
    kinds: list[TranscribedKind] = Field(
        default_factory=lambda: list(_TRANSCRIBED),
        description="which attachments are transcribed: voice notes, audio files",
    )
    local_model: str | None = Field(
        default=None, description="engine = local: the faster-whisper model folder"
    )

    @field_validator("api_key_env")
    @classmethod
    def _key_env(cls, value: str | None) -> str | None:
        if value:
            _check_env_names([value])
        return value or None

    @field_validator("base_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _local_needs_a_model(self) -> TranscriptionConfig:
        if self.engine == "local" and not self.local_model:
            raise ValueError('engine = "local" needs local_model = "/path/to/model"')
        return self


class LauncherConfig(Strict):
    session_name: str = "tinyclaw"


class MetricsConfig(Strict):
    """Prometheus metrics of the worker: served over HTTP or written for node_exporter."""

    enabled: bool = False
    exporter: Literal["http", "textfile"] = Field(
        default="http", description="http: serve /metrics; textfile: write a .prom file"
    )
    host: str = Field(default="127.0.0.1", description="http: the address to listen on")
    port: int = Field(default=9464, ge=1, le=65535, description="http: the port")
    textfile: str = Field(
        default="metrics/tinyclaw.prom",
        description="textfile: where to write (relative to the home, or absolute)",
    )
    interval: float = Field(
        default=15.0, gt=0, le=3600, description="textfile: seconds between writes"
    )

    def textfile_path(self, home: Home) -> Path:
        path = Path(self.textfile).expanduser()
        return path if path.is_absolute() else home.root / path


class SpoolConfig(Strict):
    """Where the queue lives: files in the home (the default), or NATS JetStream,
    which worker nodes on several machines share. Credentials are read from the
    environment variables named here, never written in this file."""

    backend: Literal["file", "nats"] = "file"
    servers: list[str] = Field(
        default_factory=lambda: ["nats://127.0.0.1:4222"],
        description="nats: the servers' URLs (any of them; the client finds the rest)",
    )
    token_env: str | None = Field(default=None, description="nats: variable with a token")
    user_env: str | None = Field(default=None, description="nats: variable with a user name")
    password_env: str | None = Field(default=None, description="nats: variable with its password")
    creds_env: str | None = Field(
        default=None, description="nats: variable with the path of a .creds file"
    )
    stream_prefix: str = Field(
        default="tinyclaw",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="nats: names of this home's streams and buckets start with it",
    )
    replicas: int = Field(default=1, ge=1, le=5, description="nats: copies of each stream")
    timeout: float = Field(default=5.0, gt=0, le=60, description="nats: seconds per call")
    claim_ttl: float = Field(
        default=60.0, ge=1, le=3600, description="nats: a dead worker's claim returns after this"
    )
    max_deliveries: int = Field(
        default=5, ge=1, le=100, description="nats: lost claims before a message is failed"
    )
    dedupe_hours: float = Field(
        default=48.0, gt=0, le=24 * 30, description="nats: how long a platform key is known"
    )
    lease_ttl: float = Field(
        default=15.0,
        ge=2,
        le=600,
        description="nats: a listener's lease; a standby takes over this long after it dies",
    )

    @field_validator("servers")
    @classmethod
    def _servers(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one server, e.g. nats://127.0.0.1:4222")
        for url in value:
            _check_url(url, ("nats", "tls"), "nats://127.0.0.1:4222")
        return value

    @field_validator("token_env", "user_env", "password_env", "creds_env")
    @classmethod
    def _env_names(cls, value: str | None) -> str | None:
        if value is not None:
            _check_env_names([value])
        return value

    @model_validator(mode="after")
    def _user_and_password(self) -> SpoolConfig:
        if (self.user_env is None) != (self.password_env is None):
            raise ValueError("user_env and password_env go together")
        return self

    def secret_names(self) -> list[str]:
        """The variables holding NATS credentials (the .creds file's path is not one)."""
        if self.backend != "nats":
            return []
        return [n for n in (self.token_env, self.user_env, self.password_env) if n]


class NodeConfig(Strict):
    """One worker node (``tinyclaw worker --node NAME``): the actors it runs. An
    actor's workspace and CLI sessions are on that machine's disk."""

    actors: list[ActorName] = Field(default_factory=list)


class Config(Strict):
    """The whole of ``tinyclaw.toml``."""

    worker: WorkerConfig = _section(WorkerConfig)
    runners: RunnersConfig = _section(RunnersConfig)
    actors: dict[ActorName, ActorConfig] = Field(default_factory=dict)
    teams: dict[ActorName, TeamConfig] = Field(default_factory=dict)
    limits: LimitsConfig = _section(LimitsConfig)
    channels: ChannelsConfig = _section(ChannelsConfig)
    pairing: PairingConfig = _section(PairingConfig)
    launcher: LauncherConfig = _section(LauncherConfig)
    metrics: MetricsConfig = _section(MetricsConfig)
    transcription: TranscriptionConfig | None = None
    sandbox: SandboxConfig = _section(SandboxConfig)
    spool: SpoolConfig = _section(SpoolConfig)
    nodes: dict[ActorName, NodeConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        if not self.actors:
            raise ValueError("define at least one [actors.NAME] section")
        default = self.worker.default_actor
        if default is not None and default not in self.actors and default not in self.teams:
            raise ValueError(f"worker.default_actor {default!r} is not a defined actor or team")
        for team_name, team in self.teams.items():
            if team_name in self.actors:
                raise ValueError(f"teams.{team_name}: a team cannot share a name with an actor")
            for member in team.members:
                if member not in self.actors:
                    raise ValueError(
                        f"teams.{team_name}.members: {member!r} is not a defined actor"
                    )
        self._check_nodes()
        return self

    def _check_nodes(self) -> None:
        """Each actor on at most one node, and only actors that exist; with nodes
        configured, every actor on one (else its messages would wait for ever)."""
        placed: dict[str, str] = {}
        for node, settings in self.nodes.items():
            for actor in settings.actors:
                if actor not in self.actors:
                    raise ValueError(f"nodes.{node}.actors: {actor!r} is not a defined actor")
                if actor in placed:
                    raise ValueError(
                        f"nodes.{node}.actors: {actor!r} is already on node {placed[actor]!r} "
                        "(an actor runs on one node)"
                    )
                placed[actor] = node
        if self.nodes:
            if self.spool.backend != "nats":
                raise ValueError('[nodes] need [spool] backend = "nats" (files serve one machine)')
            homeless = [a for a in self.actors if a not in placed]
            if homeless:
                raise ValueError(
                    f"nodes: {', '.join(repr(a) for a in homeless)} is on no node "
                    "(list it under one [nodes.NAME] actors)"
                )
        passed = set(self.runners.claude.pass_env + self.runners.codex.pass_env)
        for name in self.spool.secret_names():
            if name in passed:
                raise ValueError(
                    f"spool: {name} holds a NATS credential; never pass it to the CLIs (pass_env)"
                )

    def node_actors(self, node: str) -> list[str]:
        """The actors of worker node ``node``; ConfigError naming the nodes there are."""
        if node not in self.nodes:
            known = ", ".join(self.nodes) or "none: add [nodes.NAME] actors = [...]"
            raise ConfigError(
                f"--node {node!r}: no [nodes.{node}] in tinyclaw.toml (nodes: {known})"
            )
        return list(self.nodes[node].actors)

    @property
    def default_actor(self) -> str:
        """The actor (or team) that gets messages without an ``@name`` prefix."""
        return self.worker.default_actor or next(iter(self.actors))

    def workspace_for(self, home: Home, name: str) -> Path:
        actor = self.actors[name]
        if actor.workspace:
            path = Path(actor.workspace).expanduser()
            return path if path.is_absolute() else home.root / path
        return home.actor_dir(name) / "workspace"

    def workspace_groups(self, home: Home) -> dict[Path, list[str]]:
        """Each workspace (symlinks resolved) → the actors that run in it. More than
        one is allowed: two actors may work on one repository."""
        groups: dict[Path, list[str]] = {}
        for name in self.actors:
            groups.setdefault(self.workspace_for(home, name).resolve(), []).append(name)
        return groups

    def actor_folders(self, home: Home, folder: str) -> dict[str, Path]:
        """Each actor's drop folder ``folder`` (``outbox``, ``schedules``):
        ``<workspace>/<folder>``, or ``<workspace>/<folder>/<name>`` in a shared
        workspace, so that what one actor writes is never taken for another's."""
        shared = self.shared_folders(home, folder).values()
        sharing = {name for names in shared for name in names}
        folders = {}
        for name in self.actors:
            base = self.workspace_for(home, name) / folder
            folders[name] = base / name if name in sharing else base
        return folders

    def shared_folders(self, home: Home, folder: str) -> dict[Path, list[str]]:
        """``<workspace>/<folder>`` of each shared workspace → the actors sharing it: a
        file written there directly belongs to nobody (see :meth:`actor_folders`)."""
        groups = self.workspace_groups(home).items()
        return {ws / folder: names for ws, names in groups if len(names) > 1}


def _format_location(loc: tuple[int | str, ...]) -> str:
    """``actors.coder.timeout``; a key that is not a plain word is quoted as TOML
    would, with its newlines and control characters escaped (one mistake, one line)."""
    parts = [
        str(part) if isinstance(part, int) or _PLAIN_KEY_RE.fullmatch(part) else json.dumps(part)
        for part in loc
    ]
    return ".".join(parts) or "(top level)"


def format_validation_error(error: ValidationError, source: str) -> str:
    """One line per mistake: ``file: key.path: what is wrong``."""
    lines = []
    for item in error.errors():
        loc = _format_location(tuple(item["loc"]))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see docs/configuration.md)"
        elif item["type"] == "string_pattern_mismatch" and "models" in item["loc"]:
            message = "model names use letters, digits and . _ : @ / [ ] -, at most 100"
        elif item["type"] == "string_pattern_mismatch" and "stream_prefix" in item["loc"]:
            message = "use letters, digits, '-' and '_', at most 32"
        elif item["type"] == "string_pattern_mismatch":
            message = "names use a-z, 0-9, '-' and '_', start with a letter or digit, at most 32"
        lines.append(f"{source}: {loc}: {message}")
    return "\n".join(lines)


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """The TOML of ``tinyclaw.toml``; any reason it cannot be parsed is a ConfigError."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of nesting
        raise ConfigError(f"{source}: not valid TOML: nested too deeply") from None


def parse_config(data: dict[str, Any], source: str = "tinyclaw.toml") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def read_config_text(path: Path) -> str:
    """The text of ``tinyclaw.toml``: a regular file (a symlink to one is fine; to
    ``/dev/zero`` or a FIFO is not), at most 1 MiB, UTF-8 with or without a BOM."""
    try:
        data = read_regular(path, MAX_CONFIG_BYTES, follow_symlinks=True)
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (run `tinyclaw init` to create a home)") from None
    except UnsafePathError:
        raise ConfigError(f"{path}: cannot read: not a regular file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: cannot read: larger than {MAX_CONFIG_BYTES // 1024} KiB")
    # Windows editors may start the file with a byte order mark; TOML does not allow
    # one, but it is not a mistake worth refusing the file for.
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read: not UTF-8 text ({exc.reason})") from None


def read_toml(path: Path, *, missing_ok: bool = False) -> dict[str, Any]:
    """One TOML file as data; a broken file is a one-line ConfigError naming it."""
    if missing_ok and not path.exists() and not path.is_symlink():
        return {}
    return parse_toml(read_config_text(path), str(path))


def merge_tables(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``: tables merge key by key, at any depth; any other
    value (a string, a number, a list) in ``over`` replaces the one in ``base``."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            merged[key] = merge_tables(below, value)
        else:
            merged[key] = value
    return merged


def load_config(home: Home) -> Config:
    """Read ``tinyclaw.toml``, lay ``tinyclaw.local.toml`` over it when there is one,
    and validate the result; a missing or broken file is a ConfigError.

    The local file holds the owner's settings in a checkout, where tinyclaw.toml is
    tracked by git: configuring the assistant then leaves the checkout clean."""
    data = read_toml(home.config_file)
    local = read_toml(home.local_config_file, missing_ok=True)
    if not local:
        return parse_config(data, str(home.config_file))
    source = f"{home.config_file} + {home.local_config_file.name}"
    return parse_config(merge_tables(data, local), source)


def load_home_config(home: Home) -> Config:
    """What every process does first: ``.env`` into the environment (never overriding
    it), then the validated configuration."""
    load_dotenv(home.env_file)
    return load_config(home)
