"""The local engine: faster-whisper on a model folder on disk (``tinyclaw[whisper]``).

Nothing is downloaded: the configuration names a folder holding a converted
CTranslate2 Whisper model (``model.bin``, ``config.json``, the tokenizer), and a
missing one is a clear error, not a download attempt. The model loads once per
worker process, on the first voice note, and runs on the CPU with int8 weights.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tinyclaw.config import TranscriptionConfig
from tinyclaw.core.errors import TranscriptionError

MODEL_FILE = "model.bin"


def model_present(folder: str | Path) -> bool:
    """Whether ``folder`` holds a faster-whisper model (its weights file)."""
    return (Path(folder).expanduser() / MODEL_FILE).is_file()


class LocalTranscriber:
    name = "local"

    def __init__(self, config: TranscriptionConfig) -> None:
        self.config = config
        self.folder = Path(config.local_model or "").expanduser()
        self._model: Any = None
        self._lock = threading.Lock()  # one load, and one decode at a time per model

    def _load(self) -> Any:
        if self._model is None:
            if not model_present(self.folder):
                raise TranscriptionError(
                    f"no faster-whisper model in {self.folder} (expected {MODEL_FILE} there)"
                )
            try:
                from faster_whisper import WhisperModel
            except ImportError:
                raise TranscriptionError(
                    "the local engine needs faster-whisper: pip install 'tinyclaw[whisper]'"
                ) from None
            self._model = WhisperModel(str(self.folder), device="cpu", compute_type="int8")
        return self._model

    def transcribe(self, audio: Path, mime: str | None) -> str:
        del mime  # faster-whisper decodes any container ffmpeg's libraries know
        with self._lock:
            model = self._load()
            try:
                segments, _info = model.transcribe(str(audio), language=self.config.language)
                return " ".join(segment.text.strip() for segment in segments).strip()
            except (RuntimeError, ValueError, OSError) as exc:
                raise TranscriptionError(f"the local engine failed: {exc}") from None
