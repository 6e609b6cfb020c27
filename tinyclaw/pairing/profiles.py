"""Pure changes to the profiles of a :class:`StoreData`: joining, naming, leaving."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from tinyclaw.config import NAME_RE
from tinyclaw.core.errors import PairingError
from tinyclaw.pairing.identity import Identity
from tinyclaw.pairing.models import Profile, Role, StoreData

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
