"""Bad input never kills the worker, never leaves the home, and never vanishes silently.

The whole corpus (``cases.py``) is planted into one home and served by one real worker
process; each case is then judged on its own. A case marked ``known_bug`` is a strict
xfail: it documents a hole with its fix, and starts failing (XPASS) the moment the fix
lands, so the marker cannot outlive the bug.
"""

from __future__ import annotations

import json

import pytest

from tests.reliability.cases import CASES
from tests.reliability.corpus import Case, CorpusRun, run_all
from tests.worker.conftest import message, reply_for, worker_thread
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    return run_all(tmp_path_factory.mktemp("corpus"), CASES, timeout=30)


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=case.known_bug)] if case.known_bug else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_each_bad_input_ends_in_failed_or_with_a_clear_answer(
    case: Case, corpus: CorpusRun
) -> None:
    (outcome,) = [o for o in corpus.outcomes if o.case is case]
    assert not outcome.leaked, f"the sentinel's secret reached a {outcome.got}"
    assert outcome.got == case.expect, f"{case.what}: ended as {outcome.got}: {outcome.detail!r}"
    assert case.says.lower() in outcome.detail.lower(), outcome.detail
    if case.expect == "failed" and not case.runs_first:  # refused before a run at a cost
        assert not outcome.ran, "the CLI ran for a message that ended in failed/"
    if case.isolated:
        assert not [p for p in corpus.problems if p.startswith(case.name)]


def test_the_worker_serves_on_after_the_whole_corpus(corpus: CorpusRun) -> None:
    """One worker took every shared case, answered a message after them all, and
    stopped cleanly on SIGTERM."""
    shared = [p for p in corpus.problems if "shared cases" in p and "secret" not in p]
    assert shared == []


def test_nothing_outside_the_home_is_read_or_written(corpus: CorpusRun) -> None:
    """A sentinel file next to the home keeps its bytes and mtime, and its secret
    content is in no file of the home: no reply, reason, log or live view."""
    assert [p for p in corpus.problems if "secret" in p or "outside the home" in p] == []


def test_the_corpus_covers_every_kind_of_bad_input() -> None:
    kinds = {c.name.split("-")[0] for c in CASES}
    assert {"empty", "malformed", "json", "binary", "file", "huge", "control", "nul"} <= kinds
    assert {
        "actor",
        "attachment",
        "symlink",
        "fifo",
        "send",
        "kind",
        "answered",
        "outbox",
        "schedule",
    } <= kinds
    assert len({c.name for c in CASES}) == len(CASES)


def test_bad_heads_of_an_inbox_go_to_failed_and_the_messages_behind_them_run(
    fake_home: Home,
) -> None:
    """One actor's inbox, oldest first: a file nested 5,000 deep, one waiting until
    1e300, then a good message. Before, the first killed the worker on every start and
    the second held the inbox for ever; now both go to failed/ and the third runs."""
    spool = Spool(fake_home)
    inbox = spool.inbox("coder")
    inbox.mkdir(parents=True, exist_ok=True)
    deep = message("deep", actor="coder")
    body = json.loads(deep.model_dump_json())
    body["meta"] = {"a": "@@"}
    raw = json.dumps(body).replace('"@@"', "[" * 5000 + "]" * 5000)
    (inbox / f"{deep.id}.json").write_text(raw)
    never = message("never", actor="coder", not_before=1e300)
    spool.put(never, inbox)
    behind = message("behind them", actor="coder")
    spool.put(behind, inbox)
    with worker_thread(fake_home):
        assert reply_for(fake_home, behind).text == "echo: behind them"
    reasons = {
        name: json.loads((spool.failed / f"{name}.json.reason").read_text())["reason"]
        for name in (deep.id, never.id)
    }
    assert "nested too deeply" in reasons[deep.id]
    assert "beyond the longest retry wait" in reasons[never.id]
