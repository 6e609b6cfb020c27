"""Heartbeats: an actor looks around on its own every so often, and speaks only if
there is something to say.

Configured per actor (``[actors.X.heartbeat] every="30m" active_hours="08:00-22:00"
to="telegram:123"``); what to check is written in ``HEARTBEAT.md`` in the actor's
folder (``actors/<name>/``; the actor's workspace is looked at second, so an actor can
keep its own checklist). No file, or a blank one, means nothing to check: the
heartbeat does not run, which costs nothing.

The run happens in its own conversation (``heartbeat``), never the user's, so the
user's session is not filled with checklists. If the answer is the agreed token
``HEARTBEAT_OK`` nothing is sent; anything else goes to ``to``, else the actor's
``owner_chat``.

Timing: the next heartbeat is ``every`` after the last one (right away if there never
was one), moved forward into the active hours. After downtime a heartbeat runs once,
not once per missed interval: only the time of the last run is kept.
"""

from __future__ import annotations

import json
import logging
import re
import string
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from tinyclaw.config import NAME_RE
from tinyclaw.core import ConfigError, ScheduleError, atomic_write, format_duration, parse_target
from tinyclaw.schedule.timing import aware_utc, check_interval, wall_to_instant

if TYPE_CHECKING:
    from tinyclaw.config import Config
    from tinyclaw.core import Home

log = logging.getLogger("tinyclaw.schedule")

HEARTBEAT_OK = "HEARTBEAT_OK"
HEARTBEAT_FILE = "HEARTBEAT.md"
HEARTBEAT_CONVERSATION = "heartbeat"
MAX_INSTRUCTIONS = 64 * 1024
_DAY = 24 * 3600
# Models dress a bare token up: **HEARTBEAT_OK**, `HEARTBEAT_OK`., "HEARTBEAT_OK!".
_DECORATION = string.whitespace + string.punctuation + "“”‘’«»…–—·"
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def is_heartbeat_ok(answer: str) -> bool:
    """True if the whole answer is the token, give or take case, whitespace, quotes,
    markdown and trailing punctuation. A token followed by a report is a report: we
    would rather send one message too many than swallow a real one."""
    return answer.strip(_DECORATION).upper() == HEARTBEAT_OK


def heartbeat_prompt(instructions: str) -> str:
    """What the actor's CLI is asked: the checklist, and the deal about the token."""
    return (
        "This is a scheduled heartbeat, not a message from the user. Go through the "
        f"checklist from {HEARTBEAT_FILE} below. If nothing needs the user's attention, "
        f"reply with exactly {HEARTBEAT_OK} and nothing else. Otherwise reply with a short "
        "message for the user; it will be sent to them as is.\n\n"
        f"--- {HEARTBEAT_FILE} ---\n{instructions.strip()}\n"
    )


