"""What a transcription engine offers, and which one a configuration names."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from tinyclaw.config import TranscriptionConfig


class Transcriber(Protocol):
    """Turns one audio file into text; raises TranscriptionError with a reason a user
    can read ("the transcription service did not answer within 60 s")."""

    name: str

    def transcribe(self, audio: Path, mime: str | None) -> str: ...


def build_transcriber(config: TranscriptionConfig) -> Transcriber:
    """The engine ``config.engine`` names. The local one imports faster-whisper only
    when chosen (it is an optional extra, and heavy)."""
    if config.engine == "local":
        from tinyclaw.transcribe.local import LocalTranscriber

        return LocalTranscriber(config)
    from tinyclaw.transcribe.api import ApiTranscriber

    return ApiTranscriber(config)
