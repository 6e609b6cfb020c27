"""What the CLI is given for a message: pure functions, no worker needed."""

from __future__ import annotations

from pathlib import Path

from tinyclaw.core.messages import Attachment, Inbound, Quote, Sender
from tinyclaw.worker.addressing import extract_send_files, parse_address
from tinyclaw.worker.prompt import MAX_INLINE_PROMPT_BYTES, build_prompt, fit_prompt


def test_an_at_prefix_names_the_actor_and_is_stripped() -> None:
    assert parse_address("@Coder: fix it") == ("coder", "fix it")
    assert parse_address("  @a-1 hi") == ("a-1", "hi")
    assert parse_address("mail me@example.com") == (None, "mail me@example.com")


def test_the_prompt_carries_the_quote_and_the_attachment_paths() -> None:
    message = Inbound(
        id="m1",
        channel="telegram",
        chat_id="1",
        sender=Sender(id="7", name="Ann"),
        text="what is this?",
        reply_to=Quote(text="line one\nline two", author="Bob"),
        attachments=[
            Attachment(
                path="/h/queue/files/m1/photo.jpg", name="photo.jpg", kind="photo", size=2048
            )
        ],
    )
    prompt = build_prompt(message, message.text)
    assert prompt.startswith("[Ann via telegram]")
    assert "In reply to Bob:\n> line one\n> line two" in prompt
    assert "- /h/queue/files/m1/photo.jpg (photo, unknown type, 2 KB)" in prompt


def test_a_prompt_too_long_for_argv_goes_to_a_file_in_the_workspace(tmp_path: Path) -> None:
    short = "hello"
    assert fit_prompt(short, "m1", tmp_path) == short
    long = "é" * MAX_INLINE_PROMPT_BYTES  # twice the limit in UTF-8 bytes
    fitted = fit_prompt(long, "m2", tmp_path)
    path = tmp_path / ".tinyclaw" / "messages" / "m2.md"
    assert str(path) in fitted and len(fitted) < 500
    assert path.read_text(encoding="utf-8") == long


def test_send_file_tags_are_confined_to_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "report.txt").write_text("ok")
    (tmp_path / "escape").symlink_to("/etc/passwd")
    found = extract_send_files(
        "Done. [send_file: report.txt] [send_file: ../x] [send_file: escape] [send_file: nope.txt]",
        tmp_path,
    )
    assert found.text == "Done."
    assert found.files == [str((tmp_path / "report.txt").resolve())]
    assert len(found.refused) == 3
