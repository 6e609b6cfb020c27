"""What the worker does with a run's result when actors work as a team.

The worker calls :meth:`Coordinator.before_run` before starting a CLI and
:meth:`Coordinator.after_run` once the result is in the run journal. Both follow one
order, and every step of it is safe to repeat after a crash::

    result in the journal       (the worker; a replay reuses it, never reruns the CLI)
    → plan + save the state      one atomic write: branches, answers, counters, and the
                                 outcome with the exact files to write
    → write those files          handoffs/fan-ins into inboxes, replies into outgoing/;
                                 deterministic names, so a replay overwrites
    → mark the outcome delivered
    → the worker completes the processing file

A message whose outcome is already recorded is never planned again: its files are
written again if they were not all written, and that is all. That is what makes each
answer count exactly once. Named failpoints (``teams.<kind>.planned``,
``.emitting``, ``.emitted``) sit between the steps for the crash tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tinyclaw.config import Config
from tinyclaw.core.errors import UnsafePathError
from tinyclaw.core.events import EventLog
from tinyclaw.core.failpoints import failpoint
from tinyclaw.core.fsutil import atomic_write
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound
from tinyclaw.runners import RunResult
from tinyclaw.spool import SUFFIX, Spool
from tinyclaw.teams.opening import new_conversation
from tinyclaw.teams.planner import HandoffCheck, Planner, RunInfo
from tinyclaw.teams.roster import teams_of
from tinyclaw.teams.state import Branch, Conversation, ConversationStore, Outcome
from tinyclaw.teams.tags import parse_tags
from tinyclaw.teams.transcript import render_transcript

log = logging.getLogger("tinyclaw.teams")


class Coordinator:
    def __init__(
        self,
        home: Home,
        config: Config,
        spool: Spool,
        *,
        events: EventLog,
        clock: Callable[[], float] = time.time,
        durable: bool = True,
        may_hand_to: HandoffCheck | None = None,
    ) -> None:
        """``may_hand_to`` says whether the person behind a conversation may have an
        actor run (pairing's profiles); a handoff it refuses is answered to the actor
        that made it, like one to a stranger."""
        self.config = config
        self.spool = spool
        self.events = events
        self.clock = clock
        self.durable = durable
        self.store = ConversationStore(home.state / "conversations", durable=durable)
        self.store.clean_tmp()
        self.planner = Planner(config, lambda actor: config.workspace_for(home, actor), may_hand_to)

    def conversation_of(self, message: Inbound) -> str | None:
        """The team conversation ``message`` belongs to, if any."""
        if message.handoff is not None:
            return message.handoff.conversation
        return message.id if self.store.exists(message.id) else None

    # -- the two calls the worker makes ------------------------------------------------

    def before_run(self, message: Inbound, actor: str) -> bool:
        """True if ``message`` is settled without a run: its result was applied before a
        restart, its conversation has ended, or a limit ends it now. False: run it."""
        conversation_id = self.conversation_of(message)
        if conversation_id is None:
            return False
        with self.store.locked(conversation_id):
            conversation = self.store.load(conversation_id)
            if conversation is None:
                log.warning("%s: no state for conversation %s", message.id, conversation_id)
                return False
            outcome = conversation.outcomes.get(message.id)
            if outcome is None:
                runs = conversation.runs
                outcome = self.planner.before_run(conversation, message, actor, self.clock())
                if outcome is not None:
                    self._record(conversation, outcome)
                elif conversation.runs != runs:
                    self._save(conversation)
        if outcome is None:
            return False
        log.info("%s: settled without a run (%s)", message.id, outcome.kind)
        self._deliver(conversation, outcome)
        return True

    def after_run(self, message: Inbound, actor: str, result: RunResult, cancelled: str) -> bool:
        """Apply a finished run. True if it was team work (handoffs, an answer, a
        conversation's end); False: an ordinary message, the worker replies as usual."""
        conversation_id = self.conversation_of(message)
        tags = parse_tags(result.text) if result.ok and not cancelled else []
        if conversation_id is None:
            if not tags or not teams_of(self.config, actor):
                return False
            conversation_id = message.id
        run = RunInfo(result.text, result.ok, result.cost_usd, result.duration_s)
        with self.store.locked(conversation_id):
            conversation = self.store.load(conversation_id)
            if conversation is None:
                if message.handoff is not None:
                    log.warning("%s: conversation %s is gone", message.id, conversation_id)
                    return False
                started = self.clock() - result.duration_s
                conversation = new_conversation(self.config, message, actor, started)
                self.events.emit(
                    "team.start", conversation=conversation.id, actor=actor, team=conversation.team
                )
            outcome = conversation.outcomes.get(message.id)
            if outcome is None:
                outcome = self.planner.after_run(
                    conversation, message, actor, run, tags, cancelled, self.clock()
                )
                self._record(conversation, outcome)
        self._deliver(conversation, outcome)
        return True

    # -- the sweep's call ----------------------------------------------------------------

    def sweep(
        self, conversation_id: str, now: float, gave_up: Callable[[Branch], str | None]
    ) -> Conversation | None:
        """Settle what no run will: end an open conversation past its wall-clock
        budget, fail each open branch whose task message ``gave_up`` (returns the
        reason it was set aside, else None), and write the files of every outcome that
        is recorded but not delivered while its message waits nowhere (a crash after
        a sweep's record). Returns the conversation as it now stands."""
        with self.store.locked(conversation_id):
            conversation = self.store.load(conversation_id)
            if conversation is None:
                return None
            settled: list[Outcome] = []
            if self.planner.over_budget(conversation, now):
                settled.append(self.planner.expire(conversation, now))
                self._record(conversation, settled[-1])
            elif conversation.status == "open":
                for branch in list(conversation.branches.values()):
                    if branch.status != "open" or branch.message_id is None:
                        continue
                    if branch.message_id in conversation.outcomes:
                        continue
                    reason = gave_up(branch)
                    if reason is not None:
                        settled.append(
                            self.planner.give_up_branch(conversation, branch, reason, now)
                        )
                        self._record(conversation, settled[-1])
            pending = [
                outcome
                for outcome in conversation.outcomes.values()
                if not outcome.delivered
                and outcome not in settled
                and not self._waiting(outcome.actor, outcome.message_id)
            ]
        for outcome in [*settled, *pending]:
            self._deliver(conversation, outcome)
        return conversation

    def _waiting(self, actor: str, message_id: str) -> bool:
        """The message is in ``actor``'s inbox or being run: its run will deliver."""
        name = message_id + SUFFIX
        try:
            boxes = (self.spool.inbox(actor), self.spool.processing(actor))
        except UnsafePathError:
            return False
        return any((box / name).exists() for box in boxes)

    # -- steps -------------------------------------------------------------------------

    def _record(self, conversation: Conversation, outcome: Outcome) -> None:
        outcome.delivered = not (outcome.inbox or outcome.replies)  # nothing to write
        conversation.outcomes[outcome.message_id] = outcome
        self._save(conversation)
        self.events.emit(
            f"team.{outcome.kind}",
            conversation=conversation.id,
            id=outcome.message_id,
            actor=outcome.actor,
            handoffs=[m.id for m in outcome.inbox],
            status=conversation.status,
        )
        failpoint(f"teams.{outcome.kind}.planned")

    def _save(self, conversation: Conversation) -> None:
        self.store.save(conversation)
        transcript = render_transcript(conversation).encode("utf-8")
        atomic_write(self.store.path(conversation.id, ".md"), transcript, durable=self.durable)

    def _deliver(self, conversation: Conversation, outcome: Outcome) -> None:
        """Write an outcome's files (again), then mark it delivered."""
        if outcome.delivered:
            return
        step = f"teams.{outcome.kind}"
        for reply in outcome.replies:
            if (self.spool.sent(reply.channel) / (reply.id + SUFFIX)).exists():
                continue  # delivered to the platform before a restart
            self.spool.put_reply(reply)
            failpoint(step + ".emitting")
        for message in outcome.inbox:
            assert message.actor is not None
            if message.id in conversation.outcomes:
                continue  # already run and applied: writing it again would double it
            if (self.spool.processing(message.actor) / (message.id + SUFFIX)).exists():
                continue  # running right now
            self.spool.put_for(message.actor, message)
            failpoint(step + ".emitting")
        failpoint(step + ".emitted")
        with self.store.locked(conversation.id):
            fresh = self.store.load(conversation.id)
            if fresh is None or outcome.message_id not in fresh.outcomes:
                return
            fresh.outcomes[outcome.message_id].delivered = True
            self._save(fresh)
