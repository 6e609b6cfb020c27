"""The owner's side of pairing, from the command line and from chat.

The owner's side of pairing: answer requests, hand out invites, revoke, link, and
change a profile's role or actors.

:class:`PairingService` is the :class:`~tinyclaw.pairing.sender_side.PairingGate` plus these
operations, so one object serves the listener, the worker and ``tinyclaw pair``.
Owner-only operations take ``by``: ``None`` means the local command line (whoever can
run it owns the home), an identity means a chat command, allowed for owners only.

Owner commands in chat: ``/approve CODE [profile]``, ``/deny CODE``, ``/pending``.

An owner should not need a terminal on the host to let a friend in: the friend sends
the code to the owner, the owner forwards ``/approve CODE`` to the assistant from any
paired chat. Only owners may (a profile with role ``owner``, or an owner listed in
``tinyclaw.toml``); everyone else gets one line saying so, and the request is left
alone. A message on a local channel (the terminal's ``tinyclaw send``) comes from
whoever can run tinyclaw on the host, who owns the home anyway.

The answers are plain text and name the sender by identity and display name only;
request codes are never listed (the owner approves the code the sender handed over,
which is what ties the request to that person).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from tinyclaw.core import Inbound, PairingError, TinyclawError
from tinyclaw.pairing import records, wording
from tinyclaw.pairing.codes import explain_bad_code, format_code, normalize_code
from tinyclaw.pairing.records import (
    Approval,
    Identity,
    Invite,
    Notice,
    PendingRequest,
    Profile,
    Role,
    StoreData,
)
from tinyclaw.pairing.scope import PLATFORM_CHANNELS
from tinyclaw.pairing.sender_side import PairingGate, match
from tinyclaw.pairing.wording import ago, in_words

log = logging.getLogger("tinyclaw.pairing")

MAX_INVITE_TTL = timedelta(days=30)


class PairingService(PairingGate):
    """The gate plus its administration; see the module docstrings of both."""

    # -- the owner's side ----------------------------------------------------------

    def approve(
        self,
        code: str,
        *,
        by: Identity | None = None,
        profile: str | None = None,
        actors: Sequence[str] = (),
    ) -> Approval:
        """Let in the sender whose request has ``code``, into ``profile`` (an existing
        one, or a new one, named after the identity when None). Tells them via notify."""
        self._require_owner(by)
        hashed = self._hash_or_raise(code)
        _check_join_args(profile, actors)
        now = self._now()

        def approve(data: StoreData) -> tuple[PendingRequest, Identity, Profile]:
            self._prune(data, now)
            request = match(data.requests.values(), hashed)
            if request is None:
                raise PairingError(_no_request(code))
            ident = Identity.parse(request.identity)
            if profile is not None and actors and data.profile_named(profile) is not None:
                raise PairingError(f"profile {profile} exists; it keeps its own actors")
            joined = records.join(
                data, ident, now=now, name=profile, actors=actors, label=request.display_name
            )
            return request, ident, joined

        request, ident, joined = self.store.change(approve)
        notice = Notice(ident, wording.approved(joined.name), request.chat_id)
        log.info("pairing: approved %s into profile %s", ident, joined.name)
        return Approval(ident, joined, notice.text, self._tell(notice), notice.chat_id)

    def deny(self, target: str, *, by: Identity | None = None) -> Identity:
        """Refuse a request, by its code or by the sender's identity. The sender is not
        told, and gets no new code for ``limits.deny_cooldown``."""
        self._require_owner(by)
        wanted = Identity.parse(target) if Identity.looks_like(target) else None
        hashed = None if wanted is not None else self._hash_or_raise(target)
        now = self._now()

        def deny(data: StoreData) -> PendingRequest:
            self._prune(data, now)
            if wanted is not None:
                request = data.requests.get(str(wanted))
            else:
                request = match(data.requests.values(), hashed)
            if request is None:
                raise PairingError(_no_request(target))
            del data.requests[request.identity]
            records.deny_sender(data, request.identity, self.limits, now)
            return request

        request = self.store.change(deny)
        log.info("pairing: denied %s", request.identity)
        return Identity.parse(request.identity)

    def invite(
        self,
        *,
        profile: str | None = None,
        actors: Sequence[str] = (),
        ttl: timedelta | None = None,
        owner: bool = False,
        by: Identity | None = None,
    ) -> str:
        """A one-time code (``KQ7M-T4XA``) that pairs whoever sends ``/pair CODE`` first.

        With ``profile`` naming an existing profile the new account joins that person
        (how one links a second platform); role and actors then stay the profile's.
        """
        self._require_owner(by)
        _check_join_args(profile, actors)
        lifetime = self.code_ttl if ttl is None else ttl
        if not timedelta(0) < lifetime <= MAX_INVITE_TTL:
            raise PairingError(f"an invite lives between 1 second and {MAX_INVITE_TTL.days} days")
        now = self._now()

        def invite(data: StoreData) -> str:
            self._prune(data, now)
            if (
                profile is not None
                and data.profile_named(profile) is not None
                and (actors or owner)
            ):
                raise PairingError(
                    f"profile {profile} exists: an invite to it adds an account and keeps "
                    "its role and actors (drop --actors/--owner, or pick a new name)"
                )
            _, code = self._fresh_code(data)
            data.invites.append(
                Invite(
                    code_hash=self._key.hash_code(code),
                    profile=profile,
                    role=Role.OWNER if owner else Role.USER,
                    actors=tuple(actors),
                    created_at=now,
                    expires_at=now + lifetime,
                    created_by=str(by) if by is not None else "cli",
                )
            )
            return code

        code = self.store.change(invite)
        log.info("pairing: invite made (profile=%s, owner=%s)", profile, owner)
        return format_code(code)

    def revoke(self, target: str, *, by: Identity | None = None) -> list[Identity]:
        """Remove one identity (``channel:user_id``) or a whole profile (its name), plus
        its pending request and open invites. Takes effect on the next message."""
        self._require_owner(by)
        now = self._now()

        def revoke(data: StoreData) -> list[Identity]:
            self._prune(data, now)
            if Identity.looks_like(target):
                ident = Identity.parse(target)
                left = records.leave(data, ident)
                had_request = data.requests.pop(str(ident), None) is not None
                if left is None and not had_request:
                    raise PairingError(f"{ident} is not paired and has no pending request")
                return [ident]
            found = data.profile_named(target)
            if found is None:
                raise PairingError(f"no profile or identity {target!r} (see tinyclaw pair list)")
            data.drop_profile(target)
            data.invites = [i for i in data.invites if i.profile != target]
            return [Identity.parse(i) for i in found.identities]

        removed = self.store.change(revoke)
        log.info("pairing: revoked %s", ", ".join(map(str, removed)))
        return removed

    def link(self, profile: str, ident: Identity, *, by: Identity | None = None) -> Profile:
        """Attach another account to an existing profile (same person, other platform)."""
        self._require_owner(by)
        records.check_name(profile)
        now = self._now()

        def link(data: StoreData) -> Profile:
            if data.profile_named(profile) is None:
                raise PairingError(f"no profile {profile!r} (see tinyclaw pair list)")
            return records.join(data, ident, now=now, name=profile)

        return self.store.change(link)

    def update_profile(
        self,
        name: str,
        *,
        role: Role | None = None,
        actors: Sequence[str] | None = None,
        by: Identity | None = None,
    ) -> Profile:
        """Change a profile's role and/or actors (``actors=()``: every actor); None
        leaves that part as it is. Counts from the profile's very next message, on every
        account it links, because the gate reads the store for each message."""
        self._require_owner(by)
        records.check_name(name)
        if role is None and actors is None:
            raise PairingError("nothing to change: give a role, actors, or both")
        _check_join_args(None, actors or ())
        update: dict[str, object] = {}
        if role is not None:
            update["role"] = role
        if actors is not None:
            update["actors"] = tuple(dict.fromkeys(actors))  # in order, without repeats

        def update_profile(data: StoreData) -> Profile:
            found = data.profile_named(name)
            if found is None:
                raise PairingError(f"no profile {name!r} (see tinyclaw pair list)")
            changed = found.model_copy(update=update)
            data.put_profile(changed)
            return changed

        changed = self.store.change(update_profile)
        log.info("pairing: profile %s is now %s, actors %s", name, changed.role, changed.actors)
        return changed

    def profiles(self) -> list[Profile]:
        """Every profile; raises PairingStoreError if the store is unreadable."""
        return list(self.store.read().profiles)

    def pending(self) -> list[PendingRequest]:
        """Live requests, oldest first. Their codes are not shown: the owner approves the
        code the sender handed over, which is what ties the request to that person."""
        now = self._now()
        live = [r for r in self.store.read().requests.values() if r.expires_at > now]
        return sorted(live, key=lambda r: r.created_at)

    def invites(self) -> list[Invite]:
        now = self._now()
        return [i for i in self.store.read().invites if i.expires_at > now]

    # -- helpers -------------------------------------------------------------------

    def _require_owner(self, by: Identity | None) -> None:
        if by is not None and not self.is_owner(by):
            raise PairingError("only an owner can do that")

    def _hash_or_raise(self, code: str) -> str:
        raw = normalize_code(code)
        if raw is None:
            raise PairingError(explain_bad_code(code))
        return self._key.hash_code(raw)

    def _tell(self, notice: Notice) -> bool:
        if self._notify is None:
            return False
        try:
            self._notify(notice)
        except TinyclawError as exc:  # the approval stands; only the notice is lost
            log.warning("pairing: could not notify %s: %s", notice.identity, exc)
            return False
        return True


def _check_join_args(profile: str | None, actors: Sequence[str]) -> None:
    if profile is not None:
        records.check_name(profile)
    for actor in actors:
        records.check_name(actor, "actor")


def _no_request(code: str) -> str:
    return (
        f"no pending request matches {code.strip()!r}: it expired, was already answered, "
        "or is mistyped (see tinyclaw pair pending)"
    )


ONLY_OWNER = "Sorry, only the owner can do that."
OWNER_HELP = """\
Owner commands:
/pending - requests waiting for your approval
/approve CODE [profile] - let in the sender who was given CODE
/deny CODE - refuse that request
/status - also shows everything the worker is doing
/cost all - everyone's spend, per person and per actor, with the limits"""


