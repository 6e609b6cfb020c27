"""How many wrong codes anyone gets, and what happens after.

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

from dataclasses import dataclass
from datetime import datetime, timedelta

from tinyclaw.pairing.models import SenderState, StoreData


@dataclass(frozen=True)
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
