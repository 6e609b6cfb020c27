"""Spend limits, checked before a run; the run's cost, recorded after it.

The worker asks :meth:`SpendGuard.check` once, just before it would start a CLI. When
a limit is reached (see :mod:`tinyclaw.costs.limits`), the message is answered with a
sentence naming the limit and when it resets, and no CLI runs: the answer travels as
a failed run result (``error="spend_limit"``), so a team conversation treats it like
any member that could not answer. The owner is told once per limit per day, in their
direct chats on Telegram and WhatsApp (a Discord DM has no address the worker knows),
and the event log gets ``spend.limit``.

Who pays: the person who wrote the message, by pairing profile; for a message of a
team conversation (a handoff, a fan-in), the person who started the conversation.
What the home starts itself (the terminal, schedules, heartbeats) is charged to no
person, only to the actor.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tinyclaw.config import Config
from tinyclaw.core import (
    ConversationError,
    EventLog,
    Home,
    Inbound,
    PairingError,
    Reply,
    TinyclawError,
    atomic_write,
    unique_name,
)
from tinyclaw.costs import (
    Breach,
    CostEntry,
    CostLedger,
    Periods,
    first_breach,
    limits_for,
    money,
    periods_at,
)
from tinyclaw.pairing import DM_IS_USER, PLATFORM_CHANNELS
from tinyclaw.runners import RunResult
from tinyclaw.spool import Spool
from tinyclaw.teams import Conversations

if TYPE_CHECKING:
    from tinyclaw.pairing import Identity, PairingService

log = logging.getLogger("tinyclaw.costs")

ERROR_SPEND_LIMIT = "spend_limit"
FROM_PEOPLE = frozenset({"chat", "command"})


@dataclass(frozen=True)
class Payer:
    """Whom a run is charged to; all None for the home itself."""

    identity: str | None = None
    profile: str | None = None
    owner: bool = False

    @property
    def key(self) -> str | None:
        return self.profile or self.identity


class SpendGuard:
    def __init__(
        self,
        config: Config,
        ledger: CostLedger,
        spool: Spool,
        conversations: Conversations,
        events: EventLog,
        *,
        pairing: Callable[[], PairingService | None],
        notified_file: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.spool = spool
        self.conversations = conversations
        self.events = events
        self._pairing = pairing  # asked only when a person pays: it may build pairing
        self.notified_file = notified_file
        self.clock = clock
        self._lock = threading.Lock()

    @classmethod
    def for_home(
        cls,
        home: Home,
        config: Config,
        spool: Spool,
        conversations: Conversations,
        events: EventLog,
        pairing: Callable[[], PairingService | None],
        clock: Callable[[], float] = time.time,
        *,
        ledger: CostLedger | None = None,
    ) -> SpendGuard:
        """The guard of ``home``: its ledger and notice record in ``state/costs/``
        (``ledger``: one already open there, whose read cache is kept)."""
        root = home.state / "costs"
        return cls(
            config,
            ledger or CostLedger(root),
            spool,
            conversations,
            events,
            pairing=pairing,
            notified_file=root / "notified.json",
            clock=clock,
        )

    # -- who pays ------------------------------------------------------------------

    def payer(self, message: Inbound) -> Payer:
        ident = self._person(message)
        if ident is None:
            return Payer()
        pairing = self._pairing()
        if pairing is None:
            return Payer(str(ident))
        decision = pairing.check(ident)
        profile = decision.profile.name if decision.profile is not None else None
        return Payer(str(ident), profile, decision.owner)

    def _person(self, message: Inbound) -> Identity | None:
        channel, sender = message.channel, message.sender.id
        if message.handoff is not None:
            try:
                conversation = self.conversations.load(message.handoff.conversation)
            except ConversationError:
                conversation = None
            if conversation is None or conversation.sender_id is None:
                return None
            channel, sender = conversation.channel, conversation.sender_id
        elif message.kind not in FROM_PEOPLE:
            return None
        if channel not in PLATFORM_CHANNELS:
            return None
        from tinyclaw.pairing import Identity

        try:
            return Identity(channel, sender)
        except PairingError:
            return None

    # -- before a run --------------------------------------------------------------

    def check(self, message: Inbound, actor: str) -> RunResult | None:
        """None if ``message`` may run on ``actor``; else the answer, as a run result."""
        payer = self.payer(message)
        limits = limits_for(self.config, actor, payer.key, payer.profile, payer.owner)
        if not limits:
            return None
        now = self.clock()
        periods = periods_at(now)
        entries = self.ledger.entries(periods.month_start, periods.month_end)
        breach = first_breach(entries, limits, periods)
        if breach is None:
            return None
        self.events.emit(
            "spend.limit",
            id=message.id,
            actor=actor,
            limit=breach.limit.key,
            max_usd=breach.limit.max_usd,
            spent=round(breach.spent, 6),
        )
        log.warning("%s not run: %s reached", message.id, breach.limit.describe())
        self._tell_owners(breach, periods)
        return RunResult(
            text=refusal_text(breach, periods, payer),
            session_id=None,
            ok=False,
            exit_code=None,
            duration_s=0.0,
            error=ERROR_SPEND_LIMIT,
        )

    def _tell_owners(self, breach: Breach, periods: Periods) -> None:
        """A notice to each owner's direct chat, once per limit per day."""
        with self._lock:
            notified = self._notified()
            key = breach.limit.key
            if notified.get(key) == periods.day:
                return
            notified = {k: v for k, v in notified.items() if v == periods.day}
            notified[key] = periods.day
            text = owner_text(breach, periods)
            for ident in self._owner_chats():
                reply = Reply(
                    id=(rid := unique_name()),
                    in_reply_to=rid,
                    channel=ident.channel,
                    chat_id=ident.user_id,
                    text=text,
                    kind="notice",
                    meta={"spend_limit": key},
                )
                try:
                    self.spool.put_reply(reply)
                except (OSError, TinyclawError) as exc:
                    log.warning("could not queue the spend notice for %s: %s", ident, exc)
            try:
                body = json.dumps(notified, indent=1, sort_keys=True).encode()
                atomic_write(self.notified_file, body)
            except OSError as exc:
                log.warning("cannot write %s: %s", self.notified_file, exc)

    def _notified(self) -> dict[str, str]:
        try:
            data = json.loads(self.notified_file.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, str)}

    def _owner_chats(self) -> list[Identity]:
        from tinyclaw.pairing import Identity, Role

        owners: set[Identity] = set()
        for entry in self.config.pairing.owners:
            try:
                owners.add(Identity.parse(entry))
            except PairingError:
                continue
        pairing = self._pairing()
        if pairing is not None:
            try:
                profiles = pairing.profiles()
            except TinyclawError:
                profiles = []
            for profile in profiles:
                if profile.role is Role.OWNER:
                    owners.update(Identity.parse(i) for i in profile.identities)
        return sorted(o for o in owners if o.channel in DM_IS_USER)

    # -- after a run ---------------------------------------------------------------

    def record(self, message: Inbound, actor: str, result: RunResult, model: str | None) -> None:
        """Put the run's cost into the ledger (again after a replay: counted once)."""
        if result.error == ERROR_SPEND_LIMIT:
            return  # nothing ran
        payer = self.payer(message)
        entry = CostEntry(
            id=message.id,
            ts=self.clock(),
            actor=actor,
            chat=f"{message.channel}:{message.chat_id}",
            cost_usd=float(result.cost_usd or 0.0),
            profile=payer.profile,
            identity=payer.identity,
            model=model,
        )
        try:
            self.ledger.record(entry)
        except OSError as exc:
            # The answer matters more than its bookkeeping: it still goes out, and the
            # cost stays in the event log's run.end for the owner to see.
            log.error("cannot record the cost of %s in %s: %s", message.id, self.ledger.root, exc)
            self.events.emit("cost.unrecorded", id=message.id, actor=actor, error=str(exc))


