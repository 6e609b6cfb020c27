"""Alice sends a photo with a caption on Telegram; the model sees the photo and reads
the caption. The real listener against the fake Bot API, the real worker, and the
REAL ``claude`` and ``codex`` CLIs against their providers' loopback fakes, which
record the image the model was shown."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.channels.conftest import ALICE_ID, until
from tests.fakes.cli_fixtures import (  # noqa: F401  (fixtures: the real CLIs against loopback fakes)
    anthropic_fake,
    claude_settings,
    codex_settings,
    openai_fake,
)
from tests.fakes.images import JPEG
from tests.fakes.telegram_api import TelegramFake
from tests.worker.conftest import worker_thread
from tests.worker.test_real_clis import Stage, new_stage
from tinyclaw.core.home import Home

pytestmark = pytest.mark.cli

CAPTION = "what is in this picture?"


@pytest.fixture(params=["claude", "codex"])
def stage(request: pytest.FixtureRequest, home: Home) -> Stage:
    stage = new_stage(request, request.param)
    with home.config_file.open("a", encoding="utf-8") as config:
        config.write(f'\n[channels.telegram]\nallow_from = ["{ALICE_ID}"]\n')
    return stage


async def test_a_telegram_photo_with_a_caption_reaches_the_model_as_an_image(
    stage: Stage, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram():
        with worker_thread(stage.home):
            telegram_fake.push_message(alice, None, photo=JPEG, caption=CAPTION)
            await until(
                lambda: any(t.startswith("echo:") for t in telegram_fake.texts(ALICE_ID)),
                "the model's answer in the chat",
                timeout=90,
            )

    [first, *_] = stage.fake.model_requests()
    assert stage.fake.images(first.body) == [("image/jpeg", base64.b64encode(JPEG).decode())]
    assert CAPTION in stage.fake.user_text(first.body)  # the caption is the text
    assert len(stage.fake.model_requests()) == 1  # one answer, back in the chat
