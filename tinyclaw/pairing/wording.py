"""Everything the pairing gate says to a sender, in one place so it reads as one voice.

The sender is a stranger until paired: the texts say what to do next and nothing about
the owner, the actors or why a code was refused beyond what the sender needs.
"""

from __future__ import annotations

from datetime import timedelta

from tinyclaw.pairing.codes import format_code


def in_words(delta: timedelta) -> str:
    """A duration as a sentence says it, never rounded up: ``1 second``, ``1 minute
    30 seconds``, ``2 hours 5 minutes``, ``3 days``. Seconds show below an hour, minutes
    below two days (``schedule.durations.format_duration`` gives the config spelling)."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return _plural(seconds, "second")
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return _plural(minutes, "minute") + (f" {_plural(rest, 'second')}" if rest else "")
    hours, rest = divmod(seconds // 60, 60)
    if hours < 48:
        return _plural(hours, "hour") + (f" {_plural(rest, 'minute')}" if rest else "")
    days, rest_hours = divmod(hours, 24)
    return _plural(days, "day") + (f" {_plural(rest_hours, 'hour')}" if rest_hours else "")


def ago(delta: timedelta) -> str:
    """How long ago something happened, as a person says it: rounded *down*, so a
    request made two seconds before is ``just now``, not ``1 minute ago``
    (``in_words`` rounds up, which is right for the time something has left)."""
    seconds = int(delta.total_seconds())
    if seconds < 10:
        return "just now"  # also a clock a little behind the one that wrote the time
    if seconds < 60:
        return f"{seconds} seconds ago"
    minutes = seconds // 60
    if minutes < 60:
        return f"{_plural(minutes, 'minute')} ago"
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        return f"{_plural(hours // 24, 'day')} ago"
    return _plural(hours, "hour") + (f" {_plural(rest, 'minute')}" if rest else "") + " ago"


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def request(code: str, ttl: timedelta) -> str:
    shown = format_code(code)
    return (
        "Hi! This assistant only talks to people its owner has approved.\n"
        f"Your pairing code is {shown} (valid for {in_words(ttl)}). Send it to "
        f"the owner, who approves it with: tinyclaw pair approve {shown}\n"
        "If the owner gave you an invite code, send /pair followed by that code instead."
    )


def reminder(code: str, left: timedelta) -> str:
    return (
        f"Your request is still waiting for the owner. Your pairing code is "
        f"{format_code(code)} (valid for another {in_words(left)})."
    )


def approved(profile: str) -> str:
    return f"You're in: the owner approved your request (profile {profile}). Write away!"


def linked(profile: str) -> str:
    return f"Paired: this account now belongs to profile {profile}. Write away!"


def wrong(left: int) -> str:
    more = f" {left} more wrong code(s) and you are locked out for a while." if left else ""
    return f"That code is not valid (wrong, expired or already used).{more}"


def locked(left: timedelta) -> str:
    return f"Too many wrong codes. Try again in {in_words(left)}."


def busy() -> str:
    return "Too many pairing attempts right now. Try again in a few minutes."


def already_paired(profile: str) -> str:
    return (
        f"This account is already paired (profile {profile}); the invite was not used. "
        "Ask the owner if you meant to join another profile."
    )


def own_request() -> str:
    return "That is your own request code: send it to the owner, not to me."


def usage() -> str:
    return "Send /pair followed by the invite code the owner gave you, e.g. /pair KQ7M-T4XA."


def unavailable() -> str:
    return "Pairing is not available right now. Please tell the owner."
