"""Reading claude's stream-json: lines captured from claude 2.1.331 (trimmed)."""

from __future__ import annotations

import json

from tinyclaw.runners.claude_stream import parse_claude_stream

SID = "f7c97322-c66c-4262-8d33-7653612d05b9"
INIT = json.dumps(
    {"type": "system", "subtype": "init", "cwd": "/w", "session_id": SID, "tools": ["Bash"]}
)
TOOL_USE = json.dumps(
    {
        "type": "assistant",
        "message": {
            "id": "msg_1",
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "Write",
                    "input": {"file_path": "/w/out.txt", "content": "hello file\n"},
                }
            ],
        },
        "parent_tool_use_id": None,
        "session_id": SID,
    }
)
BASH = json.dumps(
    {
        "type": "assistant",
        "message": {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "t2", "name": "Bash", "input": {"command": "ls -la"}},
                {"type": "tool_use", "id": "t3", "name": "WebFetch", "input": {"url": "x"}},
            ],
        },
        "session_id": SID,
    }
)
TOOL_RESULT = json.dumps(
    {
        "type": "user",
        "message": {
            "role": "user",
            "content": [
                {"tool_use_id": "toolu_1", "type": "tool_result", "content": "File created"}
            ],
        },
        "session_id": SID,
    }
)
TEXT = json.dumps(
    {
        "type": "assistant",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "written"}]},
        "session_id": SID,
    }
)
RESULT_OK = json.dumps(
    {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "num_turns": 2,
        "result": "written",
        "session_id": SID,
        "total_cost_usd": 0.00028,
        "usage": {"input_tokens": 20, "output_tokens": 10},
        "permission_denials": [],
        "api_error_status": None,
    }
)
RESULT_API_ERROR = json.dumps(
    {
        "type": "result",
        "subtype": "success",
        "is_error": True,
        "num_turns": 1,
        "api_error_status": 500,
        "api_error_type": "api_error",
        "result": "API Error: 500 server exploded. This is a server-side issue.",
        "session_id": SID,
        "total_cost_usd": 0,
        "usage": {"input_tokens": 0, "output_tokens": 0},
        "permission_denials": [],
    }
)
RESULT_NO_SESSION = json.dumps(
    {
        "type": "result",
        "subtype": "error_during_execution",
        "is_error": True,
        "num_turns": 0,
        "session_id": "99999999-2222-3333-4444-555555555555",
        "total_cost_usd": 0,
        "errors": ["No conversation found with session ID: 99999999-2222-3333-4444-555555555555"],
    }
)


def test_a_successful_run_with_a_tool_call() -> None:
    stream, events = parse_claude_stream([INIT, TOOL_USE, TOOL_RESULT, TEXT, RESULT_OK])
    assert [e.kind for e in events] == ["file_change", "text", "result"]
    assert events[0].text == "Write /w/out.txt"
    summary = stream.summary(0, "")
    assert summary.ok and summary.text == "written"
    assert summary.session_id == SID
    assert summary.cost_usd == 0.00028
    assert summary.usage["num_turns"] == 2 and summary.usage["input_tokens"] == 20
    assert summary.error is None


def test_bash_is_a_command_other_tools_are_tools() -> None:
    _, events = parse_claude_stream([BASH])
    assert [(e.kind, e.text) for e in events] == [
        ("text", "Let me look."),
        ("command", "ls -la"),
        ("tool", 'WebFetch {"url": "x"}'),
    ]


def test_an_api_error_is_an_error_although_subtype_says_success() -> None:
    stream, events = parse_claude_stream([INIT, RESULT_API_ERROR])
    assert events[-1].kind == "error"
    summary = stream.summary(1, "")
    assert not summary.ok
    assert summary.error is not None and summary.error.startswith("api_error: 500 ")
    assert "server exploded" in summary.error and "server exploded" not in summary.text


