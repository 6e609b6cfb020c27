"""The job file format, and how a request (command line or actor file) becomes a Job.

One job is one JSON file, ``<home>/schedules/<id>.json``::

    {"v": 1, "id": "coder-3fa9c1", "actor": "coder", "kind": "cron",
     "expr": "0 9 * * 1-5", "tz": "Europe/Berlin", "to": "telegram:123",
     "prompt": "Summarise the open pull requests", "paused": false, "done": false,
     "created_at": "...", "created_by": "cli", "last_run": null,
     "next_run": "...", "runs": 0}

``expr`` is read according to ``kind``: a cron expression, an interval (``2h``), or
an ISO date-time with its UTC offset (``at`` jobs are stored resolved, so reading the
file never depends on the zone of the machine that reads it). ``next_run`` is stored
rather than recomputed so that a listing, ``tinyclaw status`` and the worker all agree,
and so that "missed while down" is a plain comparison with now.
"""

from __future__ import annotations

import secrets
from datetime import datetime, tzinfo
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tinyclaw.config import NAME_PATTERN, NAME_RE
from tinyclaw.core import ConfigError, TinyclawError, format_duration, parse_duration, parse_target
from tinyclaw.schedule.timing import (
    aware_utc,
    check_cron,
    check_interval,
    first_run,
    parse_at,
    parse_zone,
)

JOB_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_PROMPT = 20_000
FOLDER = "schedules"  # where an actor drops jobs of its own (actor_jobs reads it)
MAX_ACTOR_JOBS = 50  # jobs an actor may keep of its own
Kind = Literal["cron", "every", "at"]
JobId = Annotated[str, Field(pattern=JOB_ID_PATTERN)]


def _value_error(exc: TinyclawError) -> ValueError:
    # pydantic only turns ValueError into a located validation message.
    return ValueError(str(exc))


class Job(BaseModel):
    """One scheduled prompt. Frozen: every change writes a new copy atomically."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    v: Literal[1] = 1
    id: JobId
    actor: Annotated[str, Field(pattern=NAME_PATTERN)]
    kind: Kind
    expr: Annotated[str, Field(min_length=1, max_length=200)]
    tz: str | None = None
    to: str
    prompt: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT)]
    paused: bool = False
    done: bool = False
    created_at: AwareDatetime
    created_by: Literal["cli", "actor"] = "cli"
    last_run: AwareDatetime | None = None
    next_run: AwareDatetime | None = None
    runs: int = Field(default=0, ge=0)

    @field_validator("to")
    @classmethod
    def _target(cls, value: str) -> str:
        try:
            return str(parse_target(value))
        except ConfigError as exc:
            raise _value_error(exc) from None

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_zone(value)
            except ConfigError as exc:
                raise _value_error(exc) from None
        return value

    @model_validator(mode="after")
    def _expr_fits_kind(self) -> Job:
        try:
            if self.kind == "cron":
                check_cron(self.expr)
            elif self.kind == "every":
                check_interval(self.expr)
                if self.tz is not None:
                    raise ConfigError("tz applies to cron and at jobs, not to every")
            else:
                stored = datetime.fromisoformat(self.expr)
                if stored.tzinfo is None:
                    raise ConfigError(f"at {self.expr!r} must carry its UTC offset")
        except ConfigError as exc:
            raise _value_error(exc) from None
        except ValueError:
            raise ValueError(f"at {self.expr!r} is not an ISO date-time") from None
        return self

    @property
    def schedule_text(self) -> str:
        """How a person would say when it runs: ``cron 0 9 * * 1-5 (Europe/Berlin)``."""
        if self.kind == "cron":
            return f"cron {self.expr} ({self.tz or 'local time'})"
        if self.kind == "every":
            return f"every {format_duration(parse_duration(self.expr))}"
        return f"at {self.expr}"

    def dump(self) -> bytes:
        return (self.model_dump_json(indent=2) + "\n").encode("utf-8")


def describe_validation_error(error: ValidationError, limit: int = 5) -> str:
    """pydantic's report as one line: ``key: problem; key: problem``."""
    parts = []
    for item in error.errors()[:limit]:
        where = ".".join(str(part) for part in item["loc"]) or "job"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def new_job_id(actor: str) -> str:
    """``<actor>-<6 hex>``: readable in ``ls schedules/``, unguessable enough that two
    jobs never collide (and ``add`` refuses to overwrite if they ever did)."""
    return f"{actor}-{secrets.token_hex(3)}"


def build_job(
    *,
    actor: str,
    to: str,
    prompt: str,
    now: datetime,
    local_tz: tzinfo,
    cron: str | None = None,
    every: str | None = None,
    at: str | None = None,
    tz: str | None = None,
    created_by: Literal["cli", "actor"] = "cli",
    job_id: str | None = None,
) -> Job:
    """Validate a request and return the Job with its first ``next_run`` set.

    Every problem is a ConfigError with one line that names the value, so the command
    line can print it as is and an actor's rejected file can carry it as its reason.
    A naive ``at`` is wall time in ``tz``, else in ``local_tz``; an ``at`` that is
    already past is refused (a typo, most likely, and it would fire at once).
    """
    now = aware_utc(now)
    if not NAME_RE.fullmatch(actor):
        raise ConfigError(
            f"invalid actor name {actor!r}: use a-z, 0-9, '-' and '_', at most 32 characters"
        )
    given = [name for name, value in (("cron", cron), ("every", every), ("at", at)) if value]
    if len(given) != 1:
        raise ConfigError("give exactly one of cron, every or at")
    zone = parse_zone(tz) if tz else None
    target = parse_target(to)
    text = prompt.strip()
    if not text:
        raise ConfigError("the prompt is empty")
    if len(text) > MAX_PROMPT:
        raise ConfigError(f"the prompt is {len(text)} characters; the limit is {MAX_PROMPT}")
    if cron:
        kind: Kind = "cron"
        expr = check_cron(cron)
    elif every:
        kind = "every"
        if tz:
            raise ConfigError("a time zone applies to cron and at jobs, not to every")
        check_interval(every)
        expr = "".join(every.split()).lower()
    else:
        kind = "at"
        instant = parse_at(at or "", zone or local_tz)
        if instant <= now:
            raise ConfigError(f"at {at!r} is in the past")
        expr = instant.astimezone(zone or local_tz).isoformat()
    try:
        job = Job(
            id=job_id or new_job_id(actor),
            actor=actor,
            kind=kind,
            expr=expr,
            tz=tz or None,
            to=str(target),
            prompt=text,
            created_at=now,
            created_by=created_by,
        )
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    upcoming = first_run(job, local_tz)
    if upcoming is None:
        raise ConfigError(f"{job.schedule_text} never runs")
    return job.model_copy(update={"next_run": upcoming})
