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

The state is read and written only through a store's ``change`` (files in the home,
or a key-value bucket shared by worker nodes on NATS, see ``shared_store.py``), and
the queue only through the spool's interface (``put_for``, ``put_reply``,
``reply_exists``, ``locate``), so the same steps hold when the lead runs on one
machine and its teammates on others. A change may be retried on a fresh copy when
another node wrote first: the planning inside it only edits the state, and events
and files follow once it is stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tinyclaw.config import Config
from tinyclaw.core import EventLog, Home, Inbound, UnsafePathError, failpoint
from tinyclaw.runners import RunResult
from tinyclaw.spool import Spool, Whereabouts
from tinyclaw.teams.conversations import Branch, Conversation, Conversations, Outcome
from tinyclaw.teams.opening import new_conversation
from tinyclaw.teams.planner import HandoffCheck, Planner, RunInfo
from tinyclaw.teams.roster import teams_of
from tinyclaw.teams.shared_store import open_conversations
from tinyclaw.teams.tags import parse_tags

log = logging.getLogger("tinyclaw.teams")
_OUTSIDE_KEPT = 1024  # at most this many runs between before_run and after_run


@dataclass
class _Step:
    """What one attempt of a change decided (reset when a shared store retries it)."""

    outcome: Outcome | None = None
    recorded: list[Outcome] = field(default_factory=list)
    opened: bool = False

    def reset(self) -> None:
        self.outcome, self.recorded, self.opened = None, [], False


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
        store: Conversations | None = None,
    ) -> None:
        """``may_hand_to`` says whether the person behind a conversation may have an
        actor run (pairing's profiles); a handoff it refuses is answered to the actor
        that made it, like one to a stranger. ``store``: where conversations are kept
        (default: this home's, see ``open_conversations``)."""
        self.config = config
        self.spool = spool
        self.events = events
        self.clock = clock
        self.durable = durable
        self.store = store or open_conversations(home, config, spool, durable=durable)
        self.store.clean_tmp()
        # Messages before_run found in no conversation: after_run of the same run need
        # not ask the store again (only that run can open one under the message's id).
        self._outside: set[str] = set()
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
            if len(self._outside) >= _OUTSIDE_KEPT:  # runs that never ended: forget them
                self._outside.clear()
            self._outside.add(message.id)
            return False
        now = self.clock()
        step = _Step()

        def plan(conversation: Conversation | None) -> Conversation | None:
            step.reset()
            if conversation is None:
                return None
            step.outcome = conversation.outcomes.get(message.id)
            if step.outcome is not None:
                return None
            runs = conversation.runs
            step.outcome = self.planner.before_run(conversation, message, actor, now)
            if step.outcome is not None:
                self._add(conversation, step.outcome, step)
                return conversation
            return conversation if conversation.runs != runs else None

        conversation = self.store.change(conversation_id, plan)
        if conversation is None:
            log.warning("%s: no state for conversation %s", message.id, conversation_id)
            return False
        self._announce(conversation, step)
        if step.outcome is None:
            return False
        log.info("%s: settled without a run (%s)", message.id, step.outcome.kind)
        self._deliver(conversation, step.outcome)
        return True

    def after_run(self, message: Inbound, actor: str, result: RunResult, cancelled: str) -> bool:
        """Apply a finished run. True if it was team work (handoffs, an answer, a
        conversation's end); False: an ordinary message, the worker replies as usual."""
        outside = message.handoff is None and message.id in self._outside
        self._outside.discard(message.id)
        conversation_id = None if outside else self.conversation_of(message)
        tags = parse_tags(result.text) if result.ok and not cancelled else []
        if conversation_id is None:
            if not tags or not teams_of(self.config, actor):
                return False
            conversation_id = message.id
        run = RunInfo(result.text, result.ok, result.cost_usd, result.duration_s)
        now = self.clock()
        step = _Step()

        def plan(conversation: Conversation | None) -> Conversation | None:
            step.reset()
            if conversation is None:
                if message.handoff is not None:
                    return None
                conversation = new_conversation(
                    self.config, message, actor, now - result.duration_s
                )
                step.opened = True
            step.outcome = conversation.outcomes.get(message.id)
            if step.outcome is not None:
                return None
            step.outcome = self.planner.after_run(
                conversation, message, actor, run, tags, cancelled, now
            )
            self._add(conversation, step.outcome, step)
            return conversation

        conversation = self.store.change(conversation_id, plan)
        if conversation is None or step.outcome is None:
            log.warning("%s: conversation %s is gone", message.id, conversation_id)
            return False
        self._announce(conversation, step)
        self._deliver(conversation, step.outcome)
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
        step = _Step()

        def settle(conversation: Conversation | None) -> Conversation | None:
            step.reset()
            if conversation is None:
                return None
            if self.planner.over_budget(conversation, now):
                self._add(conversation, self.planner.expire(conversation, now), step)
            elif conversation.status == "open":
                for branch in list(conversation.branches.values()):
                    if branch.status != "open" or branch.message_id is None:
                        continue
                    if branch.message_id in conversation.outcomes:
                        continue
                    reason = gave_up(branch)
                    if reason is not None:
                        outcome = self.planner.give_up_branch(conversation, branch, reason, now)
                        self._add(conversation, outcome, step)
            return conversation if step.recorded else None

        conversation = self.store.change(conversation_id, settle)
        if conversation is None:
            return None
        self._announce(conversation, step)
        pending = [
            outcome
            for outcome in conversation.outcomes.values()
            if not outcome.delivered
            and outcome not in step.recorded
            and self.where(outcome.actor, outcome.message_id) not in ("waiting", "running")
        ]
        for outcome in [*step.recorded, *pending]:
            self._deliver(conversation, outcome)
        return conversation

    def where(self, actor: str, message_id: str) -> Whereabouts:
        """Where ``actor``'s message is in the queue (``gone`` for a name that can be
        no actor's): waiting or running, its run will deliver; failed, it never will."""
        try:
            return self.spool.locate(actor, message_id).state
        except UnsafePathError:
            return "gone"

    # -- steps -------------------------------------------------------------------------

    @staticmethod
    def _add(conversation: Conversation, outcome: Outcome, step: _Step) -> None:
        """Record ``outcome`` in the state being changed (stored by the change)."""
        outcome.delivered = not (outcome.inbox or outcome.replies)  # nothing to write
        conversation.outcomes[outcome.message_id] = outcome
        step.recorded.append(outcome)

    def _announce(self, conversation: Conversation, step: _Step) -> None:
        """The events of a stored change, and the crash point after each record."""
        if step.opened:
            self.events.emit(
                "team.start",
                conversation=conversation.id,
                actor=conversation.root_actor,
                team=conversation.team,
            )
        for outcome in step.recorded:
            self.events.emit(
                f"team.{outcome.kind}",
                conversation=conversation.id,
                id=outcome.message_id,
                actor=outcome.actor,
                handoffs=[m.id for m in outcome.inbox],
                status=conversation.status,
            )
            failpoint(f"teams.{outcome.kind}.planned")

    def _deliver(self, conversation: Conversation, outcome: Outcome) -> None:
        """Write an outcome's files (again), then mark it delivered. What is already
        queued is not written again: a reply waiting or sent (a second copy would
        undo its delivery progress, or be sent twice), a message waiting or running."""
        if outcome.delivered:
            return
        step = f"teams.{outcome.kind}"
        for reply in outcome.replies:
            if self.spool.reply_exists(reply.channel, reply.id):
                continue
            self.spool.put_reply(reply)
            failpoint(step + ".emitting")
        for message in outcome.inbox:
            assert message.actor is not None
            if message.id in conversation.outcomes:
                continue  # already run and applied: writing it again would double it
            if self.where(message.actor, message.id) in ("waiting", "running"):
                continue
            self.spool.put_for(message.actor, message)
            failpoint(step + ".emitting")
        failpoint(step + ".emitted")

        def mark(fresh: Conversation | None) -> Conversation | None:
            found = None if fresh is None else fresh.outcomes.get(outcome.message_id)
            if fresh is None or found is None or found.delivered:
                return None
            found.delivered = True
            return fresh

        self.store.change(conversation.id, mark)