@dataclass(frozen=True)
class ActiveHours:
    """A daily window of wall-clock time, ``start`` inclusive, ``end`` exclusive, in
    seconds after midnight. ``start > end`` is a window across midnight (22:00-06:00);
    ``end`` may be 24:00."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_clock_text(self.start)}-{_clock_text(self.end)}"

    def contains(self, wall: time) -> bool:
        second = wall.hour * 3600 + wall.minute * 60 + wall.second
        if self.start < self.end:
            return self.start <= second < self.end
        return second >= self.start or second < self.end

    def first_open(self, start: datetime, zone: tzinfo) -> datetime:
        """The first instant at or after ``start`` that lies inside the window."""
        start = aware_utc(start)
        local = start.astimezone(zone)
        if self.contains(local.time()):
            return start
        opening = time(self.start // 3600, self.start % 3600 // 60)
        # Today's opening if it is still ahead, else tomorrow's.
        today = wall_to_instant(datetime.combine(local.date(), opening), zone)
        if today > start:
            return today
        return wall_to_instant(datetime.combine(local.date() + timedelta(days=1), opening), zone)


def _clock_text(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def parse_active_hours(text: str) -> ActiveHours:
    """``"08:00-22:00"``, ``"22:00-06:00"`` (across midnight), ``"00:00-24:00"``."""
    match = _HOURS_RE.fullmatch(text)
    problem = f"active_hours {text!r}: expected HH:MM-HH:MM such as 08:00-22:00"
    if match is None:
        raise ConfigError(problem)
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ConfigError(problem)
    start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
    if start == end % _DAY and end != _DAY:
        raise ConfigError(f"active_hours {text!r}: the window is empty (start equals end)")
    return ActiveHours(start, end)


@dataclass(frozen=True)
class HeartbeatSpec:
    """One actor's heartbeat, validated. ``files`` are the candidate HEARTBEAT.md
    paths, first existing non-blank one wins."""

    actor: str
    every: timedelta
    to: str
    zone: tzinfo
    active_hours: ActiveHours | None = None
    files: tuple[Path, ...] = ()

    @property
    def key(self) -> str:
        return f"heartbeat:{self.actor}"

    @property
    def schedule_text(self) -> str:
        hours = f", {self.active_hours}" if self.active_hours else ""
        return f"heartbeat every {format_duration(self.every)}{hours}"


@dataclass(frozen=True)
class HeartbeatProblem:
    """A configured heartbeat that cannot run, and why (shown by ``tinyclaw status``)."""

    actor: str
    reason: str

    @property
    def key(self) -> str:
        return f"heartbeat:{self.actor}"


def next_heartbeat(spec: HeartbeatSpec, last_run: datetime | None, now: datetime) -> datetime:
    """When ``spec`` should run next: ``every`` after ``last_run`` (or now, if it
    never ran), but not before ``now`` and only inside the active hours. The result is
    due when it is ``<= now``, which for this function means equal."""
    now = aware_utc(now)
    candidate = now if last_run is None else aware_utc(last_run) + spec.every
    start = max(candidate, now)
    if spec.active_hours is None:
        return start
    return spec.active_hours.first_open(start, spec.zone)


def read_instructions(spec: HeartbeatSpec) -> str | None:
    """The checklist, or None when there is none (no file, blank, unreadable)."""
    for path in spec.files:
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_INSTRUCTIONS + 1)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            continue
        except OSError as exc:
            log.warning("cannot read %s: %s", path, exc)
            continue
        text = data[:MAX_INSTRUCTIONS].decode("utf-8", errors="replace")
        if text.strip():
            return text
    return None


class HeartbeatLog:
    """When each actor's heartbeat last ran: ``<dir>/<actor>.json``, written atomically.

    Only the last run is kept, which is exactly what makes "ran once after downtime"
    true. A file that cannot be read counts as "never ran": the heartbeat runs once and
    the file is rewritten, which is the harmless way to fail.

    It also keeps the slot about to be queued (``planned``), written *before* the run
    is queued: an overdue heartbeat's slot is "now", and a crash between queueing and
    :meth:`record` would otherwise make a new slot, a new run id, and a second run
    after the restart. With the slot stored, the replay has the same id and the queue's
    dedupe key drops it.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_home(cls, home: Home) -> HeartbeatLog:
        return cls(home.state / "heartbeats")

    def _path(self, actor: str) -> Path:
        if not NAME_RE.fullmatch(actor):
            raise ConfigError(f"invalid actor name {actor!r}")
        return self.root / f"{actor}.json"

    def _read(self, actor: str) -> dict[str, datetime]:
        path = self._path(actor)
        try:
            raw = json.loads(path.read_bytes())
            return {
                key: aware_utc(datetime.fromisoformat(raw[key]))
                for key in ("last_run", "planned")
                if raw.get(key) is not None
            }
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ScheduleError) as exc:
            log.warning("ignoring unreadable heartbeat state %s: %s", path, exc)
            return {}

    @staticmethod
    def _encode(actor: str, last_run: datetime | None, planned: datetime | None) -> bytes:
        data: dict[str, str] = {"actor": actor}
        if last_run is not None:
            data["last_run"] = aware_utc(last_run).isoformat()
        if planned is not None:
            data["planned"] = aware_utc(planned).isoformat()
        return (json.dumps(data) + "\n").encode("utf-8")

    def _write(self, actor: str, last_run: datetime | None, planned: datetime | None) -> None:
        body = self._encode(actor, last_run, planned)
        atomic_write(self._path(actor), body, tmp_dir=self.root / "tmp")

    def last_run(self, actor: str) -> datetime | None:
        return self._read(actor).get("last_run")

    def planned(self, actor: str) -> datetime | None:
        """The slot :meth:`plan` stored and no :meth:`record` has answered yet."""
        state = self._read(actor)
        planned, last = state.get("planned"), state.get("last_run")
        if planned is None or (last is not None and last >= planned):
            return None
        return planned

    def plan(self, actor: str, slot: datetime) -> datetime:
        """Remember ``slot`` as the run about to be queued (before queueing it); the
        slot planned (a log shared by several machines may keep another's)."""
        self._write(actor, self.last_run(actor), slot)
        return slot

    def record(self, actor: str, at: datetime) -> None:
        self._write(actor, at, None)


def heartbeat_files(home: Home, config: Config, actor: str) -> tuple[Path, ...]:
    return (
        home.actor_dir(actor) / HEARTBEAT_FILE,
        config.workspace_for(home, actor) / HEARTBEAT_FILE,
    )


def heartbeats_from_config(
    config: Config, home: Home, zone: tzinfo
) -> list[HeartbeatSpec | HeartbeatProblem]:
    """Every configured heartbeat, validated; a broken one becomes a HeartbeatProblem
    (shown in status) instead of stopping the others. Active hours are wall time in
    ``zone``, the machine's zone unless the caller says otherwise."""
    result: list[HeartbeatSpec | HeartbeatProblem] = []
    for name, actor in config.actors.items():
        settings = actor.heartbeat
        if settings is None:
            continue
        try:
            every = check_interval(settings.every)
            hours = parse_active_hours(settings.active_hours) if settings.active_hours else None
            to = settings.to or actor.owner_chat
            if not to:
                raise ConfigError("no target: set heartbeat.to or the actor's owner_chat")
            target = str(parse_target(to))
        except ConfigError as exc:
            result.append(HeartbeatProblem(name, f"actors.{name}.heartbeat: {exc}"))
            continue
        result.append(
            HeartbeatSpec(
                actor=name,
                every=every,
                to=target,
                zone=zone,
                active_hours=hours,
                files=heartbeat_files(home, config, name),
            )
        )
    return result
