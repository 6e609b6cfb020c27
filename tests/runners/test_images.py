"""Which files the model is shown as images, and how each CLI is handed them: the
type comes from the bytes, the caps hold, and anything else stays a path."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

from tests.fakes.images import GIF, JPEG, WEBP, png
from tests.runners.test_argv import request
from tinyclaw.config import RunnerSettings
from tinyclaw.core.messages import Attachment, Inbound, Sender
from tinyclaw.runners import build_codex_argv
from tinyclaw.runners.claude_live import user_line
from tinyclaw.runners.codex_live import _turn_input
from tinyclaw.runners.images import MAX_IMAGE_BYTES, MAX_IMAGES, load_images, media_type, sniff
from tinyclaw.worker.prompt import NO_CAPTION, build_prompt, shown_images


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def photo_message(*paths: Path, text: str = "look", mime: str = "image/jpeg") -> Inbound:
    return Inbound(
        id="m1",
        channel="telegram",
        chat_id="1",
        sender=Sender(id="7", name="Ann"),
        text=text,
        attachments=[Attachment(path=str(p), name=p.name, kind="photo", mime=mime) for p in paths],
    )


def test_the_four_types_the_apis_take_are_read_from_the_bytes() -> None:
    assert media_type(png()) == "image/png"
    assert media_type(JPEG) == "image/jpeg"
    assert media_type(GIF) == "image/gif"
    assert media_type(WEBP) == "image/webp"
    for other in (b"\x00\x00\x00\x18ftypheic", b"<svg xmlns=", b"%PDF-1.7", b"", b"RIFF1234WAVE"):
        assert media_type(other) is None


def test_an_image_over_the_cap_an_empty_file_and_a_fifo_are_not_shown(tmp_path: Path) -> None:
    at_cap = write(tmp_path / "at.png", png() + b"\x00" * (MAX_IMAGE_BYTES - len(png())))
    over = write(tmp_path / "over.png", png() + b"\x00" * (MAX_IMAGE_BYTES - len(png()) + 1))
    empty = write(tmp_path / "empty.png", b"")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert sniff(at_cap) == "image/png"
    assert sniff(over) is None and sniff(empty) is None
    done = threading.Event()
    reader = threading.Thread(
        target=lambda: (sniff(fifo), load_images((fifo,)), done.set()), daemon=True
    )
    reader.start()
    assert done.wait(5), "reading a FIFO must not block the run"
    assert load_images((fifo,)) == []


def test_a_symlink_swapped_in_after_the_check_is_not_read(tmp_path: Path) -> None:
    secret = write(tmp_path / "elsewhere" / "key.png", png())
    link = tmp_path / "files" / "m1" / "photo.png"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    assert load_images((link,)) == []


def test_the_worker_shows_images_from_their_bytes_and_keeps_every_path(tmp_path: Path) -> None:
    real = write(tmp_path / "m1" / "photo_1.jpg", png())  # Telegram says jpeg: it is a PNG
    heic = write(tmp_path / "m1" / "IMG_2.heic", b"\x00\x00\x00\x18ftypheic")
    message = photo_message(real, heic)
    assert shown_images(message) == (real,)
    prompt = build_prompt(message, message.text)
    assert str(real) in prompt and str(heic) in prompt


def test_no_more_than_the_cap_of_images_per_message(tmp_path: Path) -> None:
    paths = [write(tmp_path / f"p{i}.png", png()) for i in range(MAX_IMAGES + 2)]
    assert shown_images(photo_message(*paths)) == tuple(paths[:MAX_IMAGES])


def test_a_photo_without_a_caption_gets_a_neutral_text(tmp_path: Path) -> None:
    message = photo_message(write(tmp_path / "p.png", png()), text="")
    assert NO_CAPTION in build_prompt(message, "")
    document = message.model_copy(update={"attachments": []})
    assert NO_CAPTION not in build_prompt(document, "")


def test_claude_gets_image_blocks_before_the_text(tmp_path: Path) -> None:
    images = load_images((write(tmp_path / "a.jpg", JPEG), write(tmp_path / "b.png", png())))
    line = user_line("what is this?", images)
    assert line["message"]["content"] == [
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/jpeg",
                "data": base64.b64encode(JPEG).decode(),
            },
        },
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": base64.b64encode(png()).decode(),
            },
        },
        {"type": "text", "text": "what is this?"},
    ]
    assert user_line("just text")["message"]["content"] == "just text"


def test_codex_app_server_gets_local_image_items(tmp_path: Path) -> None:
    picture = write(tmp_path / "a.png", png())
    not_one = write(tmp_path / "b.png", b"text")
    assert _turn_input("hi", (picture, not_one)) == [
        {"type": "localImage", "path": str(picture)},
        {"type": "text", "text": "hi", "text_elements": []},
    ]


def test_codex_exec_gets_one_image_flag_per_image_before_the_prompt(tmp_path: Path) -> None:
    picture = write(tmp_path / "a.png", png())
    comma = write(tmp_path / "b,c.png", png())  # --image splits at commas: stays a path
    for session in (None, "thread-1"):
        argv = build_codex_argv(
            RunnerSettings(), request(images=(picture, comma), session_id=session)
        )
        flags = [a for a in argv if a.startswith("--image")]
        assert flags == [f"--image={picture}"]
        assert argv.index(flags[0]) < argv.index("--")
