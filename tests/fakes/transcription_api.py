"""A loopback fake of an OpenAI-compatible transcription service, and real voice notes.

``POST /v1/audio/transcriptions`` takes the multipart form OpenAI documents (``file``
with a filename and bytes, ``model``, optional ``language`` and ``response_format``)
and checks it as the service would: a missing part is a 400, a wrong bearer token a
401, a file that is not audio a 400. It cannot hear, so it answers with the text a
test scripted for the upload (or ``default_text``); ``fail(status)`` and ``stall()``
script errors and time-outs. Every upload is recorded, bytes included.

:func:`voice_note` makes a real Ogg Opus voice note of spoken words with Debian's
``espeak-ng`` and ``opusenc`` (opus-tools), as a phone records one.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

KEY = "sk-test-transcription-key"


@dataclass(frozen=True)
class Upload:
    """One transcription request as the fake saw it."""

    filename: str
    content_type: str
    data: bytes
    fields: dict[str, str]
    authorization: str | None


class TranscriptionFake:
    """``with TranscriptionFake() as fake:`` serves on 127.0.0.1, an ephemeral port."""

    def __init__(self, *, key: str | None = KEY, default_text: str = "hello from the fake") -> None:
        self.key = key
        self.default_text = default_text
        self.uploads: list[Upload] = []
        self._script: deque[tuple[int, str] | None] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._release = asyncio.Event()
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------

    def __enter__(self) -> TranscriptionFake:
        self._thread = threading.Thread(target=self._run, daemon=True, name="transcription-fake")
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._release = asyncio.Event()
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        self._release.set()
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """What ``[transcription] base_url`` is set to."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting -----------------------------------------------------------------

    def answer(self, text: str) -> None:
        """The next upload is heard as ``text``."""
        with self._lock:
            self._script.append((200, text))

    def fail(self, status: int, message: str = "the service is down") -> None:
        with self._lock:
            self._script.append((status, message))

    def stall(self) -> None:
        """The next upload gets no answer until the fake stops (a client time-out)."""
        with self._lock:
            self._script.append(None)

    # -- the endpoint ----------------------------------------------------------------

    @staticmethod
    def _error(status: int, message: str) -> web.Response:
        return web.json_response(
            {"error": {"message": message, "type": "invalid_request_error"}}, status=status
        )

    async def _transcribe(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization")
        if self.key is not None and authorization != f"Bearer {self.key}":
            return self._error(401, "Incorrect API key provided")
        if request.content_type != "multipart/form-data":
            return self._error(400, "expected a multipart/form-data upload")
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField) or not upload.filename:
            return self._error(400, "'file' must be a file with a filename")
        data = upload.file.read()
        fields = {k: str(v) for k, v in form.items() if not isinstance(v, web.FileField)}
        if not fields.get("model"):
            return self._error(400, "'model' is required")
        if not data.startswith((b"OggS", b"RIFF", b"ID3", b"\xff\xfb", b"fLaC")):
            return self._error(400, "Invalid file format: not audio")
        with self._lock:
            self.uploads.append(
                Upload(upload.filename, upload.content_type, data, fields, authorization)
            )
            scripted = self._script.popleft() if self._script else (200, self.default_text)
        if scripted is None:
            await self._release.wait()
            return self._error(504, "stalled")
        status, text = scripted
        if status != 200:
            return self._error(status, text)
        return web.json_response({"text": text})


def voice_note(words: str, folder: Path | None = None) -> bytes:
    """``words`` spoken by espeak-ng, encoded as Ogg Opus (a phone's voice note)."""
    for tool, package in (("espeak-ng", "espeak-ng"), ("opusenc", "opus-tools")):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing: apt-get install {package}")
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        wav, ogg = Path(tmp) / "speech.wav", Path(tmp) / "voice.ogg"
        subprocess.run(["espeak-ng", "-w", str(wav), words], check=True, capture_output=True)
        subprocess.run(
            ["opusenc", "--quiet", "--bitrate", "24", str(wav), str(ogg)],
            check=True,
            capture_output=True,
        )
        return ogg.read_bytes()


__all__ = ["KEY", "TranscriptionFake", "Upload", "voice_note"]
