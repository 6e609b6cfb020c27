"""What pairing knows, as values, and the pure changes to them.

Who is talking: one account on one platform, written ``channel:user_id``.

An identity is the only thing the gate trusts about a sender, so it is validated where
it is made: the channel is a lowercase name (the queue's channel rule) and the user id
is what the platform reports (a Telegram or Discord number, a WhatsApp phone number),
without whitespace or control characters. Both are plain strings: ids are compared
exactly, never as numbers, so ``"0123"`` and ``"123"`` stay two people.

The pairing store's contents as versioned, validated JSON (``pairing/store.json``).

Every field is checked on load, and so are the invariants between them (one identity
belongs to at most one profile, profile names are unique): a file that breaks any of
them is *unreadable*, and an unreadable store lets in nobody but the owners and
``allow_from`` entries of ``tinyclaw.toml``, which do not depend on it (see ``storage.py``).
``version`` is the format version; a reader refuses versions it does not know.

Entries are frozen; a transaction replaces them (``model_copy(update=...)``) through
the few methods of :class:`StoreData`, which keep the identity index in step.

What the pairing service answers: small immutable values, safe to log and pass on.

Pure changes to the profiles of a :class:`StoreData`: joining, naming, leaving.

How many wrong codes anyone gets, and what happens after.

Two counters stop guessing. Per sender: after ``max_failures`` wrong codes the sender is
locked out, 15 minutes the first time and twice as long each time after (up to a day);
while locked, codes are not even looked at, so the lockout gives no oracle. Per
channel: at most ``channel_failures`` wrong codes per ``channel_window`` from *anyone*
on that channel, because an attacker who can make up sender ids (a flood of new
accounts) would otherwise get five guesses per id. When a channel is saturated every
sender on it waits, including honest ones; that is the price of a bounded guess rate,
and the owner can always pair someone directly (``tinyclaw pair link``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    model_validator,
)

from tinyclaw.config import NAME_PATTERN, NAME_RE
from tinyclaw.core import CHANNEL_PATTERN, PairingError

_CHANNEL_RE = re.compile(CHANNEL_PATTERN)
# Printable, no whitespace, no separator that would make "channel:user" ambiguous
# to a shell user; ':' inside the user id is fine (we split at the first one).
_USER_RE = re.compile(r"^[^\s\x00-\x1f\x7f]{1,200}$")


@dataclass(frozen=True, slots=True, order=True)
class Identity:
    """``(channel, user_id)``; hashable, ordered, printed as ``channel:user_id``."""

    channel: str
    user_id: str

    def __post_init__(self) -> None:
        if not isinstance(self.channel, str) or not _CHANNEL_RE.fullmatch(self.channel):
            raise PairingError(f"{self.channel!r} is not a channel name (e.g. telegram)")
        if not isinstance(self.user_id, str) or not _USER_RE.fullmatch(self.user_id):
            raise PairingError(f"{self.user_id!r} is not a user id (no spaces, 1-200 chars)")

    @classmethod
    def parse(cls, text: str) -> Identity:
        """``"telegram:12345"`` -> ``Identity("telegram", "12345")``."""
        channel, sep, user_id = text.strip().partition(":")
        if not sep:
            raise PairingError(f"{text!r} is not an identity: write channel:user_id")
        return cls(channel, user_id)

    @classmethod
    def looks_like(cls, text: str) -> bool:
        """True when ``text`` is meant as an identity rather than a name or a code."""
        return ":" in text

    def __str__(self) -> str:
        return f"{self.channel}:{self.user_id}"


STORE_VERSION: Final = 1


def _canonical_identity(text: str) -> str:
    try:
        return str(Identity.parse(text))
    except PairingError as exc:  # pydantic reports ValueError as a validation error
        raise ValueError(str(exc)) from None


IdentityKey = Annotated[str, AfterValidator(_canonical_identity)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
HexHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Nonce = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Channel = Annotated[str, Field(pattern=CHANNEL_PATTERN)]


class Role(StrEnum):
    OWNER = "owner"
    USER = "user"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Profile(_Entry):
    """A person: their accounts on one or more platforms, their role, their actors."""

    name: Name
    role: Role = Role.USER
    actors: tuple[Name, ...] = Field(default=(), description="actors it may use; empty = all")
    identities: tuple[IdentityKey, ...] = ()
    label: Annotated[str, Field(max_length=64)] = ""
    created_at: AwareDatetime

    def may_use(self, actor: str) -> bool:
        return self.role is Role.OWNER or not self.actors or actor in self.actors


class PendingRequest(_Entry):
    """An unknown sender who asked to be let in; the owner approves with their code."""

    identity: IdentityKey
    display_name: Annotated[str, Field(max_length=64)] = ""
    code_hash: HexHash
    nonce: Nonce
    created_at: AwareDatetime
    expires_at: AwareDatetime
    last_told: AwareDatetime
    # The chat they asked from (the listener knows it): where "you're in" is sent.
    chat_id: Annotated[str, Field(max_length=512)] | None = None


class Invite(_Entry):
    """A code the owner handed out; whoever redeems it first joins ``profile``."""

    code_hash: HexHash
    profile: Name | None = None
    role: Role = Role.USER
    actors: tuple[Name, ...] = ()
    created_at: AwareDatetime
    expires_at: AwareDatetime
    created_by: Annotated[str, Field(max_length=256)] = "cli"


class SenderState(_Entry):
    """Wrong codes and lockouts of one sender (also a denied request's cool-down)."""

    failures: int = Field(default=0, ge=0)
    last_failure: AwareDatetime | None = None
    lockouts: int = Field(default=0, ge=0)
    locked_until: AwareDatetime | None = None
    reason: Literal["wrong codes", "request denied"] = "wrong codes"


class StoreData(BaseModel):
    """The whole store. Mutate only through the methods below (they keep the index)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    version: Literal[1] = STORE_VERSION
    profiles: list[Profile] = Field(default_factory=list)
    requests: dict[IdentityKey, PendingRequest] = Field(default_factory=dict)
    invites: list[Invite] = Field(default_factory=list)
    senders: dict[IdentityKey, SenderState] = Field(default_factory=dict)
    channel_failures: dict[Channel, list[AwareDatetime]] = Field(default_factory=dict)

    _by_identity: dict[str, Profile] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> StoreData:
        names: set[str] = set()
        index: dict[str, Profile] = {}
        for profile in self.profiles:
            if profile.name in names:
                raise ValueError(f"profile {profile.name!r} appears twice")
            names.add(profile.name)
            for ident in profile.identities:
                if ident in index:
                    raise ValueError(f"{ident} belongs to two profiles")
                index[ident] = profile
        for key, request in self.requests.items():
            if key != request.identity:
                raise ValueError(f"request {key} is filed under the wrong identity")
        self._by_identity = index
        return self

    # -- reading ---------------------------------------------------------------

    def profile_of(self, ident: str) -> Profile | None:
        return self._by_identity.get(ident)

    def profile_named(self, name: str) -> Profile | None:
        return next((p for p in self.profiles if p.name == name), None)

    # -- changing --------------------------------------------------------------

    def put_profile(self, profile: Profile) -> None:
        """Add or replace the profile of that name (its identities must be free)."""
        names = [p.name for p in self.profiles]
        if profile.name in names:
            self.profiles[names.index(profile.name)] = profile
        else:
            self.profiles.append(profile)
        self._rebuild()

    def drop_profile(self, name: str) -> None:
        self.profiles = [p for p in self.profiles if p.name != name]
        self._rebuild()

    def _rebuild(self) -> None:
        self._by_identity = {i: p for p in self.profiles for i in p.identities}

    def replace_with(self, other: StoreData) -> None:
        """Become a copy of ``other`` (a store copied from one place to another)."""
        self.profiles = list(other.profiles)
        self.requests = dict(other.requests)
        self.invites = list(other.invites)
        self.senders = dict(other.senders)
        self.channel_failures = {ch: list(times) for ch, times in other.channel_failures.items()}
        self._rebuild()

    def prune(self, now: datetime, *, sender_memory: timedelta, channel_window: timedelta) -> None:
        """Forget what has expired, so the file stays small whatever arrives."""
        self.requests = {k: r for k, r in self.requests.items() if r.expires_at > now}
        self.invites = [i for i in self.invites if i.expires_at > now]
        self.senders = {
            k: s
            for k, s in self.senders.items()
            if (s.locked_until is not None and s.locked_until > now)
            or (s.last_failure is not None and now - s.last_failure < sender_memory)
        }
        self.channel_failures = {
            ch: kept
            for ch, times in self.channel_failures.items()
            if (kept := [t for t in times if now - t < channel_window])
        }


class Access(StrEnum):
    """Where a sender stands.

    ``allowed``: queue their messages. ``pending``: they asked, the owner has not
    answered; drop their messages (``handle_unknown`` decides whether to remind them).
    ``unknown``: never seen; ``handle_unknown`` gives them a code. ``locked``: too many
    wrong codes, a denied request, or an unreadable store; drop quietly.
    """

    ALLOWED = "allowed"
    PENDING = "pending"
    UNKNOWN = "unknown"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer for one sender. ``reason`` is for logs, not for the sender."""

    identity: Identity
    state: Access
    profile: Profile | None = None
    owner: bool = False
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.state is Access.ALLOWED


class RedeemOutcome(StrEnum):
    LINKED = "linked"  # the invite was valid: the sender is in
    WRONG = "wrong"  # no live invite has that code; counted
    LOCKED = "locked"  # sender locked out; the code was not looked at
    BUSY = "busy"  # too many wrong codes on this channel; the code was not looked at
    ALREADY_PAIRED = "already_paired"  # valid invite, but this sender is paired; kept
    OWN_REQUEST = "own_request"  # they sent us their own request code; not counted
    NO_CODE = "no_code"  # "/pair" alone: usage, not counted as a guess
    UNAVAILABLE = "unavailable"  # the store is unreadable or busy


@dataclass(frozen=True, slots=True)
class RedeemResult:
    """The result of ``/pair CODE``; ``text`` is the reply to send to the sender."""

    identity: Identity
    outcome: RedeemOutcome
    text: str
    profile: Profile | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is RedeemOutcome.LINKED


@dataclass(frozen=True, slots=True)
class Approval:
    """An approved request: who is in now, and the notice they were (or should be) sent."""

    identity: Identity
    profile: Profile
    notice: str
    notified: bool
    chat_id: str | None = None  # where the request was made, so where the notice goes


@dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell a sender outside of any conversation (their approval).

    ``chat_id`` is the chat the sender wrote from when they asked, recorded by the
    listener: on Discord a DM channel is not the user id, so the identity alone cannot
    say where to write. None for a request recorded before chats were kept.
    """

    identity: Identity
    text: str
    chat_id: str | None = None


_NOT_NAME = re.compile(r"[^a-z0-9_-]+")


def check_name(name: str, what: str = "profile") -> str:
    if not NAME_RE.fullmatch(name):
        raise PairingError(
            f"{name!r} is not a valid {what} name: use a-z, 0-9, '-' and '_', "
            "start with a letter or digit, at most 32"
        )
    return name


def clean_label(text: str) -> str:
    """A display name from a platform, made safe to store and print: no control
    characters, single spaces, at most 64 characters."""
    kept = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    return " ".join(kept.split())[:64]


def auto_name(data: StoreData, ident: Identity) -> str:
    """A free profile name for a new person: ``telegram-12345``, ``telegram-12345-2``...

    Built from the identity, not the display name, so a stranger cannot pick a name
    that looks like someone else's profile.
    """
    base = _NOT_NAME.sub("-", f"{ident.channel}-{ident.user_id}".lower()).strip("-_")[:28]
    base = base or "user"
    taken = {p.name for p in data.profiles}
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def join(
    data: StoreData,
    ident: Identity,
    *,
    now: datetime,
    name: str | None = None,
    role: Role = Role.USER,
    actors: Sequence[str] = (),
    label: str = "",
) -> Profile:
    """Put ``ident`` into the profile ``name`` (created if missing, auto-named if None).

    An existing profile keeps its role and actors: joining it only adds an account.
    """
    key = str(ident)
    current = data.profile_of(key)
    if current is not None:
        if name is None or current.name == name:
            return current
        raise PairingError(
            f"{key} already belongs to profile {current.name}; revoke it there first"
        )
    existing = data.profile_named(name) if name is not None else None
    if existing is not None:
        profile = existing.model_copy(update={"identities": (*existing.identities, key)})
    else:
        profile = Profile(
            name=name or auto_name(data, ident),
            role=role,
            actors=tuple(actors),
            identities=(key,),
            label=clean_label(label),
            created_at=now,
        )
    data.put_profile(profile)
    data.requests.pop(key, None)
    data.senders.pop(key, None)
    return profile


def leave(data: StoreData, ident: Identity) -> Profile | None:
    """Take ``ident`` out of its profile; a profile left with no account is removed."""
    key = str(ident)
    profile = data.profile_of(key)
    if profile is None:
        return None
    rest = tuple(i for i in profile.identities if i != key)
    if rest:
        data.put_profile(profile.model_copy(update={"identities": rest}))
    else:
        data.drop_profile(profile.name)
    return profile


class PairingLimits:
    """Every rate and duration of the pairing gate, in one place."""

    max_failures: int = 5
    failure_window: timedelta = timedelta(hours=1)  # older wrong codes stop counting
    lockout: timedelta = timedelta(minutes=15)  # first lockout; doubles each time
    max_lockout: timedelta = timedelta(hours=24)
    channel_failures: int = 20
    channel_window: timedelta = timedelta(minutes=15)
    sender_memory: timedelta = timedelta(hours=24)  # a quiet sender's record is forgotten
    remind_every: timedelta = timedelta(minutes=10)  # re-show a pending code at most this often
    deny_cooldown: timedelta = timedelta(hours=24)  # a denied sender gets no new code meanwhile


def locked_until(data: StoreData, key: str, now: datetime) -> datetime | None:
    """When the sender's lockout ends, or None if they are not locked out."""
    state = data.senders.get(key)
    if state is None or state.locked_until is None or state.locked_until <= now:
        return None
    return state.locked_until


def channel_saturated(data: StoreData, channel: str, limits: PairingLimits, now: datetime) -> bool:
    times = data.channel_failures.get(channel, ())
    recent = sum(1 for t in times if now - t < limits.channel_window)
    return recent >= limits.channel_failures


def record_failure(
    data: StoreData, key: str, channel: str, limits: PairingLimits, now: datetime
) -> SenderState:
    """Count one wrong code against the sender and the channel; lock out if it is time."""
    state = data.senders.get(key, SenderState())
    failures = state.failures
    if state.last_failure is not None and now - state.last_failure >= limits.failure_window:
        failures = 0
    failures += 1
    lockouts, until = state.lockouts, None
    if failures >= limits.max_failures:
        until = now + min(limits.lockout * 2 ** min(lockouts, 16), limits.max_lockout)
        lockouts, failures = lockouts + 1, 0
    new = SenderState(failures=failures, last_failure=now, lockouts=lockouts, locked_until=until)
    data.senders[key] = new
    recent = [t for t in data.channel_failures.get(channel, ()) if now - t < limits.channel_window]
    data.channel_failures[channel] = [*recent, now]
    return new


def deny_sender(data: StoreData, key: str, limits: PairingLimits, now: datetime) -> None:
    """Keep a denied sender quiet for a while instead of issuing them a new code."""
    state = data.senders.get(key, SenderState())
    data.senders[key] = state.model_copy(
        update={"locked_until": now + limits.deny_cooldown, "reason": "request denied"}
    )
