"""The worker's step before a run: a message's voice notes become its text.

Why in the worker and not in the listener: a transcription takes seconds, and a
listener's intake must stay fast (it answers Telegram's long poll and Meta's webhook).
The listener queues the message with the audio attached, as for any file; the worker
transcribes it when the message comes up, in the run's thread. A crash at any point
loses nothing: until the transcript is written back into the claimed file, the message
is still the original, and recovery runs it (and this step) again.

What the actor gets: the transcript as the message text (after the caption, if any),
``meta["transcription"]`` saying it was transcribed, and the audio still attached.
When transcription fails, the text says why and the audio is attached all the same;
the user is told either way (what was heard, if the configuration asks for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyclaw.config import TranscriptionConfig
from tinyclaw.core.errors import TranscriptionError, UnsafePathError
from tinyclaw.core.fsutil import confine
from tinyclaw.core.messages import MAX_TEXT, Attachment, Inbound
from tinyclaw.transcribe.engine import Transcriber
from tinyclaw.transcribe.ogg import opus_seconds

_MB = 1024 * 1024
_SHOWN = 3000  # characters of a transcript echoed back to the user


@dataclass(frozen=True, slots=True)
class Transcribed:
    """The message to run and what to tell the user now (None: nothing)."""

    message: Inbound
    notice: str | None
    ok: bool


def _check_caps(attachment: Attachment, path: Path, config: TranscriptionConfig) -> None:
    """Size and length caps, from what the platform said (else the file itself),
    before a byte is sent anywhere."""
    size = attachment.size if attachment.size is not None else path.stat().st_size
    if size > config.max_mb * _MB:
        raise TranscriptionError(
            f"it is too large to transcribe ({size / _MB:.1f} MB; limit {config.max_mb:g} MB)"
        )
    seconds = attachment.duration
    if seconds is None:
        seconds = opus_seconds(path)
    if seconds is not None and seconds > config.max_seconds:
        raise TranscriptionError(
            f"it is too long to transcribe ({seconds:.0f} s; limit {config.max_seconds:g} s)"
        )


def _one(
    attachment: Attachment, config: TranscriptionConfig, transcriber: Transcriber, root: Path
) -> str:
    try:
        path = confine(root, attachment.path)
    except UnsafePathError:
        raise TranscriptionError("the recording is not in the queue's files") from None
    try:
        _check_caps(attachment, path, config)
    except OSError as exc:  # gone or unreadable since the listener saved it
        raise TranscriptionError(f"the recording cannot be read ({exc.strerror})") from None
    text = transcriber.transcribe(path, attachment.mime)
    if not text:
        raise TranscriptionError("no speech was recognised")
    return text


def transcribe_message(
    message: Inbound,
    config: TranscriptionConfig,
    transcriber: Transcriber,
    files_root: Path,
) -> Transcribed | None:
    """``message`` with its voice notes transcribed; None when it has none, or when
    this was done before (the claimed file was rewritten and then the worker crashed)."""
    if "transcription" in message.meta:
        return None
    audio = [a for a in message.attachments if a.kind in config.kinds]
    if not audio:
        return None
    transcripts: list[str] = []
    problems: list[str] = []
    for attachment in audio:
        try:
            transcripts.append(_one(attachment, config, transcriber, files_root))
        except TranscriptionError as exc:
            problems.append(str(exc))
    record: dict[str, Any] = {"engine": transcriber.name, "files": [a.name for a in audio]}
    if transcripts:
        heard = "\n\n".join(transcripts)
        text = "\n\n".join(part for part in (message.text, heard) if part)
        record |= {"ok": True, "text": heard[:MAX_TEXT]}
        notice = f"🎙 Heard: “{_short(heard)}”" if config.show_transcript else None
    else:
        reason = "; ".join(dict.fromkeys(problems))
        note = f"[voice note not transcribed: {reason}]"
        text = "\n".join(part for part in (message.text, note) if part)
        record |= {"ok": False, "error": reason}
        notice = (
            f"I could not transcribe your voice note: {reason}. I passed the recording on as it is."
        )
    updated = message.model_copy(
        update={"text": text[:MAX_TEXT], "meta": {**message.meta, "transcription": record}}
    )
    return Transcribed(updated, notice, bool(transcripts))


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN].rstrip() + "…"
