"""Voice notes become text: the engines and the worker's step that uses them.

Public API::

    from tinyclaw.transcribe import Transcriber, build_transcriber, transcribe_message

    class Transcriber(Protocol):
        name: str                                      # "api" / "local"
        def transcribe(self, audio: Path, mime: str | None) -> str  # TranscriptionError

    build_transcriber(config: TranscriptionConfig) -> Transcriber
    transcribe_message(message, config, transcriber, files_root) -> Transcribed
        # the message with its transcript as text (or the reason it has none) and
        # the notice for the user; pure apart from reading the audio and the engine

``ogg.py`` reads an Ogg Opus file's duration from its last page (no decoding).
The engines (``api.py`` with httpx, ``local.py`` with faster-whisper) are imported
only when a configuration names them: a worker without ``[transcription]`` loads
neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports
from tinyclaw.transcribe.engine import Transcriber, build_transcriber
from tinyclaw.transcribe.voice import Transcribed, transcribe_message

if TYPE_CHECKING:
    from tinyclaw.transcribe.local import MODEL_FILE, model_present
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "MODEL_FILE",
    "Transcribed",
    "Transcriber",
    "build_transcriber",
    "model_present",
    "transcribe_message",
]
