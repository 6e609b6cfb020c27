"""Alice sends a voice note; the actor reads what she said. Real OGG/Opus recordings
(espeak-ng + opusenc), the real listener against its platform fake, the real worker
running ``scripts/fake-cli`` (it answers ``echo: <prompt>``), and the transcription
service's loopback fake, which checks the multipart upload."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.channels.conftest import ALICE_ID, until
from tests.channels.test_whatsapp import ALICE, listening
from tests.fakes.telegram_api import TelegramFake
from tests.fakes.transcription_api import KEY, TranscriptionFake, voice_note
from tests.fakes.whatsapp_api import WhatsAppFake, async_wait_for
from tests.worker.conftest import fake_cli_config, worker_thread, write_config
from tinyclaw.core.home import Home

SPOKEN = "please remind me to water the plants tomorrow"
KEY_ENV = "TINYCLAW_TEST_TRANSCRIBE_KEY"


@pytest.fixture(scope="module")
def recording() -> bytes:
    return voice_note(SPOKEN)


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[TranscriptionFake]:
    monkeypatch.setenv(KEY_ENV, KEY)
    with TranscriptionFake() as fake:
        yield fake


def configure(home: Home, service: TranscriptionFake, **settings: Any) -> None:
    """One actor on the fake CLI, Alice allowed on both platforms, and the
    ``[transcription]`` section pointing at the fake service."""
    options = {
        "base_url": f'"{service.base_url}"',
        "model": '"whisper-1"',
        "api_key_env": f'"{KEY_ENV}"',
        "language": '"en"',
        "timeout": "5",
        **{key: str(value).lower() if isinstance(value, bool) else str(value)
           for key, value in settings.items()},
    }  # fmt: skip
    extra = f"""
[channels.telegram]
allow_from = ["{ALICE_ID}"]

[channels.whatsapp]
allow_from = ["{ALICE}"]

[transcription]
""" + "\n".join(f"{key} = {value}" for key, value in options.items())
    write_config(home, fake_cli_config({"assistant": {}}, extra=extra, scan_interval=0.2))


def echo_of(texts: list[str]) -> str:
    return next((t for t in texts if t.startswith("echo:")), "")


async def test_a_telegram_voice_note_reaches_the_actor_as_text_with_the_audio_attached(
    home: Home,
    telegram_fake: TelegramFake,
    run_telegram: Any,
    service: TranscriptionFake,
    recording: bytes,
) -> None:
    configure(home, service)
    service.answer(SPOKEN)
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram():
        with worker_thread(home):
            telegram_fake.push_message(alice, None, voice=recording)
            await until(lambda: echo_of(telegram_fake.texts(ALICE_ID)), "the actor's answer")
    heard, answer = telegram_fake.texts(ALICE_ID)
    assert heard == f"🎙 Heard: “{SPOKEN}”"  # before the answer
    assert "[A voice message, transcribed automatically; the recording is attached]" in answer
    assert SPOKEN in answer and ".ogg (voice, audio/ogg" in answer
    [upload] = service.uploads
    assert upload.data == recording and upload.filename.endswith(".ogg")
    assert upload.content_type == "audio/ogg"
    assert upload.fields["model"] == "whisper-1" and upload.fields["language"] == "en"
    assert upload.authorization == f"Bearer {KEY}"


async def test_a_failed_transcription_is_explained_and_the_audio_still_reaches_the_actor(
    home: Home,
    telegram_fake: TelegramFake,
    run_telegram: Any,
    service: TranscriptionFake,
    recording: bytes,
) -> None:
    configure(home, service)
    service.fail(503, "the service is down")
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram():
        with worker_thread(home):
            telegram_fake.push_message(alice, "listen to this", voice=recording)
            await until(lambda: echo_of(telegram_fake.texts(ALICE_ID)), "the actor's answer")
    notice, answer = telegram_fake.texts(ALICE_ID)
    assert notice == (
        "I could not transcribe your voice note: the transcription service answered 503: "
        "the service is down. I passed the recording on as it is."
    )
    assert "listen to this" in answer and ".ogg (voice, audio/ogg" in answer
    assert "[voice note not transcribed: the transcription service answered 503" in answer


async def test_a_voice_note_over_the_length_cap_is_never_uploaded(
    home: Home,
    telegram_fake: TelegramFake,
    run_telegram: Any,
    service: TranscriptionFake,
    recording: bytes,
) -> None:
    configure(home, service, max_seconds=60)
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram():
        with worker_thread(home):
            telegram_fake.push_message(alice, None, voice=recording, voice_seconds=900)
            await until(lambda: echo_of(telegram_fake.texts(ALICE_ID)), "the actor's answer")
    notice, _answer = telegram_fake.texts(ALICE_ID)
    assert "too long to transcribe (900 s; limit 60 s)" in notice
    assert service.uploads == []


async def test_the_transcript_is_not_echoed_when_the_configuration_says_so(
    home: Home,
    telegram_fake: TelegramFake,
    run_telegram: Any,
    service: TranscriptionFake,
    recording: bytes,
) -> None:
    configure(home, service, show_transcript=False)
    service.answer(SPOKEN)
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram():
        with worker_thread(home):
            telegram_fake.push_message(alice, None, voice=recording)
            await until(lambda: echo_of(telegram_fake.texts(ALICE_ID)), "the actor's answer")
    [answer] = telegram_fake.texts(ALICE_ID)
    assert SPOKEN in answer


async def test_a_whatsapp_audio_message_is_transcribed_too(
    home: Home, service: TranscriptionFake, recording: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(home, service)
    service.answer(SPOKEN)
    with WhatsAppFake() as fake:
        monkeypatch.setenv("WHATSAPP_TOKEN", fake.token)
        monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "verify-me")
        monkeypatch.setenv("WHATSAPP_APP_SECRET", "app-secret-for-tests")
        media = fake.add_media(recording, "audio/ogg; codecs=opus")
        async with listening(home, fake) as (_channel, meta):
            with worker_thread(home):
                update = meta.media(
                    "audio", media, "audio/ogg; codecs=opus", voice=True, wa_id=ALICE
                )
                assert (await meta.apost(update)).status_code == 200
                await async_wait_for(lambda: bool(echo_of(fake.texts)), what="the answer")
        heard, answer = fake.texts
    assert heard == f"🎙 Heard: “{SPOKEN}”"
    assert SPOKEN in answer and "(voice, audio/ogg" in answer
    [upload] = service.uploads
    assert upload.data == recording and upload.content_type == "audio/ogg"
