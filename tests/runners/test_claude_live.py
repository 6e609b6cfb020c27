"""claude's live protocol, line by line: what ``/model`` puts on the CLI's stdin and
what claude's answers to it become. The worker story with the real CLI is in
tests/worker/test_live_runs.py."""

from __future__ import annotations

import json
from typing import Any

from tinyclaw.launcher.render import Style, progress
from tinyclaw.runners.claude_live import ClaudeLive
from tinyclaw.runners.contract import RunEvent
from tinyclaw.runners.live_protocol import NoControls


class Switching(NoControls):
    """Controls whose chat switched to ``model`` once."""

    def __init__(self, model: str) -> None:
        self.model: str | None = model

    def take_model(self) -> str | None:
        model, self.model = self.model, None
        return model


def started(controls: NoControls) -> tuple[ClaudeLive, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    live = ClaudeLive("hello", controls, lambda event: None)
    live.started(lambda line: sent.append(line) or True)
    return live, sent


def response(subtype: str, request_id: str, **extra: str) -> str:
    body = {"subtype": subtype, "request_id": request_id, **extra}
    return json.dumps({"type": "control_response", "response": body})


def test_a_switch_is_one_set_model_control_request_sent_once() -> None:
    live, sent = started(Switching("sonnet"))
    live.tick()
    live.tick()

    assert sent[1:] == [
        {
            "type": "control_request",
            "request_id": "tinyclaw-model-1",
            "request": {"subtype": "set_model", "model": "sonnet"},
        }
    ]
    # claude's success answer is the step the window shows.
    (confirmed,) = live.feed(response("success", "tinyclaw-model-1"))
    assert confirmed == RunEvent("model", "sonnet", {"model": "sonnet"})
    record = {"kind": confirmed.kind, "text": confirmed.text, "data": confirmed.data, "ts": 0}
    (line,) = progress(record, Style(color=False))
    assert "model switched to sonnet" in line


def test_a_refused_switch_is_told_and_the_run_goes_on() -> None:
    live, _ = started(Switching("claude-nonesuch"))
    live.tick()

    (refused,) = live.feed(response("error", "tinyclaw-model-1", error="Unable to validate"))
    assert refused.kind == "model.refused"
    assert refused.text == "claude-nonesuch: Unable to validate"
    assert live.result is None and not live.finished


def test_no_switch_sends_nothing_and_a_switch_after_the_answer_waits() -> None:
    live, sent = started(NoControls())
    live.tick()
    assert len(sent) == 1  # the prompt only

    late, late_sent = started(Switching("opus"))
    late.feed(json.dumps({"type": "result", "subtype": "success", "result": "done"}))
    late.tick()
    assert len(late_sent) == 1  # the turn is over: the stored choice applies next time
