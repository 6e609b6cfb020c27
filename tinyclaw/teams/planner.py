"""Deciding what a run's result means for its team conversation. No I/O but reading
the clock value it is given (and, for a final answer, checking ``[send_file:]`` paths).

Each function changes the :class:`Conversation` in memory and returns the
:class:`Outcome` to record under the message id; the coordinator saves both in one
atomic write and only then writes the outcome's files. Every id it makes is derived
from the conversation id and a counter in the state, so the files a replay writes
are the files the first attempt wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinyclaw.config import Config
from tinyclaw.core.messages import Inbound, Reply
from tinyclaw.teams import outputs, texts
from tinyclaw.teams.roster import addressable_hint, teammates
from tinyclaw.teams.state import (
    Branch,
    Conversation,
    Entry,
    EntryKind,
    Outcome,
    OutcomeKind,
    Round,
)
from tinyclaw.teams.tags import Tag, text_around
from tinyclaw.worker.addressing import extract_send_files


@dataclass(frozen=True)
class RunInfo:
    """The parts of a RunResult a plan needs."""

    text: str
    ok: bool
    cost_usd: float | None = None
    duration_s: float = 0.0


def hop_of(message: Inbound) -> int:
    return message.handoff.hop if message.handoff is not None else 0


def owed_branch(message: Inbound) -> str | None:
    """The branch whose answer ``message``'s reply is (None: the answer to the user)."""
    return message.handoff.branch if message.handoff is not None else None


# Whether the person who started ``conversation`` may have ``actor`` run: None if so,
# else the reason. The worker passes pairing's answer; without one, everyone may.
HandoffCheck = Callable[[Conversation, str], "str | None"]


def _anyone(conversation: Conversation, actor: str) -> str | None:
    return None


