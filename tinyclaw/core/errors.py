"""The one exception tree of tinyclaw.

Everything tinyclaw raises on purpose derives from :class:`TinyclawError`, so the edges
(the worker loop, the listeners, the command line) catch exactly one type, turn it into
a file in ``failed/``, a reply or one clear line, and keep running. Nothing in between
swallows ``Exception``. A CLI that fails (missing, timed out, an API error) is not an
exception: the runner returns it as a ``RunResult`` with ``ok=False``, because the
worker answers it like any other result::

    TinyclawError
    ├── ConfigError            tinyclaw.toml or an environment value is wrong
    ├── HomeError              no usable home directory
    ├── UnsafePathError        a name or path would leave its root
    ├── InvalidFileError       a file from outside that is unreadable or not JSON
    │   ├── InvalidMessageError    a queue file that is not a valid message
    │   └── InvalidJobFile         a schedule job file that is not a valid job
    ├── SpoolError             a queue operation that cannot be completed
    ├── ScheduleError          a scheduled job cannot be stored or found
    │   └── JobNotFoundError       no job with that id
    ├── ConversationError      a team conversation's state cannot be read or written
    ├── DeliveryError          a platform refused or failed a reply
    │   ├── TransientDeliveryError retry later (network, 5xx, 429)
    │   └── PermanentDeliveryError never retry (400, 403, chat gone)
    │       ├── AttachmentTooLargeError an inbound file over the size cap
    │       └── UploadTooLargeError    an outgoing file over the upload limit
    ├── TranscriptionError     a voice note could not be turned into text
    ├── LauncherError          tmux is missing or the tmux session cannot be managed
    ├── AlreadyRunningError    another worker (or listener) already serves this home
    ├── PairingError           a pairing code or store problem
    │   └── PairingStoreError      the pairing store cannot be read: nobody is let in
    ├── ChannelAuthError       a listener's platform refused its credentials
    └── BackupError            a backup cannot be written, or an archive not restored
"""

from __future__ import annotations


class TinyclawError(Exception):
    """Base of every error tinyclaw raises deliberately."""


class ConfigError(TinyclawError):
    """The configuration (tinyclaw.toml, .env, environment) is invalid."""


class HomeError(TinyclawError):
    """No usable tinyclaw home could be found or created."""


class UnsafePathError(TinyclawError):
    """A path or name from outside would escape the directory it must stay in."""


class InvalidFileError(TinyclawError):
    """A file from outside (queue, job, outbox) that is unreadable or not valid JSON."""


class InvalidMessageError(InvalidFileError):
    """A queue file that cannot be read as a message; it belongs in ``failed/``."""


class SpoolError(TinyclawError):
    """A queue operation could not be completed."""


class ScheduleError(TinyclawError):
    """A scheduled job could not be stored, read or changed."""


class JobNotFoundError(ScheduleError):
    """No job with that id exists (never was, or was removed)."""


class ConversationError(TinyclawError):
    """A team conversation's state file is unreadable or its id is invalid; the message
    that needed it is retried, then failed, rather than acted on with a guess."""


class DeliveryError(TinyclawError):
    """A reply could not be delivered to its platform."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientDeliveryError(DeliveryError):
    """Worth retrying: network trouble, a 5xx, a rate limit (``retry_after`` seconds)."""


class PermanentDeliveryError(DeliveryError):
    """Never worth retrying: the reply goes to ``failed/`` with this reason."""


class AttachmentTooLargeError(PermanentDeliveryError):
    """An inbound attachment is over ``max_attachment_mb``, found out only while
    fetching it (WhatsApp tells the size after a lookup, or not truthfully): the
    message is queued with the file listed as "skipped: too large". ``size`` is the
    real size in bytes when the platform said it."""

    def __init__(self, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.size = size


class UploadTooLargeError(PermanentDeliveryError):
    """An outgoing file is over the platform's upload limit (checked before sending, or
    the platform answered 413): the reply gets a short "not sent: too large" note in
    its place instead of failing as a whole."""


class TranscriptionError(TinyclawError):
    """A voice note could not be transcribed (service down, refused, too long, no
    speech). The message still reaches the actor, with the audio and this reason."""


class LauncherError(TinyclawError):
    """tmux is missing, or the launcher's tmux session cannot be created or found."""


class AlreadyRunningError(TinyclawError):
    """Another process already holds this role for the home (a second worker would
    requeue the first one's runs; a second listener would deliver every reply twice)."""


class PairingError(TinyclawError):
    """A pairing code was wrong, expired, used, locked out, or the store is unusable."""


class PairingStoreError(PairingError):
    """The pairing store is unreadable (corrupt JSON, unknown version, broken invariant).

    The gate fails closed on it, and nothing overwrites the file until a person fixes it.
    """


class ChannelAuthError(TinyclawError):
    """A chat platform refused the listener's token: retrying cannot help, so the
    listener exits with this one line (exit code 2) instead of a loop of tracebacks."""


class BackupError(TinyclawError):
    """A backup cannot be written, or an archive is unsafe, foreign or not restorable."""
