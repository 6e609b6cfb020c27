"""A photo reaches the model as an image, through the real worker and the REAL CLIs.

A listener stores a photo under ``queue/files/<id>/`` and lists it on the message;
the worker shows it to the model: claude (live) gets an ``image`` content block on
stdin, codex (live) a ``localImage`` item of ``turn/start`` and ``codex exec`` an
``--image``; each CLI then sends it to the provider's loopback fake, which records
what the model would have seen: the image's media type and its exact bytes.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.fakes.images import GIF, JPEG, WEBP, png, png_noise
from tests.worker.conftest import reply_for
from tests.worker.test_real_clis import Stage, new_stage
from tinyclaw.core.messages import Inbound
from tinyclaw.runners.images import MAX_IMAGE_BYTES
from tinyclaw.spool import Spool
from tinyclaw.worker.prompt import NO_CAPTION

pytestmark = pytest.mark.cli


@pytest.fixture(params=["claude", "codex"])
def stage(request: pytest.FixtureRequest) -> Stage:
    stage: Stage = request.getfixturevalue("stage_" + request.param)
    return stage


@pytest.fixture
def stage_claude(request: pytest.FixtureRequest) -> Stage:
    return new_stage(request, "claude")


@pytest.fixture
def stage_codex(request: pytest.FixtureRequest) -> Stage:
    return new_stage(request, "codex")


def one_shot(stage: Stage) -> None:
    """The runner's ``live = false``: ``claude -p`` / ``codex exec``."""
    config = stage.home.config_file
    section = f"[runners.{stage.kind}]\n"
    config.write_text(config.read_text().replace(section, section + "live = false\n"))


def send_files(
    stage: Stage, text: str, *files: tuple[str, bytes, str, str], timeout: float = 90.0
) -> tuple[Inbound, list[Path]]:
    """A message with ``files`` (name, bytes, kind, mime) stored where a listener puts
    them; returns it once answered, and the stored paths."""
    spool = Spool(stage.home)
    ident = f"photo-{len(stage.sent)}-{stage.kind}"
    paths: list[Path] = []
    attachments = []
    for name, data, kind, mime in files:
        path = spool.files_root / ident / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
        attachments.append(
            {"path": str(path), "name": name, "kind": kind, "mime": mime, "size": len(data)}
        )
    sent = stage.send(text, id=ident, attachments=attachments)
    reply_for(stage.home, sent, timeout)
    return sent, paths


def seen_images(stage: Stage) -> list[tuple[str, str]]:
    """The images in the first request the CLI made to the model."""
    first = stage.fake.model_requests()[0]
    return stage.fake.images(first.body)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_a_photo_with_a_caption_reaches_the_model_as_an_image_and_the_caption_as_text(
    stage: Stage,
) -> None:
    picture = png(2, 2)
    with stage.serving():
        send_files(stage, "what colour is this?", ("photo_7.jpg", picture, "photo", "image/jpeg"))

    # Telegram labels every photo image/jpeg: the bytes say PNG, and the model is told so.
    assert seen_images(stage) == [("image/png", b64(picture))]
    assert "what colour is this?" in stage.fake.user_text(stage.fake.model_requests()[0].body)
    assert "photo_7.jpg (photo, image/jpeg" in stage.resent()  # the path is still there


@pytest.mark.parametrize(
    ("name", "data", "media_type"),
    [
        ("red.jpg", JPEG, "image/jpeg"),
        ("dot.gif", GIF, "image/gif"),
        ("red.webp", WEBP, "image/webp"),
    ],
)
def test_jpeg_gif_and_webp_files_are_shown_with_their_type(
    stage: Stage, name: str, data: bytes, media_type: str
) -> None:
    with stage.serving():
        send_files(stage, "and this one?", (name, data, "document", media_type))

    if stage.kind == "codex" and media_type == "image/gif":
        [(seen, _)] = seen_images(stage)  # codex converts a GIF to PNG itself
        assert seen == "image/png"
    else:
        assert seen_images(stage) == [(media_type, b64(data))]


def test_a_photo_without_a_caption_gets_a_neutral_text(stage: Stage) -> None:
    with stage.serving():
        send_files(stage, "", ("photo_8.jpg", png(), "photo", "image/jpeg"))

    assert len(seen_images(stage)) == 1
    assert NO_CAPTION in stage.fake.user_text(stage.fake.model_requests()[0].body)


def test_files_that_are_not_images_the_apis_take_stay_paths(stage: Stage) -> None:
    heic = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64
    too_big = png() + b"\x00" * (MAX_IMAGE_BYTES + 1)
    with stage.serving():
        send_files(
            stage,
            "look at these",
            ("IMG_1.heic", heic, "photo", "image/heic"),
            ("fake.png", b"not a png at all", "document", "image/png"),
            ("huge.png", too_big, "document", "image/png"),
            ("notes.png", png(), "document", "text/plain"),  # not sent as an image
        )

    assert seen_images(stage) == []
    body = stage.resent()
    for name in ("IMG_1.heic", "fake.png", "huge.png", "notes.png"):
        assert name in body  # each listed by its path, as before


def test_one_shot_codex_exec_gets_the_image_too(stage_codex: Stage) -> None:
    stage = stage_codex
    one_shot(stage)
    picture = png(3, 1)
    with stage.serving():
        send_files(stage, "describe it", ("photo_9.jpg", picture, "photo", "image/jpeg"))

    assert seen_images(stage) == [("image/png", b64(picture))]
    assert "describe it" in stage.fake.user_text(stage.fake.model_requests()[0].body)


def test_one_shot_claude_cannot_take_an_image_and_gets_its_path(stage_claude: Stage) -> None:
    stage = stage_claude
    one_shot(stage)
    with stage.serving():
        _, [path] = send_files(stage, "describe it", ("photo_9.jpg", png(), "photo", "image/jpeg"))

    assert seen_images(stage) == []  # `claude -p` has no way to attach one
    assert str(path) in stage.resent()


def test_an_image_just_under_the_cap_still_reaches_the_model(stage: Stage) -> None:
    side = 1100  # 1100 × 1100 RGB of noise: about 3.6 MB, barely compressible
    noise = png_noise(side)
    assert len(noise) <= MAX_IMAGE_BYTES
    with stage.serving():
        send_files(stage, "so big", ("big.png", noise, "document", "image/png"), timeout=120)

    [(media_type, data)] = seen_images(stage)  # a CLI may scale it down on the way
    assert media_type in ("image/png", "image/jpeg", "image/webp") and data