def refusal_text(breach: Breach, periods: Periods, payer: Payer) -> str:
    limit = breach.limit
    if limit.scope == "profile" and limit.name == payer.key:
        what = f"your limit of {money(limit.max_usd)} a {limit.period}"
    else:
        what = limit.describe()
    return (
        f"Not run: {what} is reached ({money(breach.spent)} spent). "
        f"It resets at {periods.when(breach.resets_at)}."
    )


def owner_text(breach: Breach, periods: Periods) -> str:
    limit = breach.limit
    if limit.scope == "actor":
        where = f"[actors.{limit.name}]"
    elif ":" in limit.name:  # a person without a profile has the defaults only
        where = "[pairing]"
    else:
        where = f"[pairing.profiles.{limit.name}] (or [pairing])"
    return (
        f"Spend limit reached: {limit.describe()} ({money(breach.spent)} spent). Messages it "
        f"covers are not run until {periods.when(breach.resets_at)}. To change it, set "
        f"max_usd_per_{limit.period} in {where} of tinyclaw.toml."
    )


def owner_check(pairing: PairingService | None) -> Callable[[str], bool]:
    """Whether a payer (a profile name, or an identity without a profile) is an owner,
    for reports that show which default limits apply to whom."""

    def is_owner(name: str) -> bool:
        if pairing is None:
            return False
        from tinyclaw.pairing import Identity, Role

        try:
            if Identity.looks_like(name):
                return pairing.is_owner(Identity.parse(name))
            return any(p.name == name and p.role is Role.OWNER for p in pairing.profiles())
        except TinyclawError:
            return False

    return is_owner
