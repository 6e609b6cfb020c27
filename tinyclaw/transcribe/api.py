"""The OpenAI-compatible transcription endpoint: ``POST {base_url}/audio/transcriptions``.

OpenAI, Groq and the local whisper servers (faster-whisper-server, whisper.cpp's
server, LocalAI) speak the same form: a multipart upload with ``file`` and ``model``
(``language`` optional), answered with ``{"text": "..."}``. The key is read from the
environment variable the configuration names, at each call, so a key added to ``.env``
works after a restart and never sits in the config file.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tinyclaw.config import TranscriptionConfig
from tinyclaw.core.errors import TranscriptionError

_SHOWN_BODY = 200  # characters of an error body worth showing


class ApiTranscriber:
    name = "api"

    def __init__(
        self, config: TranscriptionConfig, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        self.url = endpoint(config.base_url)
        self._transport = transport

    def _headers(self) -> dict[str, str]:
        env = self.config.api_key_env
        if not env:
            return {}
        key = os.environ.get(env, "").strip()
        if not key:
            raise TranscriptionError(
                f"no API key for the transcription service: set {env} (or put it in .env)"
            )
        return {"Authorization": f"Bearer {key}"}

    def transcribe(self, audio: Path, mime: str | None) -> str:
        data = {"model": self.config.model, "response_format": "json"}
        if self.config.language:
            data["language"] = self.config.language
        headers = self._headers()
        try:
            with (
                audio.open("rb") as handle,
                httpx.Client(timeout=self.config.timeout, transport=self._transport) as client,
            ):
                files = {"file": (audio.name, handle, mime or "application/octet-stream")}
                response = client.post(self.url, data=data, files=files, headers=headers)
        except httpx.TimeoutException:
            raise TranscriptionError(
                f"the transcription service did not answer within {self.config.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise TranscriptionError(
                f"the transcription service cannot be reached ({exc})"
            ) from None
        except OSError as exc:
            raise TranscriptionError(f"the audio cannot be read ({exc.strerror})") from None
        return _text_of(response)


def endpoint(base_url: str) -> str:
    """Where the upload goes. ``base_url`` is the API root as OpenAI's clients take it
    (``https://api.openai.com/v1``, ``https://api.groq.com/openai/v1``); a bare server
    address (``http://127.0.0.1:8000``) gets the standard ``/v1``, and a full endpoint
    URL is used as it is."""
    base = base_url.rstrip("/")
    if base.endswith("/audio/transcriptions"):
        return base
    if not urlsplit(base).path:
        base += "/v1"
    return f"{base}/audio/transcriptions"


def _text_of(response: httpx.Response) -> str:
    """The transcript of a 200 answer; anything else is a TranscriptionError saying
    what the service said."""
    if response.status_code != 200:
        try:
            detail = response.json().get("error", {})
            message = detail.get("message") if isinstance(detail, dict) else str(detail)
        except (ValueError, AttributeError):
            message = response.text
        message = " ".join(str(message or "").split())[:_SHOWN_BODY]
        raise TranscriptionError(
            f"the transcription service answered {response.status_code}"
            + (f": {message}" if message else "")
        )
    try:
        body = response.json()
    except ValueError:
        raise TranscriptionError("the transcription service answered something not JSON") from None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise TranscriptionError("the transcription service's answer has no text")
    return text.strip()
