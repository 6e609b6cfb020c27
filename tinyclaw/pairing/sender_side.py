"""The pairing gate: the hot path every inbound message goes through.

The listener asks :meth:`PairingGate.check` for every inbound message before it queues
anything or downloads an attachment, and the worker asks again before it runs one (a
revocation between the two counts). Anyone not allowed goes to
:meth:`~PairingGate.handle_unknown` (which may answer with a request code) or, for
``/pair CODE``, to :meth:`~PairingGate.redeem` (an invite). The owner's side (approve,
invite, revoke...) is :class:`tinyclaw.pairing.owner_side.PairingService`, a subclass.

Who is allowed, in order: the owners and the ``allow_from`` lists of ``tinyclaw.toml``
(given to the constructor; they do not depend on the store, so they keep working when
the store is damaged and are how an owner gets in to fix things), then every identity
linked to a profile in the store. If the store is unreadable nobody else is allowed,
and every change refuses to run rather than write over it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from tinyclaw.core import PairingError, PairingStoreError
from tinyclaw.pairing import records, wording
from tinyclaw.pairing.codes import CodeKey, new_nonce, normalize_code, random_code
from tinyclaw.pairing.records import (
    Access,
    Decision,
    Identity,
    Invite,
    Notice,
    PairingLimits,
    PendingRequest,
    RedeemOutcome,
    RedeemResult,
    Role,
    StoreData,
)
from tinyclaw.pairing.storage import PairingStorage, PairingStore

log = logging.getLogger("tinyclaw.pairing")

Notify = Callable[[Notice], None]
Clock = Callable[[], datetime]
_E = TypeVar("_E", PendingRequest, Invite)
DEFAULT_LIMITS = PairingLimits()


def utc_now() -> datetime:
    return datetime.now(UTC)


class PairingGate:
    """Who may talk, and the two ways in, over ``store``: a folder (``home.pairing``,
    the store's files) or a :class:`~tinyclaw.pairing.storage.PairingStorage`
    (:func:`~tinyclaw.pairing.wiring.open_pairing_store` picks the home's).

    Cheap to build (no I/O until used) and safe to use from several processes at once.
    ``now()`` must return timezone-aware datetimes (tests pass a clock they move).
    ``notify(notice)`` is called after an approval so the sender learns they are in
    (:func:`tinyclaw.pairing.wiring.queue_notifier` writes it into the outgoing queue,
    which the listener delivers); without it the CLI tells the owner to pass it on.
    """

    def __init__(
        self,
        store: Path | PairingStorage,
        *,
        owners: Iterable[Identity] = (),
        static_allow: Iterable[Identity] = (),
        now: Clock = utc_now,
        notify: Notify | None = None,
        max_pending_per_channel: int = 5,
        code_ttl: timedelta = timedelta(hours=1),
        limits: PairingLimits = DEFAULT_LIMITS,
        lock_timeout: float = 10.0,
    ) -> None:
        if code_ttl <= timedelta(0):
            raise PairingError("code_ttl must be positive")
        self.store: PairingStorage = (
            PairingStore(store, lock_timeout=lock_timeout) if isinstance(store, Path) else store
        )
        self.owners = frozenset(owners)
        self.static_allow = frozenset(static_allow)
        self.max_pending_per_channel = max_pending_per_channel
        self.code_ttl = code_ttl
        self.limits = limits
        self._key = CodeKey(self.store.secret)
        self._now = now
        self._notify = notify
        self._last_store_error = ""

    def now(self) -> datetime:
        """The service's idea of the current time (its injected clock): anything that
        shows ages or time left, like ``/pending``, must use this, not the wall clock."""
        return self._now()

    # -- the gate (hot path) -----------------------------------------------------

    def check(self, ident: Identity) -> Decision:
        """Where ``ident`` stands. Reads the store file each time (no lock, cached parse)."""
        data = self._read_or_none()
        key = str(ident)
        profile = data.profile_of(key) if data is not None else None
        if ident in self.owners:
            return Decision(ident, Access.ALLOWED, profile, True, "owner in tinyclaw.toml")
        if ident in self.static_allow:
            is_owner = profile is not None and profile.role is Role.OWNER
            return Decision(ident, Access.ALLOWED, profile, is_owner, "allow_from in tinyclaw.toml")
        if data is None:
            return Decision(ident, Access.LOCKED, reason="pairing store unreadable")
        if profile is not None:
            is_owner = profile.role is Role.OWNER
            return Decision(ident, Access.ALLOWED, profile, is_owner, f"profile {profile.name}")
        now = self._now()
        until = records.locked_until(data, key, now)
        if until is not None:
            reason = data.senders[key].reason
            return Decision(ident, Access.LOCKED, reason=f"{reason}, until {until:%H:%M} UTC")
        request = data.requests.get(key)
        if request is not None and request.expires_at > now:
            return Decision(ident, Access.PENDING, reason="pending, already told their code")
        return Decision(ident, Access.UNKNOWN, reason="not paired")

    def may_use(self, ident: Identity, actor: str) -> bool:
        decision = self.check(ident)
        if not decision.allowed:
            return False
        if decision.owner or decision.profile is None:
            return True  # owners, and allow_from entries without a profile, use every actor
        return decision.profile.may_use(actor)

    def is_owner(self, ident: Identity) -> bool:
        return self.check(ident).owner

    def handle_unknown(
        self, ident: Identity, display_name: str = "", chat_id: str | None = None
    ) -> str | None:
        """A message from someone not allowed: the text to answer, or None to stay quiet.

        A new sender gets a request code; a pending one gets the same code again, at
        most every ``limits.remind_every``; past the per-channel cap of pending requests,
        or when locked out, the answer is silence (a flood of new ids gets nothing).
        ``chat_id`` (where they wrote from) is kept with the request: the approval
        notice goes there.
        """
        now = self._now()
        key = str(ident)
        data = self._read_or_none()
        # Decide without the lock first: the common answer to a flood is "nothing".
        if data is None or not self._may_answer(data, ident, now):
            return None
        answer = self.store.change(lambda data: self._ask(data, ident, display_name, chat_id, now))
        if answer is None:
            return None
        text, is_new, full = answer
        if not is_new:
            return text
        log.info("pairing: request from %s (%r)", key, display_name[:64])
        if full:
            log.warning(
                "pairing: %s now has the most pending requests allowed; new senders "
                "there get no answer until the owner approves or denies some",
                ident.channel,
            )
        return text

    def _ask(
        self,
        data: StoreData,
        ident: Identity,
        display_name: str,
        chat_id: str | None,
        now: datetime,
    ) -> tuple[str, bool, bool] | None:
        """``handle_unknown``'s change of the store: (the answer, whether the request is
        new, whether the channel is now full of requests), or None for silence."""
        key = str(ident)
        self._prune(data, now)
        if not self._may_answer(data, ident, now):
            return None
        request = data.requests.get(key)
        if request is not None:
            update: dict[str, object] = {"last_told": now}
            if chat_id:
                update["chat_id"] = chat_id[:512]  # the chat they were last told in
            data.requests[key] = request.model_copy(update=update)
            code = self._key.request_code(key, request.nonce)
            return wording.reminder(code, request.expires_at - now), False, False
        nonce, code = self._fresh_code(data, key)
        data.requests[key] = PendingRequest(
            identity=key,
            display_name=records.clean_label(display_name),
            code_hash=self._key.hash_code(code),
            nonce=nonce,
            created_at=now,
            expires_at=now + self.code_ttl,
            last_told=now,
            chat_id=chat_id[:512] if chat_id else None,
        )
        full = self._live_requests(data, ident.channel, now) >= self.max_pending_per_channel
        return wording.request(code, self.code_ttl), True, full

    def _may_answer(self, data: StoreData, ident: Identity, now: datetime) -> bool:
        key = str(ident)
        if data.profile_of(key) is not None or records.locked_until(data, key, now) is not None:
            return False
        request = data.requests.get(key)
        if request is not None and request.expires_at > now:
            return now - request.last_told >= self.limits.remind_every
        return self._live_requests(data, ident.channel, now) < self.max_pending_per_channel

    @staticmethod
    def _live_requests(data: StoreData, channel: str, now: datetime) -> int:
        prefix = f"{channel}:"
        return sum(
            1 for k, r in data.requests.items() if k.startswith(prefix) and r.expires_at > now
        )

    def redeem(self, ident: Identity, code: str) -> RedeemResult:
        """``/pair CODE`` from ``ident``: join the profile of a live invite with that code."""
        if not code.strip():
            return RedeemResult(ident, RedeemOutcome.NO_CODE, wording.usage())
        now = self._now()
        key = str(ident)
        data = self._read_or_none()
        if data is None:
            return RedeemResult(ident, RedeemOutcome.UNAVAILABLE, wording.unavailable())
        refused = self._refuse_guess(data, ident, now)
        if refused is not None:
            return refused
        raw = normalize_code(code)
        hashed = self._key.hash_code(raw) if raw is not None else None
        result = self.store.change(lambda data: self._redeem(data, ident, hashed, now))
        if result.ok:
            assert result.profile is not None
            log.info("pairing: %s redeemed an invite into profile %s", key, result.profile.name)
        return result

    def _redeem(
        self, data: StoreData, ident: Identity, hashed: str | None, now: datetime
    ) -> RedeemResult:
        """``redeem``'s change of the store (it may run again on a newer store)."""
        key = str(ident)
        self._prune(data, now)
        refused = self._refuse_guess(data, ident, now)
        if refused is not None:
            return refused
        invite = match(data.invites, hashed)
        if invite is None:
            own = match([data.requests[key]] if key in data.requests else [], hashed)
            if own is not None:
                return RedeemResult(ident, RedeemOutcome.OWN_REQUEST, wording.own_request())
            state = records.record_failure(data, key, ident.channel, self.limits, now)
            log.warning("pairing: wrong code from %s (%d so far)", key, state.failures)
            if state.locked_until is not None:
                left = state.locked_until - now
                return RedeemResult(ident, RedeemOutcome.LOCKED, wording.locked(left))
            left_tries = self.limits.max_failures - state.failures
            return RedeemResult(ident, RedeemOutcome.WRONG, wording.wrong(left_tries))
        current = data.profile_of(key)
        if current is not None:
            text = wording.already_paired(current.name)
            return RedeemResult(ident, RedeemOutcome.ALREADY_PAIRED, text, current)
        data.invites.remove(invite)
        profile = records.join(
            data, ident, now=now, name=invite.profile, role=invite.role, actors=invite.actors
        )
        return RedeemResult(ident, RedeemOutcome.LINKED, wording.linked(profile.name), profile)

    def _refuse_guess(self, data: StoreData, ident: Identity, now: datetime) -> RedeemResult | None:
        """Locked senders and saturated channels get an answer without their code being
        looked at, so neither a lockout nor a flood can be used to keep guessing."""
        until = records.locked_until(data, str(ident), now)
        if until is not None:
            return RedeemResult(ident, RedeemOutcome.LOCKED, wording.locked(until - now))
        if records.channel_saturated(data, ident.channel, self.limits, now):
            return RedeemResult(ident, RedeemOutcome.BUSY, wording.busy())
        return None

    # -- helpers -------------------------------------------------------------------

    def _read_or_none(self) -> StoreData | None:
        try:
            data = self.store.read()
        except PairingStoreError as exc:
            if str(exc) != self._last_store_error:  # once per distinct problem, not per message
                log.error("pairing: %s", exc)
                self._last_store_error = str(exc)
            return None
        self._last_store_error = ""
        return data

    def _prune(self, data: StoreData, now: datetime) -> None:
        data.prune(
            now, sender_memory=self.limits.sender_memory, channel_window=self.limits.channel_window
        )

    def _fresh_code(self, data: StoreData, key: str | None = None) -> tuple[str, str]:
        """``(nonce, code)``: a request code for ``key``, or an invite code (no nonce)
        when ``key`` is None, drawn again until it collides with no live code."""
        taken = {r.code_hash for r in data.requests.values()} | {i.code_hash for i in data.invites}
        while True:
            nonce = new_nonce() if key is not None else ""
            code = self._key.request_code(key, nonce) if key is not None else random_code()
            if self._key.hash_code(code) not in taken:
                return nonce, code


def match(entries: Iterable[_E], hashed: str | None) -> _E | None:
    """The entry whose code hash equals ``hashed``, comparing against every entry in
    constant time so the answer's timing says nothing about near misses."""
    found = None
    if hashed is None:
        return None
    for entry in entries:
        if CodeKey.same(entry.code_hash, hashed) and found is None:
            found = entry
    return found
