"""Long replies are cut where a reader would cut them, and code stays code."""

from __future__ import annotations

import random

import pytest

from tinyclaw.channels.split import split_text, utf16_len

LIMIT = 200


def fences_balanced(part: str) -> bool:
    return sum(1 for line in part.split("\n") if line.strip().startswith("```")) % 2 == 0


def words(text: str) -> list[str]:
    """The words of a text, ignoring fence lines the splitter adds."""
    return [
        w for line in text.split("\n") if not line.strip().startswith("```") for w in line.split()
    ]


def test_a_short_reply_is_one_part_unchanged() -> None:
    assert split_text("hello\n\n  world  ", LIMIT) == ["hello\n\n  world  "]


def test_blank_text_has_no_parts() -> None:
    assert split_text("", LIMIT) == []
    assert split_text(" \n\n ", LIMIT) == []


def test_text_exactly_at_the_limit_is_not_split() -> None:
    assert split_text("x" * LIMIT, LIMIT) == ["x" * LIMIT]


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    first, second, third = "a" * 120, "b" * 120, "c" * 50
    parts = split_text(f"{first}\n\n{second}\n\n{third}", LIMIT)
    assert parts == [first, f"{second}\n\n{third}"]


def test_a_long_paragraph_is_cut_at_a_line_break() -> None:
    lines = [f"line {i} " + "x" * 30 for i in range(12)]
    parts = split_text("\n".join(lines), LIMIT)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= LIMIT
        assert all(line in lines for line in part.split("\n"))  # no line was cut
    assert "\n".join(parts) == "\n".join(lines)


def test_a_long_line_is_cut_between_words() -> None:
    text = " ".join(f"word{i}" for i in range(200))
    parts = split_text(text, LIMIT)
    assert all(len(p) <= LIMIT for p in parts)
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in parts)
    assert " ".join(parts) == text


def test_a_word_longer_than_the_limit_is_cut_hard() -> None:
    text = "y" * 450
    parts = split_text(text, LIMIT)
    assert "".join(parts) == text
    assert all(len(p) <= LIMIT for p in parts)


def test_a_code_block_cut_in_two_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"print({i})" for i in range(60))
    text = f"Here you go:\n\n```python\n{code}\n```\n\nDone."
    parts = split_text(text, LIMIT)
    assert len(parts) >= 3
    for part in parts:
        assert len(part) <= LIMIT
        assert fences_balanced(part), part
    code_parts = [p for p in parts if "print(" in p]
    assert all(p.startswith("```python\n") for p in code_parts)
    assert all(p.endswith("\n```") for p in code_parts[:-1])
    assert parts[-1].endswith("```\n\nDone.")
    assert words("\n".join(parts)) == words(text)


def test_text_after_a_closed_code_block_is_not_fenced() -> None:
    text = "```\n" + "a = 1\n" * 5 + "```\n\n" + "after " * 60
    parts = split_text(text, LIMIT)
    assert parts[-1].lstrip().startswith("after")
    assert all(fences_balanced(p) for p in parts)


def test_telegram_counts_utf16_units() -> None:
    emoji = "😀"  # one code point, two UTF-16 units
    text = " ".join([emoji * 10] * 30)
    parts = split_text(text, LIMIT, measure=utf16_len)
    assert all(utf16_len(p) <= LIMIT for p in parts)
    assert len(parts) > len(split_text(text, LIMIT))
    assert " ".join(parts) == text


def test_a_limit_too_small_for_code_fences_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        split_text("x" * 100, 20)


@pytest.mark.parametrize("seed", range(40))
def test_random_markdown_never_exceeds_the_limit_or_loses_words(seed: int) -> None:
    rng = random.Random(seed)
    blocks = []
    for _ in range(rng.randint(3, 25)):
        choice = rng.random()
        if choice < 0.3:
            lang = rng.choice(["", "python", "sh"])
            body = "\n".join(
                " ".join(f"c{rng.randint(0, 999)}" for _ in range(rng.randint(1, 12)))
                for _ in range(rng.randint(1, 30))
            )
            blocks.append(f"```{lang}\n{body}\n```")
        elif choice < 0.4:
            blocks.append("z" * rng.randint(1, 500))
        else:
            blocks.append(" ".join(f"w{rng.randint(0, 999)}" for _ in range(rng.randint(1, 80))))
    text = "\n\n".join(blocks)
    limit = rng.choice([150, 200, 333, 4096])
    parts = split_text(text, limit)
    assert all(len(p) <= limit for p in parts)
    assert all(fences_balanced(p) for p in parts)
    joined = "\n".join(parts)
    assert [w for w in words(joined) if not w.startswith("z")] == [
        w for w in words(text) if not w.startswith("z")
    ]
    assert joined.count("z") == text.count("z")
