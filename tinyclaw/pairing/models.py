"""The pairing store's contents as versioned, validated JSON (``pairing/store.json``).

Every field is checked on load, and so are the invariants between them (one identity
belongs to at most one profile, profile names are unique): a file that breaks any of
them is *unreadable*, and an unreadable store lets in nobody but the owners and
``allow_from`` entries of ``tinyclaw.toml``, which do not depend on it (see ``store.py``).
``version`` is the format version; a reader refuses versions it does not know.

Entries are frozen; a transaction replaces them (``model_copy(update=...)``) through
the few methods of :class:`StoreData`, which keep the identity index in step.
"""

from __future__ import annotations

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

from tinyclaw.config import NAME_PATTERN
from tinyclaw.core.errors import PairingError
from tinyclaw.core.messages import CHANNEL_PATTERN
from tinyclaw.pairing.identity import Identity

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
    model_config = ConfigDict(extra="forbid", frozen=True)


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

    model_config = ConfigDict(extra="forbid")

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
