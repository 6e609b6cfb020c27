"""Paths from outside (an actor's ``[send_file:]``, an attachment) are confined to
their root; a path that cannot even be resolved is refused like one that escapes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tinyclaw.core.errors import InvalidFileError, UnsafePathError
from tinyclaw.core.fsutil import confine, parse_json_object


def test_a_symlink_loop_is_refused_not_a_crash(tmp_path: Path) -> None:
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    with pytest.raises(UnsafePathError, match="'a' cannot be resolved"):
        confine(tmp_path, "a")


def test_inside_is_kept_and_outside_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    os.symlink("/etc/passwd", tmp_path / "leak")
    assert confine(tmp_path, "notes.txt") == (tmp_path / "notes.txt").resolve()
    for escaping in ("../x", "/etc/passwd", "leak"):
        with pytest.raises(UnsafePathError, match="is outside"):
            confine(tmp_path, escaping)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),  # RecursionError
        (b'{"a": ' + b"[" * 64 + b"]" * 64 + b"}", "nested too deeply"),  # parses; too deep
        (b'{"a": ' + b"9" * 5000 + b"}", "exceeds the limit (4300 digits)"),  # ValueError
        (b'{"a": "\xff"}', "not valid UTF-8 JSON"),  # UnicodeDecodeError
        (b'{"a": "\\ud800"}', "lone surrogate"),  # valid JSON, no text
        (b'{"\\udc00": 1}', "lone surrogate"),
        (b'{"a": "\\uDBFF"}', "lone surrogate"),  # escapes may be upper case
        ('{"a": "\ud800"}'.encode("utf-8", "surrogatepass"), "lone surrogate"),  # encoded
        (b"[]", "expected a JSON object"),
    ],
    ids=[
        "nested-5000",
        "nested-65",
        "digits-5000",
        "utf8",
        "surrogate",
        "surrogate-key",
        "surrogate-upper",
        "surrogate-encoded",
        "list",
    ],
)
def test_every_way_json_can_be_bad_is_one_invalid_file_error(data: bytes, says: str) -> None:
    with pytest.raises(InvalidFileError, match="(?i)" + re.escape(says)):
        parse_json_object(data)


def test_json_nested_to_the_limit_and_surrogate_pairs_are_fine() -> None:
    assert parse_json_object(b'{"a": ' + b"[" * 63 + b"]" * 63 + b"}")
    assert parse_json_object(b'{"smile": "\\ud83d\\ude00"}') == {"smile": "\U0001f600"}
    # Brackets in text are no nesting (they only make the check walk the whole file).
    assert parse_json_object(b'{"text": "' + b"[{" * 100 + b'"}') == {"text": "[{" * 100}
