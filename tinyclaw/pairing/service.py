"""The owner's side of pairing: answer requests, hand out invites, revoke, link, and
change a profile's role or actors.

:class:`PairingService` is the :class:`~tinyclaw.pairing.gate.PairingGate` plus these
operations, so one object serves the listener, the worker and ``tinyclaw pair``.
Owner-only operations take ``by``: ``None`` means the local command line (whoever can
run it owns the home), an identity means a chat command, allowed for owners only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from tinyclaw.core.errors import PairingError, TinyclawError
from tinyclaw.pairing import limits as lim
from tinyclaw.pairing import profiles as prof
from tinyclaw.pairing import texts
from tinyclaw.pairing.codes import explain_bad_code, format_code, normalize_code
from tinyclaw.pairing.decisions import Approval, Notice
from tinyclaw.pairing.gate import PairingGate, match
from tinyclaw.pairing.identity import Identity
from tinyclaw.pairing.models import Invite, PendingRequest, Profile, Role

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
        with self.store.transaction() as data:
            self._prune(data, now)
            request = match(data.requests.values(), hashed)
            if request is None:
                raise PairingError(_no_request(code))
            ident = Identity.parse(request.identity)
            if profile is not None and actors and data.profile_named(profile) is not None:
                raise PairingError(f"profile {profile} exists; it keeps its own actors")
            joined = prof.join(
                data, ident, now=now, name=profile, actors=actors, label=request.display_name
            )
        notice = Notice(ident, texts.approved(joined.name), request.chat_id)
        log.info("pairing: approved %s into profile %s", ident, joined.name)
        return Approval(ident, joined, notice.text, self._tell(notice), notice.chat_id)

    def deny(self, target: str, *, by: Identity | None = None) -> Identity:
        """Refuse a request, by its code or by the sender's identity. The sender is not
        told, and gets no new code for ``limits.deny_cooldown``."""
        self._require_owner(by)
        wanted = Identity.parse(target) if Identity.looks_like(target) else None
        hashed = None if wanted is not None else self._hash_or_raise(target)
        now = self._now()
        with self.store.transaction() as data:
            self._prune(data, now)
            if wanted is not None:
                request = data.requests.get(str(wanted))
            else:
                request = match(data.requests.values(), hashed)
            if request is None:
                raise PairingError(_no_request(target))
            del data.requests[request.identity]
            lim.deny_sender(data, request.identity, self.limits, now)
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
        ttl = self.code_ttl if ttl is None else ttl
        if not timedelta(0) < ttl <= MAX_INVITE_TTL:
            raise PairingError(f"an invite lives between 1 second and {MAX_INVITE_TTL.days} days")
        now = self._now()
        with self.store.transaction() as data:
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
                    expires_at=now + ttl,
                    created_by=str(by) if by is not None else "cli",
                )
            )
        log.info("pairing: invite made (profile=%s, owner=%s)", profile, owner)
        return format_code(code)

    def revoke(self, target: str, *, by: Identity | None = None) -> list[Identity]:
        """Remove one identity (``channel:user_id``) or a whole profile (its name), plus
        its pending request and open invites. Takes effect on the next message."""
        self._require_owner(by)
        now = self._now()
        with self.store.transaction() as data:
            self._prune(data, now)
            if Identity.looks_like(target):
                ident = Identity.parse(target)
                left = prof.leave(data, ident)
                had_request = data.requests.pop(str(ident), None) is not None
                if left is None and not had_request:
                    raise PairingError(f"{ident} is not paired and has no pending request")
                removed = [ident]
            else:
                found = data.profile_named(target)
                if found is None:
                    raise PairingError(
                        f"no profile or identity {target!r} (see tinyclaw pair list)"
                    )
                data.drop_profile(target)
                data.invites = [i for i in data.invites if i.profile != target]
                removed = [Identity.parse(i) for i in found.identities]
        log.info("pairing: revoked %s", ", ".join(map(str, removed)))
        return removed

    def link(self, profile: str, ident: Identity, *, by: Identity | None = None) -> Profile:
        """Attach another account to an existing profile (same person, other platform)."""
        self._require_owner(by)
        prof.check_name(profile)
        now = self._now()
        with self.store.transaction() as data:
            if data.profile_named(profile) is None:
                raise PairingError(f"no profile {profile!r} (see tinyclaw pair list)")
            return prof.join(data, ident, now=now, name=profile)

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
        prof.check_name(name)
        if role is None and actors is None:
            raise PairingError("nothing to change: give a role, actors, or both")
        _check_join_args(None, actors or ())
        update: dict[str, object] = {}
        if role is not None:
            update["role"] = role
        if actors is not None:
            update["actors"] = tuple(dict.fromkeys(actors))  # in order, without repeats
        with self.store.transaction() as data:
            found = data.profile_named(name)
            if found is None:
                raise PairingError(f"no profile {name!r} (see tinyclaw pair list)")
            changed = found.model_copy(update=update)
            data.put_profile(changed)
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
        prof.check_name(profile)
    for actor in actors:
        prof.check_name(actor, "actor")


def _no_request(code: str) -> str:
    return (
        f"no pending request matches {code.strip()!r}: it expired, was already answered, "
        "or is mistyped (see tinyclaw pair pending)"
    )