def test_an_unknown_session_is_recognised() -> None:
    stream, _ = parse_claude_stream([RESULT_NO_SESSION])
    summary = stream.summary(1, "No conversation found with session ID: 9999\n")
    assert summary.error == "session_not_found"


def test_permission_denials_are_reported_in_usage() -> None:
    denied = json.loads(RESULT_OK)
    denied["permission_denials"] = [{"tool_name": "Bash", "tool_input": {"command": "rm"}}]
    stream, _ = parse_claude_stream([json.dumps(denied)])
    assert stream.summary(0, "").usage["permission_denials"] == ["Bash"]


def test_garbage_and_a_missing_result_give_readable_failures() -> None:
    stream, events = parse_claude_stream(["not json at all", "", "[1, 2]", INIT])
    assert events == [] and stream.bad_lines == 2
    empty = stream.summary(0, "")
    assert not empty.ok and empty.error == "bad_output"
    assert empty.session_id == SID
    crashed = stream.summary(3, "some warning\nError: cannot start\n")
    assert crashed.error == "exit: 3 Error: cannot start"  # for the owner's log
    assert crashed.text.startswith("Sorry, the assistant stopped with an error (exit code 3).")
    assert "cannot start" not in crashed.text  # the chat user gets a plain sentence


def test_a_nonzero_exit_fails_even_with_a_clean_result() -> None:
    stream, _ = parse_claude_stream([RESULT_OK])
    summary = stream.summary(2, "")
    assert not summary.ok and summary.error is not None and summary.error.startswith("exit: 2")


def test_a_cost_is_kept_to_a_millionth_of_a_dollar() -> None:
    noisy = json.loads(RESULT_OK) | {"total_cost_usd": 0.032619999999999996}
    stream, _ = parse_claude_stream([INIT, json.dumps(noisy)])
    assert stream.summary(0, "").cost_usd == 0.03262


def _result_of(tool_id: str, text: str, is_error: bool) -> str:
    block = {"type": "tool_result", "tool_use_id": tool_id, "content": text, "is_error": is_error}
    return json.dumps({"type": "user", "message": {"role": "user", "content": [block]}})


def test_a_denied_and_a_failed_tool_call_are_told_apart_from_one_that_ran() -> None:
    write = {"type": "tool_use", "id": "t1", "name": "Write", "input": {"file_path": "/w/n.txt"}}
    bash = {"type": "tool_use", "id": "t2", "name": "Bash", "input": {"command": "make"}}
    uses = [
        json.dumps({"type": "assistant", "message": {"content": [block]}})
        for block in (write, bash)
    ]
    denied = _result_of(
        "t1", "Claude requested permissions to use Write, but you haven't granted it yet.", True
    )
    failed = _result_of("t2", "make: *** No targets.  Stop.", True)
    ok = _result_of("t2", "done", False)
    _, events = parse_claude_stream([uses[0], denied, uses[1], failed, ok])

    kinds = [(e.kind, e.text) for e in events]
    assert kinds == [
        ("file_change", "Write /w/n.txt"),
        ("tool_denied", "Write /w/n.txt"),
        ("command", "make"),
        ("tool_failed", "make"),
    ]
    assert "haven't granted" in events[1].data["reason"]


def test_the_window_marks_them_so() -> None:
    from tinyclaw.launcher.render import Style, progress

    plain = Style(color=False)
    denied = progress({"kind": "tool_denied", "text": "Write /w/n.txt", "data": {}}, plain)
    failed = progress(
        {"kind": "command_done", "text": "make", "data": {"exit_code": 2, "status": "failed"}},
        plain,
    )
    worked = progress({"kind": "command_done", "text": "ls", "data": {"exit_code": 0}}, plain)
    assert "✖" in denied[0] and "denied: Write /w/n.txt" in denied[0]
    assert "failed (exit 2): make" in failed[0]
    assert worked == []  # a command that worked was shown once, when it started
