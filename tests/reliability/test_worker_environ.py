"""A worker started by hand with every platform token in its environment holds none.

``tinyclaw worker`` run from a shell (or a service manager) that exported the
listeners' tokens starts itself again without them, so the REAL ``claude`` CLI,
walking up its process tree through ``/proc/PID/environ``, finds none; the key its
runner hands over still arrives. A reply repeating a withheld token is redacted by
the token's fingerprint.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.cli_fixtures import Reply
from tests.fakes.openai_api import OpenAIFake
from tests.launcher.test_secret_handover import ANCESTRY
from tests.reliability.test_secrets import ANTHROPIC_KEY, PLATFORM_SECRETS, _toml
from tests.worker.conftest import message, reply_for, start_worker_process
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool


def test_a_worker_given_platform_tokens_drops_them_and_redacts_them(
    home: Home, anthropic_fake: AnthropicFake, openai_fake: OpenAIFake, tmp_path: Path
) -> None:
    # The walk up the process tree must reach the worker: unconfined (in the sandbox the
    # worker is out of reach altogether, tests/worker/test_sandbox_clis.py).
    unconfined = '\n[sandbox]\nmode = "off"\n'
    home.config_file.write_text(_toml(home, anthropic_fake, openai_fake, tmp_path) + unconfined)
    tokens = list(PLATFORM_SECRETS.values())
    anthropic_fake.on_marker(
        "ENVIRON",
        Reply.tool("Bash", {"command": ANCESTRY, "description": "read the environments"}),
        Reply.say("Tokens: " + " ".join(tokens)),
    )
    worker = start_worker_process(home, **PLATFORM_SECRETS, ANTHROPIC_API_KEY=ANTHROPIC_KEY)
    try:
        asked = message("@claudy ENVIRON: what is around you?")
        Spool(home).put(asked)
        reply = reply_for(home, asked, timeout=120)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
        worker.stderr.close()  # type: ignore[union-attr]

    seen = "\n".join(anthropic_fake.tool_results())
    assert seen.count("== ") >= 3, seen  # the shell, claude, the worker
    assert f"ANTHROPIC_API_KEY={ANTHROPIC_KEY}" in seen
    assert [t for t in tokens if t in seen] == []
    assert reply.text == "Tokens: " + " ".join("***" for _ in tokens)
