"""The base layer: what every other part of tinyclaw stands on, importing nothing above.

* :mod:`~tinyclaw.core.errors` — the one exception tree;
* :mod:`~tinyclaw.core.messages` — the two message types that travel through the queue;
* :mod:`~tinyclaw.core.home` — where a home keeps its files;
* :mod:`~tinyclaw.core.fsutil` — atomic writes, unique names, confinement;
* :mod:`~tinyclaw.core.watching` — filesystem events turned into wake-ups;
* :mod:`~tinyclaw.core.events`, :mod:`~tinyclaw.core.logsetup` — the event log and
  each process's log;
* :mod:`~tinyclaw.core.instance` — one process per role per home;
* :mod:`~tinyclaw.core.live_files` — the files of live runs (steering, approvals);
* :mod:`~tinyclaw.core.redaction`, :mod:`~tinyclaw.core.display` — text made safe to
  show;
* :mod:`~tinyclaw.core.diskspace`, :mod:`~tinyclaw.core.sdnotify`,
  :mod:`~tinyclaw.core.failpoints` — disk-full state, readiness, crash points;
* :mod:`~tinyclaw.core.addressing`, :mod:`~tinyclaw.core.targets`,
  :mod:`~tinyclaw.core.durations`, :mod:`~tinyclaw.core.localtime` — the small
  parsers several layers share: ``@actor`` prefixes, ``telegram:123`` targets,
  ``1h30m`` durations, and the machine's time zone;
* :mod:`~tinyclaw.core.services` — the ``Service`` protocol the worker drives;
* :mod:`~tinyclaw.core.lazy` — how a package face imports on first use.

Every name other packages use is exported here and imported on first use, so
``from tinyclaw.core import ConfigError`` loads the errors module and nothing else.
The layering is described in ``docs/architecture.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core.lazy import lazy_exports

if TYPE_CHECKING:
    from tinyclaw.core import sdnotify
    from tinyclaw.core.addressing import extract_send_files, parse_address
    from tinyclaw.core.diskspace import DiskGuard, DiskState, describe, disk_full, read_report
    from tinyclaw.core.display import printable
    from tinyclaw.core.durations import format_duration, parse_duration
    from tinyclaw.core.errors import (
        AttachmentTooLargeError,
        BackupError,
        ChannelAuthError,
        ConfigError,
        ConversationError,
        DeliveryError,
        HomeError,
        InvalidFileError,
        InvalidMessageError,
        JobNotFoundError,
        LauncherError,
        PairingError,
        PairingStoreError,
        PermanentDeliveryError,
        ScheduleError,
        SpoolError,
        SpoolUnavailableError,
        TinyclawError,
        TranscriptionError,
        TransientDeliveryError,
        UnsafePathError,
        UploadTooLargeError,
    )
    from tinyclaw.core.events import EventLog, rotated_path
    from tinyclaw.core.failpoints import failpoint
    from tinyclaw.core.fsutil import (
        atomic_write,
        confine,
        fsync_dir,
        is_transient,
        read_foreign,
        read_json_object,
        read_regular,
        sanitize_name,
        unique_name,
        write_tmp,
    )
    from tinyclaw.core.home import CONFIG_NAME, ENV_VAR, Home, find_home, user_home
    from tinyclaw.core.instance import (
        InstanceLock,
        listener_lock_path,
        lock_holder,
        worker_lock_path,
    )
    from tinyclaw.core.live_files import (
        ANSWER_SUFFIX,
        ANSWER_WORDS,
        SteerLine,
        answer_approval,
        approvals_box,
        clear_approvals,
        drop_approval,
        note_conversation,
        note_conversations,
        pending_approvals,
        pending_steers,
        put_approval,
        put_steer,
        read_answer,
        read_steer,
        recent_conversations,
        restore_taken_steers,
        safe_key,
        take_steer,
    )
    from tinyclaw.core.localtime import local_zone
    from tinyclaw.core.logsetup import setup_logging
    from tinyclaw.core.messages import (
        CHANNEL_PATTERN,
        ID_PATTERN,
        MAX_FILE_BYTES,
        MAX_TEXT,
        Attachment,
        Handoff,
        Inbound,
        InboundKind,
        Quote,
        Reply,
        Sender,
        dump,
        load_inbound,
        load_reply,
    )
    from tinyclaw.core.redaction import (
        FINGERPRINTS_ENV,
        MIN_SECRET_LENGTH,
        Redactor,
        fingerprint,
        parse_fingerprints,
    )
    from tinyclaw.core.sdnotify import READY_FILE_ENV, touch_ready
    from tinyclaw.core.services import Service
    from tinyclaw.core.targets import CHANNELS, Target, parse_target
    from tinyclaw.core.watching import Watcher
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "ANSWER_SUFFIX",
    "ANSWER_WORDS",
    "CHANNELS",
    "CHANNEL_PATTERN",
    "CONFIG_NAME",
    "ENV_VAR",
    "FINGERPRINTS_ENV",
    "ID_PATTERN",
    "MAX_FILE_BYTES",
    "MAX_TEXT",
    "MIN_SECRET_LENGTH",
    "READY_FILE_ENV",
    "Attachment",
    "AttachmentTooLargeError",
    "BackupError",
    "ChannelAuthError",
    "ConfigError",
    "ConversationError",
    "DeliveryError",
    "DiskGuard",
    "DiskState",
    "EventLog",
    "Handoff",
    "Home",
    "HomeError",
    "Inbound",
    "InboundKind",
    "InstanceLock",
    "InvalidFileError",
    "InvalidMessageError",
    "JobNotFoundError",
    "LauncherError",
    "PairingError",
    "PairingStoreError",
    "PermanentDeliveryError",
    "Quote",
    "Redactor",
    "Reply",
    "ScheduleError",
    "Sender",
    "Service",
    "SpoolError",
    "SpoolUnavailableError",
    "SteerLine",
    "Target",
    "TinyclawError",
    "TranscriptionError",
    "TransientDeliveryError",
    "UnsafePathError",
    "UploadTooLargeError",
    "Watcher",
    "answer_approval",
    "approvals_box",
    "atomic_write",
    "clear_approvals",
    "confine",
    "describe",
    "disk_full",
    "drop_approval",
    "dump",
    "extract_send_files",
    "failpoint",
    "find_home",
    "fingerprint",
    "format_duration",
    "fsync_dir",
    "is_transient",
    "lazy_exports",
    "listener_lock_path",
    "load_inbound",
    "load_reply",
    "local_zone",
    "lock_holder",
    "note_conversation",
    "note_conversations",
    "parse_address",
    "parse_duration",
    "parse_fingerprints",
    "parse_target",
    "pending_approvals",
    "pending_steers",
    "printable",
    "put_approval",
    "put_steer",
    "read_answer",
    "read_foreign",
    "read_json_object",
    "read_regular",
    "read_report",
    "read_steer",
    "recent_conversations",
    "restore_taken_steers",
    "rotated_path",
    "safe_key",
    "sanitize_name",
    "sdnotify",
    "setup_logging",
    "take_steer",
    "touch_ready",
    "unique_name",
    "user_home",
    "worker_lock_path",
    "write_tmp",
]
