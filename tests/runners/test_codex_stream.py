"""Reading codex's JSONL events: lines captured from codex 0.169.0."""

from __future__ import annotations

from tinyclaw.runners.codex_stream import parse_codex_stream

TID = "01a212f1-50cc-72e3-9582-f0ada2d02796"
STARTED = '{"type":"thread.started","thread_id":"01a212f1-50cc-72e3-9582-f0ada2d02796"}'
TURN = '{"type":"turn.started"}'
CMD_START = (
    '{"type":"item.started","item":{"id":"item_0","type":"command_execution",'
    '"command":"/bin/bash -lc \'echo hi > made.txt\'","aggregated_output":"",'
    '"exit_code":null,"status":"in_progress"}}'
)
CMD_DONE = (
    '{"type":"item.completed","item":{"id":"item_0","type":"command_execution",'
    '"command":"/bin/bash -lc \'echo hi > made.txt\'","aggregated_output":"hi\\n",'
    '"exit_code":0,"status":"completed"}}'
)
PATCH_START = (
    '{"type":"item.started","item":{"id":"item_1","type":"file_change","changes":'
    '[{"path":"/w/notes/hello.txt","kind":"add"}],"status":"in_progress"}}'
)
PATCH_DONE = (
    '{"type":"item.completed","item":{"id":"item_1","type":"file_change","changes":'
    '[{"path":"/w/notes/hello.txt","kind":"add"}],"status":"completed"}}'
)
NOTICE = (
    '{"type":"item.completed","item":{"id":"item_2","type":"error","message":'
    '"Model metadata for `-gpt` not found. Defaulting to fallback metadata"}}'
)
MESSAGE = '{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"made it"}}'
COMPLETED = (
    '{"type":"turn.completed","usage":{"input_tokens":20,"cached_input_tokens":0,'
    '"output_tokens":10,"reasoning_output_tokens":0}}'
)
ERROR = (
    '{"type":"error","message":"We\u2019re currently experiencing high demand, '
    'which may cause temporary errors."}'
)
FAILED = (
    '{"type":"turn.failed","error":{"message":"We\u2019re currently experiencing high demand, '
    'which may cause temporary errors."}}'
)


def test_a_successful_turn_with_a_command_and_a_patch() -> None:
    lines = [STARTED, TURN, CMD_START, CMD_DONE, PATCH_START, PATCH_DONE, NOTICE, MESSAGE]
    stream, events = parse_codex_stream([*lines, COMPLETED])
    # A command is shown once, when it starts; its end (exit code, output) is its own kind.
    assert [e.kind for e in events] == [
        "command",
        "command_done",
        "file_change",
        "error",
        "text",
        "result",
    ]
    assert events[1].data["exit_code"] == 0 and events[1].data["output"] == "hi\n"
    assert events[2].text == "add /w/notes/hello.txt"
    summary = stream.summary(0, "")
    assert summary.ok and summary.text == "made it"
    assert summary.session_id == TID
    assert summary.usage["input_tokens"] == 20
    assert summary.cost_usd is None


def test_the_reply_is_the_last_agent_message() -> None:
    first = MESSAGE.replace("made it", "thinking aloud")
    stream, _ = parse_codex_stream([STARTED, first, MESSAGE, COMPLETED])
    assert stream.summary(0, "").text == "made it"


def test_a_failed_turn() -> None:
    stream, events = parse_codex_stream([STARTED, TURN, ERROR, FAILED])
    assert [e.kind for e in events] == ["error", "error"]
    summary = stream.summary(1, "Reading additional input from stdin...\n")
    assert not summary.ok
    assert summary.error is not None and summary.error.startswith("api_error: ")
    assert "high demand" in summary.error and "high demand" not in summary.text
    assert summary.session_id == TID


def test_an_unknown_thread_on_resume() -> None:
    stderr = (
        "Error: thread/resume: thread/resume failed: no rollout found for thread id "
        "01a212f1-50cc-72e3-9582-aaaaaaaaaaaa (code -32600)\n"
    )
    stream, _ = parse_codex_stream([])
    assert stream.summary(1, stderr).error == "session_not_found"


def test_a_crash_names_the_real_stderr_line_not_the_noise() -> None:
    stderr = "Error: config.toml: bad key\nReading additional input from stdin...\n"
    stream, _ = parse_codex_stream(["garbage", STARTED])
    summary = stream.summary(2, stderr)
    assert summary.error == "exit: 2 Error: config.toml: bad key"
    assert "config.toml" not in summary.text
    assert stream.bad_lines == 1


def test_a_clean_exit_without_a_completed_turn_is_bad_output() -> None:
    stream, _ = parse_codex_stream([STARTED, TURN])
    assert stream.summary(0, "").error == "bad_output"