class Planner:
    """The rules of a team conversation, for one configuration."""

    def __init__(
        self,
        config: Config,
        workspace_of: Callable[[str], Path],
        may_hand_to: HandoffCheck | None = None,
    ) -> None:
        self.config = config
        self.workspace_of = workspace_of
        self.may_hand_to = may_hand_to or _anyone

    # -- settings --------------------------------------------------------------------

    def progress(self, conversation: Conversation) -> str:
        team = self.config.teams.get(conversation.team or "")
        return team.progress if team is not None else "all"

    # -- before a run ------------------------------------------------------------------

    def before_run(
        self, conversation: Conversation, message: Inbound, actor: str, now: float
    ) -> Outcome | None:
        """None: run it (and count the run). An outcome: settle it without a run."""
        if conversation.status != "open":
            return self._late(conversation, message, actor, now, ran=False)
        if message.id in conversation.started:
            return None  # allowed before a restart; the journal may even hold its result
        limits = self.config.limits
        if conversation.runs >= limits.max_runs:
            why = f"it used {limits.max_runs} CLI runs (limits.max_runs)"
            return self._end(conversation, message.id, actor, now, why)
        if now - conversation.started_at > limits.budget_seconds:
            why = f"it ran longer than {limits.budget_seconds:g} seconds (limits.budget_seconds)"
            return self._end(conversation, message.id, actor, now, why)
        conversation.started.append(message.id)
        return None

    # -- after a run -------------------------------------------------------------------

    def after_run(
        self,
        conversation: Conversation,
        message: Inbound,
        actor: str,
        run: RunInfo,
        tags: list[Tag],
        cancelled: str,
        now: float,
    ) -> Outcome:
        if conversation.status != "open":
            return self._late(conversation, message, actor, now, ran=True)
        if cancelled == "user":
            return self._end(conversation, message.id, actor, now, None)
        if tags:
            return self._open_round(conversation, message, actor, run, tags, now)
        return self._answer(conversation, message, actor, run, now)

    def _open_round(
        self,
        conversation: Conversation,
        message: Inbound,
        actor: str,
        run: RunInfo,
        tags: list[Tag],
        now: float,
    ) -> Outcome:
        hop = hop_of(message) + 1
        if hop > self.config.limits.max_hops:
            why = f"the hand-offs went {self.config.limits.max_hops} deep (limits.max_hops)"
            return self._end(conversation, message.id, actor, now, why)
        mates = teammates(self.config, actor)
        context = text_around(run.text, tags)
        number = conversation.next("f")
        round_ = Round(
            id=message.id,
            actor=actor,
            hop=hop_of(message),
            parent_branch=owed_branch(message),
            branches=[],
            fanin_id=outputs.derive_id(conversation.id, f"f{number:03d}"),
        )
        inbox: list[Inbound] = []
        for tag in tags:
            for target in tag.targets:
                branch = self._branch(conversation, round_, actor, target, tag.task, hop, now)
                problem = None
                if target == actor:
                    problem = "you cannot hand a task to yourself"
                elif target not in mates:
                    problem = f"@{target} is not your teammate"
                elif not tag.task:
                    problem = f"the task for @{target} was empty"
                else:
                    problem = self.may_hand_to(conversation, target)
                kind: EntryKind = "handoff"
                if problem is not None:
                    branch.status = "refused"
                    branch.answer = texts.refusal(problem, addressable_hint(self.config, actor))
                    branch.answered_at = now
                    kind = "refused"
                else:
                    branch.message_id = outputs.derive_id(conversation.id, branch.id)
                    inbox.append(outputs.handoff_message(conversation, branch, context))
                conversation.log.append(
                    Entry(
                        at=now,
                        kind=kind,
                        actor=actor,
                        to=target,
                        branch=branch.id,
                        hop=hop,
                        message_id=branch.message_id,
                        text=branch.task if kind == "handoff" else (branch.answer or ""),
                    )
                )
        conversation.rounds[round_.id] = round_
        replies = []
        if self.progress(conversation) != "off":
            branches = [conversation.branches[b] for b in round_.branches]
            text = texts.handoff_progress(actor, context, branches)
            replies.append(self._progress(conversation, actor, text))
        if not inbox:  # everything refused: the actor hears back at once
            inbox.append(self._gather(conversation, round_, now))
        return Outcome(
            message_id=message.id, actor=actor, kind="opened", at=now, inbox=inbox, replies=replies
        )

    def _answer(
        self, conversation: Conversation, message: Inbound, actor: str, run: RunInfo, now: float
    ) -> Outcome:
        branch_id = owed_branch(message)
        if branch_id is None:
            return self._final(conversation, message, actor, run, now)
        branch = conversation.branches.get(branch_id)
        if branch is None or branch.status != "open":
            return self._late(conversation, message, actor, now, ran=True)
        answer = run.text if run.ok else f"(@{actor} could not answer: {run.text})"
        return self._settle_branch(conversation, branch, message.id, run.ok, answer, now)

    def _settle_branch(
        self,
        conversation: Conversation,
        branch: Branch,
        message_id: str,
        ok: bool,
        answer: str,
        now: float,
    ) -> Outcome:
        """Record ``branch``'s answer (or failure); write the fan-in if it completes
        its round."""
        actor = branch.to_actor
        branch.status = "answered" if ok else "failed"
        branch.answer = answer
        branch.answered_at = now
        conversation.log.append(
            Entry(
                at=now,
                kind="answer",
                actor=actor,
                to=branch.from_actor,
                branch=branch.id,
                hop=branch.hop,
                message_id=message_id,
                text=branch.answer,
            )
        )
        replies = []
        if self.progress(conversation) == "all":
            replies.append(self._progress(conversation, actor, texts.answer_progress(branch)))
        round_ = conversation.rounds[branch.round]
        pending = [b for b in round_.branches if conversation.branches[b].answer is None]
        if pending or round_.gathered:
            return Outcome(
                message_id=message_id, actor=actor, kind="answered", at=now, replies=replies
            )
        fanin = self._gather(conversation, round_, now)
        return Outcome(
            message_id=message_id,
            actor=actor,
            kind="gathered",
            at=now,
            inbox=[fanin],
            replies=replies,
        )

    # -- the sweep (nothing ran: time passed, or a message was given up) ---------------

    def over_budget(self, conversation: Conversation, now: float) -> bool:
        return (
            conversation.status == "open"
            and now - conversation.started_at > self.config.limits.budget_seconds
        )

    def expire(self, conversation: Conversation, now: float) -> Outcome:
        """End an open conversation that outlived its wall-clock budget while nothing
        of it ran (a stuck or lost message): the user hears it and what was done."""
        budget = self.config.limits.budget_seconds
        why = f"it ran longer than {budget:g} seconds (limits.budget_seconds)"
        end_id = outputs.derive_id(conversation.id, "end")
        return self._end(conversation, end_id, conversation.root_actor, now, why)

    def give_up_branch(
        self, conversation: Conversation, branch: Branch, reason: str, now: float
    ) -> Outcome:
        """``branch``'s task message was set aside in ``queue/failed/`` and will not run
        again: the branch fails, and the actor that asked is told so in its fan-in (the
        outcome is keyed by that message, so it is never applied twice)."""
        assert branch.message_id is not None
        answer = texts.gave_up(branch.to_actor, reason)
        return self._settle_branch(conversation, branch, branch.message_id, False, answer, now)

    def _final(
        self, conversation: Conversation, message: Inbound, actor: str, run: RunInfo, now: float
    ) -> Outcome:
        wanted = extract_send_files(run.text, self.workspace_of(actor))
        text = wanted.text
        if wanted.refused:
            text += "\n\n(Not sent: " + "; ".join(wanted.refused) + ")"
        conversation.status = "done"
        conversation.ended_at = now
        conversation.log.append(
            Entry(at=now, kind="final", actor=actor, to="user", message_id=message.id, text=text)
        )
        reply = outputs.reply(
            conversation,
            text or "(no text)",
            kind="reply" if run.ok else "error",
            actor=actor,
            files=wanted.files,
            workspace=str(self.workspace_of(actor)),
            meta={
                "cost_usd": run.cost_usd,
                "duration_s": round(run.duration_s, 3),
                "conversation": conversation.id,
                "runs": conversation.runs,
            },
        )
        return Outcome(message_id=message.id, actor=actor, kind="final", at=now, replies=[reply])

    # -- endings -----------------------------------------------------------------------

    def _end(
        self,
        conversation: Conversation,
        message_id: str,
        actor: str,
        now: float,
        why: str | None,
    ) -> Outcome:
        """End the conversation early: ``why`` names the limit reached; None means the
        user cancelled. The user hears what happened and what was done so far."""
        branches = list(conversation.branches.values())
        conversation.ended_at = now
        if why is None:
            headline = f"Stopped @{actor} as asked; the team conversation has ended."
            conversation.status = "cancelled"
            conversation.end_reason = "cancelled by the user"
            entry = Entry(at=now, kind="cancelled", actor=actor, to="user", text=headline)
            outcome_kind: OutcomeKind = "cancelled"
        else:
            headline = f"The team stopped before finishing: {why}."
            conversation.status = "limited"
            conversation.end_reason = why
            entry = Entry(at=now, kind="limit", actor=actor, to="user", text=headline)
            outcome_kind = "limited"
        entry.message_id = message_id
        conversation.log.append(entry)
        reply = outputs.reply(
            conversation,
            texts.ended_text(headline, branches),
            kind="notice" if why is None else "error",
            actor=None,
            meta={"conversation": conversation.id},
        )
        return Outcome(
            message_id=message_id, actor=actor, kind=outcome_kind, at=now, replies=[reply]
        )

    def _late(
        self, conversation: Conversation, message: Inbound, actor: str, now: float, *, ran: bool
    ) -> Outcome:
        what = "its answer was not used" if ran else "it was not run"
        conversation.log.append(
            Entry(
                at=now,
                kind="late",
                actor=actor,
                message_id=message.id,
                text=f"The conversation had already ended ({conversation.status}); {what}.",
            )
        )
        return Outcome(message_id=message.id, actor=actor, kind="late", at=now)

    # -- building blocks ---------------------------------------------------------------

    def _branch(
        self,
        conversation: Conversation,
        round_: Round,
        actor: str,
        target: str,
        task: str,
        hop: int,
        now: float,
    ) -> Branch:
        number = conversation.next("h")
        branch = Branch(
            id=f"h{number:03d}",
            round=round_.id,
            from_actor=actor,
            to_actor=target,
            task=task,
            hop=hop,
            opened_at=now,
        )
        conversation.branches[branch.id] = branch
        round_.branches.append(branch.id)
        return branch

    def _gather(self, conversation: Conversation, round_: Round, now: float) -> Inbound:
        """The fan-in: every answer of a complete round, back to the actor that asked."""
        round_.gathered = True
        branches = [conversation.branches[b] for b in round_.branches]
        answerers = list(dict.fromkeys(b.to_actor for b in branches))
        conversation.log.append(
            Entry(
                at=now,
                kind="fanin",
                actor="team",
                to=round_.actor,
                hop=round_.hop,
                message_id=round_.fanin_id,
                text=f"{len(branches)} answer(s) from " + ", ".join("@" + a for a in answerers),
            )
        )
        return outputs.fanin_message(conversation, round_, branches, answerers)

    def _progress(self, conversation: Conversation, actor: str, text: str) -> Reply:
        number = conversation.next("p")
        return outputs.reply(
            conversation,
            text,
            kind="progress",
            actor=actor,
            reply_id=outputs.progress_id(conversation.id, number),
            meta={"conversation": conversation.id},
        )
