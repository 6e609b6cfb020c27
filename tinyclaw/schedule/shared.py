"""Schedules on a queue shared by several machines: each slot fired once, whoever asks.

On the NATS spool every worker node runs the schedules and heartbeats of its own
actors. Two workers may still both think they own a job: an actor moved from one node
to another, or one node's worker started twice on two machines. So before a run is
queued its firing is claimed in the spool's ``schedule`` key-value bucket, and what
fired when is kept there, where every node reads it:

``run.<run id>``
    The claim of one firing (a run id names the job and its slot:
    ``job-<id>-<UTC slot>``, ``heartbeat-<actor>-<UTC slot>``), made with a
    compare-and-set create: the worker whose create wins fires the run; a loser skips
    it. ``{"holder", "at", "until", "queued"}``; ``queued`` is set once the run is
    in the queue. A claim not queued by ``until`` belongs to a worker that died in
    between and is taken over (the queue's dedupe key keeps a second copy out). The
    claim of a job's earlier slot is deleted when a later one fires.
``last.<kind>.<name>``
    The newest slot of a job (``last.job.<id>``) or heartbeat
    (``last.heartbeat.<actor>``) that fired, and when: ``{"slot", "at", "run"}``. A
    node whose own job file is behind (it took the actor over) finds its due slot
    here and skips it, catching its file up instead of firing the past again.
``heartbeat.<actor>``
    The heartbeat's log (:class:`SharedHeartbeatLog`), so that every node computes
    the same next heartbeat and the same slot for it.

The job files themselves stay in the home of the machine that runs the actor.
"""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from tinyclaw.schedule.heartbeat import HeartbeatLog
from tinyclaw.schedule.scheduler import HEARTBEAT_PREFIX, DueRun
from tinyclaw.schedule.timing import aware_utc, from_timestamp

if TYPE_CHECKING:
    from tinyclaw.core import Home
    from tinyclaw.spool import KeyValue

log = logging.getLogger("tinyclaw.schedule")

BUCKET = "schedule"  # the spool's key-value bucket of schedule state
CLAIM_SECONDS = 60.0  # how long a claim not yet queued keeps other workers waiting
_CAS_TRIES = 5


def holder_of(home: Home) -> str:
    """This worker as the claims name it: its machine and home, the same after a
    restart (so a worker that died between claim and queue fires its own claim at
    once when it is back), another for a second machine."""
    return f"{socket.gethostname()}:{home.root}"


@dataclass(frozen=True)
class Verdict:
    """What a worker is to do with a due run: ``fire`` it (its claim is made),
    skip it as ``fired`` already (at ``at``), or ``wait`` (another worker holds the
    claim and has not queued the run yet)."""

    action: Literal["fire", "fired", "wait"]
    at: datetime | None = None


def _load(data: bytes | None) -> dict[str, object]:
    if data is None:
        return {}
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return aware_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _dump(value: dict[str, object]) -> bytes:
    return json.dumps(value).encode("utf-8")


