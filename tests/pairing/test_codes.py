"""Codes people can read aloud and type on a phone, and the key that keeps them secret."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from tinyclaw.core.errors import PairingError
from tinyclaw.pairing.codes import (
    ALPHABET,
    EXAMPLE_CODE,
    LEFT_OUT,
    CodeKey,
    explain_bad_code,
    format_code,
    load_or_create_key,
    normalize_code,
    random_code,
)
from tinyclaw.pairing.texts import in_words


def test_the_alphabet_has_no_look_alikes() -> None:
    assert not set("0O1IL2Z5S8B") & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET) >= 24


def test_a_code_is_eight_symbols_shown_in_two_groups() -> None:
    raw = random_code()
    assert len(raw) == 8 and set(raw) <= set(ALPHABET)
    assert format_code(raw) == f"{raw[:4]}-{raw[4:]}"


def test_fresh_codes_differ() -> None:
    assert len({random_code() for _ in range(1000)}) == 1000


@pytest.mark.parametrize(
    "typed", ["ACDE-FGHJ", "acde-fghj", "acdefghj", "  AcDe FgHj \n", "ACDE - FGHJ"]
)
def test_codes_are_accepted_in_any_case_with_or_without_the_dash(typed: str) -> None:
    assert normalize_code(typed) == "ACDEFGHJ"


@pytest.mark.parametrize(
    "typed", ["", "ACDE-FGH", "ACDE-FGHJK", "ACD0-FGHJ", "ACDE_FGHJ", "ÄCDE-FGHJ"]
)
def test_anything_else_is_not_a_code(typed: str) -> None:
    assert normalize_code(typed) is None


def test_the_key_file_is_private_and_created_once(tmp_path: Path) -> None:
    path = tmp_path / "pairing" / "secret.key"
    old_umask = os.umask(0)  # even a careless umask must not widen the mode
    try:
        key = load_or_create_key(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 32
    assert load_or_create_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temp file left


def test_a_damaged_key_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_bytes(b"short")
    with pytest.raises(PairingError, match="damaged"):
        load_or_create_key(path)
    assert path.read_bytes() == b"short"


def test_hashes_depend_on_the_key(tmp_path: Path) -> None:
    one, two = CodeKey(tmp_path / "a.key"), CodeKey(tmp_path / "b.key")
    assert one.hash_code("ACDEFGHJ") == one.hash_code("ACDEFGHJ")
    assert one.hash_code("ACDEFGHJ") != two.hash_code("ACDEFGHJ")
    assert "ACDEFGHJ" not in one.hash_code("ACDEFGHJ")


def test_a_request_code_can_be_recomputed_but_not_without_the_nonce(tmp_path: Path) -> None:
    key = CodeKey(tmp_path / "secret.key")
    first = key.request_code("telegram:1", "00" * 16)
    assert first == key.request_code("telegram:1", "00" * 16)
    assert set(first) <= set(ALPHABET) and len(first) == 8
    assert first != key.request_code("telegram:1", "01" + "00" * 15)
    assert first != key.request_code("telegram:2", "00" * 16)


def test_durations_read_as_words_in_replies() -> None:
    assert in_words(timedelta(hours=1)) == "1 hour"
    assert in_words(timedelta(minutes=90)) == "1 hour 30 minutes"
    assert in_words(timedelta(seconds=1)) == "1 second"  # never rounded up
    assert in_words(timedelta(seconds=59.9)) == "59 seconds"
    assert in_words(timedelta(seconds=90)) == "1 minute 30 seconds"
    assert in_words(timedelta(minutes=15)) == "15 minutes"
    assert in_words(timedelta(days=3)) == "3 days"
    assert in_words(timedelta(hours=50)) == "2 days 2 hours"


def test_help_and_errors_show_a_code_that_could_be_one() -> None:
    assert normalize_code(EXAMPLE_CODE) is not None
    for left_out in LEFT_OUT.split():
        assert left_out not in ALPHABET
    assert len(LEFT_OUT.split()) + len(ALPHABET) == 36  # every letter and digit accounted for
    why = explain_bad_code("ABCD-EFGH")
    assert why.startswith("'ABCD-EFGH' is not a pairing code: codes never contain B")
    assert EXAMPLE_CODE in why and "ABCD-EFGH" not in why.split(": ", 1)[1]