def sender_identity(message: Inbound) -> Identity | None:
    """The platform identity of the sender; None for a local channel (the host).

    Raises PairingError when a platform message carries a sender id that is not a
    valid identity (only a hand-made file can).
    """
    if message.channel not in PLATFORM_CHANNELS:
        return None
    return Identity(message.channel, message.sender.id)


def is_owner(pairing: PairingService | None, message: Inbound) -> bool:
    """Whether the sender of ``message`` may run owner commands."""
    try:
        ident = sender_identity(message)
    except PairingError:
        return False
    if ident is None:
        return True  # the host's own terminal
    return pairing is not None and pairing.is_owner(ident)


def owner_command(pairing: PairingService | None, message: Inbound, command: str, args: str) -> str:
    """The answer to one of :data:`OWNER_COMMANDS` sent by ``message``'s sender."""
    if not is_owner(pairing, message):
        log.warning("pairing: %s tried %s without being an owner", message.sender.id, command)
        return ONLY_OWNER
    if pairing is None:
        return "Pairing is not available here; use tinyclaw pair on the host."
    by = sender_identity(message)
    words = args.split()
    try:
        if command == "/pending":
            return _pending(pairing, pairing.now())
        if not words:
            return f"Usage: {command} CODE (the code the sender was given, e.g. KQ7M-T4XA)"
        if command == "/approve":
            profile = words[1] if len(words) > 1 else None
            approval = pairing.approve(words[0], by=by, profile=profile)
            who = f"{approval.identity} as profile {approval.profile.name}"
            if approval.notified:
                return f"Approved {who}. They are being told in their chat."
            return f"Approved {who}. They were not told automatically; let them know."
        ident = pairing.deny(words[0], by=by)
        return f"Denied the request of {ident}. They get no new code for a day."
    except PairingError as exc:
        return f"That did not work: {exc}"


def _pending(pairing: PairingService, now: datetime) -> str:
    requests = pairing.pending()
    if not requests:
        return "No pending requests."
    lines = ["Pending requests (approve with the code the sender gives you):"]
    for request in requests:
        name = f" ({request.display_name})" if request.display_name else ""
        lines.append(
            f"{request.identity}{name}: asked {ago(now - request.created_at)}, "
            f"expires in {in_words(request.expires_at - now)}"
        )
    return "\n".join(lines)