class Firings:
    """The claims and the fired slots in a shared bucket (see the module docstring)."""

    def __init__(self, kv: KeyValue, holder: str, *, claim_seconds: float = CLAIM_SECONDS) -> None:
        self.kv = kv
        self.holder = holder
        self.claim_seconds = claim_seconds

    @staticmethod
    def last_key(run: DueRun) -> str:
        return f"last.{run.kind}.{run.key.removeprefix(HEARTBEAT_PREFIX)}"

    @staticmethod
    def claim_key(run_id: str) -> str:
        return f"run.{run_id}"

    def last(self, run: DueRun) -> tuple[datetime, datetime] | None:
        """The newest slot of ``run``'s job that fired, and when; None if none did."""
        record = _load(self.kv.get(self.last_key(run)))
        slot, at = _time(record.get("slot")), _time(record.get("at"))
        return None if slot is None or at is None else (slot, at)

    def claim(self, run: DueRun, now: float) -> Verdict:
        """Claim the firing of ``run`` for this worker."""
        last = self.last(run)
        if last is not None and last[0] >= aware_utc(run.scheduled_for):
            return Verdict("fired", last[1])
        key = self.claim_key(run.run_id)
        mine = _dump(
            {
                "holder": self.holder,
                "at": from_timestamp(now).isoformat(),
                "until": now + self.claim_seconds,
                "queued": False,
            }
        )
        for _ in range(_CAS_TRIES):
            if self.kv.create(key, mine) is not None:
                return Verdict("fire")
            found = self.kv.entry(key)
            if found is None:
                continue  # deleted between the two calls: try the create again
            theirs, revision = _load(found[0]), found[1]
            if theirs.get("queued"):
                return Verdict("fired", _time(theirs.get("at")) or from_timestamp(now))
            until = theirs.get("until")
            alive = isinstance(until, int | float) and until > now
            if theirs.get("holder") != self.holder and alive:
                return Verdict("wait")
            # Ours from before a restart, or its worker died before it queued the
            # run: take it over (the queue's dedupe key drops a second copy).
            if self.kv.update(key, mine, revision) is not None:
                return Verdict("fire")
        return Verdict("wait")

    def fired(self, run: DueRun, now: float) -> None:
        """``run`` is in the queue: say so in its claim and in the job's last slot,
        and drop the claim of the slot before it."""
        key = self.claim_key(run.run_id)
        at = from_timestamp(now).isoformat()
        self.kv.put(key, _dump({"holder": self.holder, "at": at, "until": now, "queued": True}))
        slot = aware_utc(run.scheduled_for)
        record = _dump({"slot": slot.isoformat(), "at": at, "run": run.run_id})
        last_key = self.last_key(run)
        for _ in range(_CAS_TRIES):
            found = self.kv.entry(last_key)
            if found is None:
                if self.kv.create(last_key, record) is not None:
                    return
                continue
            earlier = _load(found[0])
            earlier_slot = _time(earlier.get("slot"))
            if earlier_slot is not None and earlier_slot >= slot:
                return  # a later slot fired meanwhile: it stays the last
            if self.kv.update(last_key, record, found[1]) is not None:
                previous = earlier.get("run")
                if isinstance(previous, str) and previous != run.run_id:
                    self.kv.delete(self.claim_key(previous))
                return
        log.warning("could not record %s as the last run of %s", run.run_id, run.key)


class SharedHeartbeatLog(HeartbeatLog):
    """The heartbeats' log in the shared bucket (``heartbeat.<actor>``), so every node
    knows when an actor's heartbeat last ran and which slot is planned next. A plan
    is made with compare-and-set: two nodes planning at once agree on one slot."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    @staticmethod
    def _key(actor: str) -> str:
        return f"heartbeat.{actor}"

    @staticmethod
    def _parse(data: bytes | None) -> dict[str, datetime]:
        record = _load(data)
        return {
            name: value
            for name in ("last_run", "planned")
            if (value := _time(record.get(name))) is not None
        }

    def _read(self, actor: str) -> dict[str, datetime]:
        return self._parse(self.kv.get(self._key(actor)))

    def _write(self, actor: str, last_run: datetime | None, planned: datetime | None) -> None:
        self.kv.put(self._key(actor), self._encode(actor, last_run, planned))

    def plan(self, actor: str, slot: datetime) -> datetime:
        """Store ``slot`` as the next run unless another node planned one first;
        the slot that stands."""
        key = self._key(actor)
        for _ in range(_CAS_TRIES):
            found = self.kv.entry(key)
            state = self._parse(found[0] if found else None)
            planned, last = state.get("planned"), state.get("last_run")
            if planned is not None and (last is None or last < planned):
                return planned  # another node planned this heartbeat's slot
            body = self._encode(actor, last, slot)
            written = (
                self.kv.create(key, body) if found is None else self.kv.update(key, body, found[1])
            )
            if written is not None:
                return slot
        return self.planned(actor) or slot
