"""A worker node on NATS rewrites the message it runs as the worker on files does: a
voice note's transcript is kept with its claim (a node killed after transcribing
neither transcribes again nor tells the user twice), and a CLI killed from outside
gets its one free retry."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.channels.test_voice_notes import KEY_ENV, SPOKEN, recording, service
from tests.fakes.transcription_api import KEY, TranscriptionFake
from tests.spool.nats_backend import NatsHome
from tests.support.messages import message
from tests.support.waiting import wait_for
from tests.support.worker import start_worker_process, worker_process
from tests.worker.test_nats_worker import answered, node_home
from tinyclaw.core.messages import Attachment, Sender

__all__ = ["recording", "service"]  # the voice-note fixtures


def test_a_voice_note_on_nats_is_transcribed_once_and_answered_after_a_node_is_killed(
    tmp_path: Path, nats_home: NatsHome, service: TranscriptionFake, recording: bytes
) -> None:
    mark = tmp_path / "box-a" / "actors" / "assistant" / "workspace" / "running"
    slow_once = {"FAKE_CLI_SLEEP": "120", "FAKE_CLI_SLEEP_ONCE": "1", "FAKE_CLI_MARK": str(mark)}
    transcription = (
        '\n[channels.telegram]\nallow_from = ["1001"]\n\n'
        f'[transcription]\nbase_url = "{service.base_url}"\napi_key_env = "{KEY_ENV}"\n'
    )
    home = node_home(tmp_path / "box-a", nats_home, env=slow_once, extra=transcription)
    spool = nats_home.open()
    note = message(
        "@assistant", channel="telegram", chat="1001", sender=Sender(id="1001", name="Al")
    )
    locator = spool.save_attachment(note.id, "voice_7.ogg", recording)
    voice = Attachment(path=locator, name="voice_7.ogg", kind="voice", mime="audio/ogg")
    service.answer(SPOKEN)
    spool.put(note.model_copy(update={"attachments": [voice]}))

    killed = start_worker_process(home, node="box-a", **{KEY_ENV: KEY})
    try:
        wait_for(mark.exists, what="the CLI running on the transcript")
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(30)
        killed.stderr.close()  # type: ignore[union-attr]
    [heard] = answered(spool, "telegram")  # told once what was heard, before the run
    assert heard.text == f"🎙 Heard: “{SPOKEN}”" and heard.kind == "notice"

    with worker_process(home, node="box-a", **{KEY_ENV: KEY}):
        replies = wait_for(
            lambda: [r for r in answered(spool, "telegram") if r.id == note.id],
            what="the answer after the restart",
        )
    assert SPOKEN in replies[0].text and "voice_7.ogg" in replies[0].text
    assert sorted(r.id for r in answered(spool, "telegram")) == sorted([note.id, heard.id])
    assert len(service.uploads) == 1  # the transcript came back with the claim
    assert list(spool.pending("assistant")) == []


def test_a_cli_killed_from_outside_on_a_nats_node_is_run_once_more(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    mark = tmp_path / "box-a" / "actors" / "assistant" / "workspace" / "running"
    slow_once = {"FAKE_CLI_SLEEP": "120", "FAKE_CLI_SLEEP_ONCE": "1", "FAKE_CLI_MARK": str(mark)}
    home = node_home(tmp_path / "box-a", nats_home, env=slow_once)
    spool = nats_home.open()
    asked = message("@assistant interrupted once")
    with worker_process(home, node="box-a"):
        spool.put(asked)
        wait_for(mark.exists, what="the CLI running")
        [group] = home.runs.iterdir()  # the CLI's process group, as the worker keeps it
        os.kill(int(group.name), signal.SIGKILL)  # as the OOM killer would
        [reply] = wait_for(lambda: answered(spool), what="the answer of the second run")
    assert reply.kind == "reply" and reply.text == "echo: interrupted once"
    log = (home.logs / "worker.log").read_text(encoding="utf-8")
    assert "was killed" in log and "trying once more (attempt 2 of" in log
    assert answered(spool) == [reply]
