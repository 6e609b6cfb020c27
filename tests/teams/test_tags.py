"""Reading ``[@member: task]`` tags out of a reply, as an actor writes them."""

from __future__ import annotations

from tinyclaw.teams.tags import parse_tags, text_around


def test_one_tag_with_the_text_around_it() -> None:
    text = "Let me ask.\n[@researcher: find the cheapest flight]\nThen I decide."
    (tag,) = parse_tags(text)
    assert tag.targets == ("researcher",)
    assert tag.task == "find the cheapest flight"
    assert text[tag.start : tag.end] == "[@researcher: find the cheapest flight]"
    assert text_around(text, [tag]) == "Let me ask.\n\nThen I decide."


def test_several_targets_in_one_tag_lower_cased_and_deduplicated() -> None:
    (tag,) = parse_tags("[@Writer, @editor,writer : polish the intro]")
    assert tag.targets == ("writer", "editor")
    assert tag.task == "polish the intro"


def test_a_closing_bracket_inside_the_task_does_not_cut_it() -> None:
    (tag,) = parse_tags("[@coder: make items[0] return list[int]] and more")
    assert tag.task == "make items[0] return list[int]"


def test_several_tags_and_multiline_tasks() -> None:
    text = "[@a: first\nline two] middle [@b: second]"
    tags = parse_tags(text)
    assert [(t.targets, t.task) for t in tags] == [(("a",), "first\nline two"), (("b",), "second")]
    assert text_around(text, tags) == "middle"


def test_a_tag_may_hold_another_tag_for_the_next_hop() -> None:
    (tag,) = parse_tags("[@b: ask [@c: the details] and summarise]")
    assert tag.targets == ("b",)
    assert tag.task == "ask [@c: the details] and summarise"
    (inner,) = parse_tags(tag.task)
    assert inner.targets == ("c",)


def test_text_that_only_looks_like_a_tag_is_text() -> None:
    assert parse_tags("mail me at [me@example.com] or @bob: hi") == []
    assert parse_tags("[@a task without a colon]") == []
    assert parse_tags("[@unterminated: never closed") == []
    assert parse_tags("plain text") == []


def test_an_empty_task_is_still_a_tag_so_it_can_be_reported() -> None:
    (tag,) = parse_tags("[@b:   ]")
    assert tag.targets == ("b",) and tag.task == ""


def test_tags_in_code_are_examples_not_handoffs() -> None:
    text = (
        "Use `[@name: task]` to hand off.\n"
        "```\n[@coder: inside a fence]\n```\n"
        "~~~md\n[@coder: inside a tilde fence]\n~~~\n"
        "but [@coder: this one] counts"
    )
    (tag,) = parse_tags(text)
    assert tag.task == "this one"


def test_an_unclosed_fence_hides_the_rest() -> None:
    assert parse_tags("```\n[@coder: never]") == []


def test_code_spans_follow_markdown() -> None:
    text = "``a ` [@x: in double ticks]`` [@y: outside] `unclosed [@z: counts]"
    assert [t.targets for t in parse_tags(text)] == [("y",), ("z",)]
    fenced = "````md\n```\n[@x: nested fence]\n```\n````\n[@y: after]"
    assert [t.targets for t in parse_tags(fenced)] == [("y",)]
