"""The transcription engines and the worker's step, told from the operator's side:
what the service receives, what a user reads when it fails, and that a worker killed
mid-transcription still answers the voice note once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.channels.test_voice_notes import KEY_ENV, SPOKEN, recording, service
from tests.fakes.transcription_api import KEY, TranscriptionFake
from tests.worker.conftest import (
    fake_cli_config,
    message,
    start_worker_process,
    wait_for,
    write_config,
)
from tinyclaw.config import TranscriptionConfig, parse_config
from tinyclaw.core.errors import ConfigError, TranscriptionError
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Attachment, Inbound, Sender, load_reply
from tinyclaw.spool import Spool
from tinyclaw.transcribe import transcribe_message
from tinyclaw.transcribe.api import ApiTranscriber, endpoint
from tinyclaw.transcribe.local import LocalTranscriber, model_present
from tinyclaw.transcribe.ogg import opus_seconds

__all__ = ["recording", "service"]  # fixtures shared with the voice-note stories


def settings(fake: TranscriptionFake, **extra: object) -> TranscriptionConfig:
    return TranscriptionConfig.model_validate(
        {"base_url": fake.base_url, "api_key_env": KEY_ENV, **extra}
    )


def stored(tmp_path: Path, data: bytes, name: str = "voice_7.ogg") -> Path:
    path = tmp_path / "queue" / "files" / "m1" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def voice_message(path: Path, **attachment: object) -> Inbound:
    fields = {"path": str(path), "name": path.name, "kind": "voice", "mime": "audio/ogg"}
    return message("", channel="telegram", attachments=[Attachment(**{**fields, **attachment})])


# -- the API engine --------------------------------------------------------------------


def test_the_service_gets_a_multipart_upload_and_its_text_comes_back(
    tmp_path: Path, service: TranscriptionFake, recording: bytes
) -> None:
    service.answer(f"  {SPOKEN}  ")
    text = ApiTranscriber(settings(service, language="de", model="large-v3")).transcribe(
        stored(tmp_path, recording), "audio/ogg"
    )
    assert text == SPOKEN
    [upload] = service.uploads
    assert (upload.filename, upload.content_type, upload.data) == (
        "voice_7.ogg",
        "audio/ogg",
        recording,
    )
    assert upload.fields == {"model": "large-v3", "language": "de", "response_format": "json"}


def test_a_missing_key_is_named_not_sent(
    tmp_path: Path, service: TranscriptionFake, recording: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(TranscriptionError, match=f"set {KEY_ENV}"):
        ApiTranscriber(settings(service)).transcribe(stored(tmp_path, recording), "audio/ogg")
    assert service.uploads == []


def test_a_refused_key_and_a_silent_service_are_clear_reasons(
    tmp_path: Path, service: TranscriptionFake, recording: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    audio = stored(tmp_path, recording)
    monkeypatch.setenv(KEY_ENV, "wrong")
    with pytest.raises(TranscriptionError, match="answered 401: Incorrect API key provided"):
        ApiTranscriber(settings(service)).transcribe(audio, "audio/ogg")
    monkeypatch.setenv(KEY_ENV, KEY)
    service.stall()
    with pytest.raises(TranscriptionError, match=r"did not answer within 0\.5 s"):
        ApiTranscriber(settings(service, timeout=0.5)).transcribe(audio, "audio/ogg")


def test_a_local_server_without_a_key_gets_no_authorization_header(
    tmp_path: Path, recording: bytes
) -> None:
    with TranscriptionFake(key=None) as open_server:
        config = TranscriptionConfig(base_url=open_server.base_url, api_key_env="")
        ApiTranscriber(config).transcribe(stored(tmp_path, recording), "audio/ogg")
        assert open_server.uploads[0].authorization is None


# -- the caps and the message -----------------------------------------------------------


def test_an_opus_recording_knows_its_length_without_the_platform(
    tmp_path: Path, recording: bytes
) -> None:
    seconds = opus_seconds(stored(tmp_path, recording))
    assert seconds is not None and 1.0 < seconds < 6.0  # espeak-ng says it in ~2.6 s
    assert opus_seconds(stored(tmp_path, b"ID3 not ogg", "song.mp3")) is None


def test_caps_apply_before_anything_is_uploaded(
    tmp_path: Path, service: TranscriptionFake, recording: bytes
) -> None:
    path = stored(tmp_path, recording)
    root = tmp_path / "queue" / "files"
    engine = ApiTranscriber(settings(service))
    too_big = transcribe_message(
        voice_message(path, size=30 * 1024 * 1024), settings(service), engine, root
    )
    assert too_big is not None and not too_big.ok
    assert "too large to transcribe (30.0 MB; limit 25 MB)" in str(too_big.notice)
    # No duration from the platform (WhatsApp): the file's own length counts.
    too_long = transcribe_message(
        voice_message(path), settings(service, max_seconds=1), engine, root
    )
    assert (
        too_long is not None and "too long to transcribe (3 s; limit 1 s)" in too_long.message.text
    )
    assert service.uploads == []


def test_a_message_transcribed_before_a_crash_is_not_transcribed_again(
    tmp_path: Path, service: TranscriptionFake, recording: bytes
) -> None:
    root = tmp_path / "queue" / "files"
    engine = ApiTranscriber(settings(service))
    first = transcribe_message(
        voice_message(stored(tmp_path, recording)), settings(service), engine, root
    )
    assert first is not None and first.ok and first.message.text == "hello from the fake"
    assert transcribe_message(first.message, settings(service), engine, root) is None
    assert len(service.uploads) == 1


def test_a_worker_killed_mid_transcription_still_answers_the_voice_note_once(
    home: Home, service: TranscriptionFake, recording: bytes
) -> None:
    extra = (
        '[channels.telegram]\nallow_from = ["1001"]\n\n'
        f'[transcription]\nbase_url = "{service.base_url}"\napi_key_env = "{KEY_ENV}"\n'
    )
    write_config(home, fake_cli_config({"assistant": {}}, extra=extra, scan_interval=0.2))
    spool = Spool(home)
    inbound = message(
        "", channel="telegram", chat="1001", message_id="7", sender=Sender(id="1001", name="Al")
    )
    audio = spool.files_dir(inbound.id) / "voice_7.ogg"
    audio.parent.mkdir(parents=True)
    audio.write_bytes(recording)
    attachment = Attachment(path=str(audio), name=audio.name, kind="voice", mime="audio/ogg")
    spool.put(inbound.model_copy(update={"attachments": [attachment]}))
    service.stall()  # the first worker dies while the service is still listening
    first = start_worker_process(home, **{KEY_ENV: KEY})
    wait_for(lambda: service.uploads, what="the first upload")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(30)
    service.answer(SPOKEN)
    second = start_worker_process(home, **{KEY_ENV: KEY})
    try:
        outgoing = spool.outgoing("telegram")
        wait_for(lambda: (outgoing / f"{inbound.id}.json").exists(), what="the answer")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
    answer = load_reply((outgoing / f"{inbound.id}.json").read_bytes())
    heard = load_reply((outgoing / f"{inbound.id}.heard.json").read_bytes())
    assert SPOKEN in answer.text and str(audio) in answer.text
    assert heard.text == f"🎙 Heard: “{SPOKEN}”" and heard.kind == "notice"
    assert sorted(p.name for p in outgoing.iterdir()) == [
        f"{inbound.id}.heard.json",
        f"{inbound.id}.json",
    ]


# -- the configuration and the local engine ------------------------------------------------


def test_a_local_engine_without_a_model_folder_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"actors": {"a": {}}, "transcription": {"engine": "local"}})
    assert str(caught.value).count("\n") == 0 and "local_model" in str(caught.value)


def test_the_local_engine_transcribes_a_voice_note_when_a_model_is_on_disk(
    tmp_path: Path, recording: bytes
) -> None:
    folder = os.environ.get("TINYCLAW_WHISPER_MODEL", "")
    if not folder or not model_present(folder):
        pytest.skip(
            "no faster-whisper model on disk: set TINYCLAW_WHISPER_MODEL to a model folder "
            "(with model.bin) and pip install 'tinyclaw[whisper]' to run this test"
        )
    config = TranscriptionConfig(engine="local", local_model=folder, language="en")
    text = LocalTranscriber(config).transcribe(stored(tmp_path, recording), "audio/ogg")
    assert "plants" in text.lower()


def test_the_local_engine_names_a_missing_model_instead_of_downloading_one(
    tmp_path: Path, recording: bytes
) -> None:
    config = TranscriptionConfig(engine="local", local_model=str(tmp_path / "no-model"))
    with pytest.raises(TranscriptionError, match="no faster-whisper model in"):
        LocalTranscriber(config).transcribe(stored(tmp_path, recording), "audio/ogg")


@pytest.mark.parametrize(
    ("base_url", "url"),
    [
        ("https://api.openai.com/v1", "https://api.openai.com/v1/audio/transcriptions"),
        ("https://api.groq.com/openai/v1/", "https://api.groq.com/openai/v1/audio/transcriptions"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1/audio/transcriptions"),
        ("http://h:1/v1/audio/transcriptions", "http://h:1/v1/audio/transcriptions"),
    ],
)
def test_base_url_is_the_api_root_or_a_bare_server_address(base_url: str, url: str) -> None:
    assert endpoint(base_url) == url
