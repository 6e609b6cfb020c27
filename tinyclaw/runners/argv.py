"""Command lines for the CLIs, as pure functions (the program itself is not included).

Two rules keep chat text from ever being read as a flag: every option value goes in
the ``--name=value`` form (a persona or model starting with ``-`` stays a value), and
the prompt comes after ``--``. Sessions are always named explicitly: ``claude
--continue`` and ``codex exec resume --last`` mean "the newest session", which is
someone else's as soon as two actors share a machine.
"""

from __future__ import annotations

from tinyclaw.config import RunnerSettings
from tinyclaw.runners.contract import RunRequest
from tinyclaw.runners.images import sniff


def build_claude_argv(
    settings: RunnerSettings, req: RunRequest, new_session_id: str | None, *, live: bool = False
) -> list[str]:
    """Arguments for ``claude`` in print mode with line-by-line JSON events.

    ``req.session_id`` resumes that session; otherwise ``new_session_id`` (if given)
    names the new one, so the caller knows the id before the CLI has said anything.
    ``live``: the prompt and everything after it come on stdin as JSON lines, and tool
    permissions are asked there too (see ``claude_live``); no prompt in argv.
    """
    argv = ["-p", "--output-format", "stream-json", "--verbose"]
    if live:
        argv.extend(["--input-format", "stream-json"])
        if req.ask_permissions:  # else claude denies what it may not do, as in -p
            argv.extend(["--permission-prompt-tool", "stdio"])
    if req.session_id:
        argv.append(f"--resume={req.session_id}")
    elif new_session_id:
        argv.append(f"--session-id={new_session_id}")
    if req.model:
        argv.append(f"--model={req.model}")
    if req.persona:
        argv.append(f"--append-system-prompt={req.persona}")
    if req.permission_mode:
        argv.append(f"--permission-mode={req.permission_mode}")
    argv.extend(settings.args)
    if not live:
        argv.extend(["--", req.prompt])
    return argv


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string, for codex's ``-c key=<toml>`` overrides.

    JSON escaping is not enough: TOML rejects surrogate escapes and a raw DEL.
    """
    out = ['"']
    for char in value:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def build_codex_argv(settings: RunnerSettings, req: RunRequest) -> list[str]:
    """Arguments for ``codex exec --json`` (new thread) or ``codex exec resume``.

    ``exec resume`` does not accept ``--sandbox`` and remembers neither it nor ``-c``
    overrides, so the sandbox goes in as ``-c sandbox_mode=…`` there, and everything is
    passed again on every turn. Images go as ``--image`` (both forms take it). The persona is ``developer_instructions``: codex sends
    it as a developer message and does not duplicate it on resume.
    """
    argv = ["exec"]
    if req.session_id:
        argv.append("resume")
    argv.extend(["--json", "--skip-git-repo-check"])
    if req.model:
        argv.append(f"--model={req.model}")
    if req.permission_mode:
        if req.session_id:
            argv.extend(["-c", f"sandbox_mode={toml_string(req.permission_mode)}"])
        else:
            argv.append(f"--sandbox={req.permission_mode}")
    if req.persona:
        argv.extend(["-c", f"developer_instructions={toml_string(req.persona)}"])
    # ``--image`` splits its value at commas: a path with one stays a path in the prompt.
    argv.extend(f"--image={p}" for p in req.images if "," not in str(p) and sniff(p))
    argv.extend(settings.args)
    argv.append("--")
    if req.session_id:
        argv.append(req.session_id)
    argv.append(req.prompt)
    return argv
