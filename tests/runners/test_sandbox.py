"""The sandbox's argv builder and policies, as plain data (the real CLIs run confined in
tests/worker/test_sandbox_clis.py)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from tests.worker.conftest import wait_for
from tinyclaw.config import Config, parse_config
from tinyclaw.core.errors import ConfigError
from tinyclaw.core.home import Home
from tinyclaw.runners.base import RunEvent, RunRequest
from tinyclaw.runners.groups import GroupLedger
from tinyclaw.runners.process import live_group_members, popen_spawner
from tinyclaw.runners.sandbox import Policy, Sandbox, confine, probe_bwrap
from tinyclaw.runners.summary import killed_by_signal, signal_number


def works(program: str, unshare_net: bool) -> str | None:
    return None


def broken(program: str, unshare_net: bool) -> str | None:
    return "/usr/bin/bwrap does not work here: No permissions to create new namespace"


def config(home: Home, **sections: object) -> Config:
    data: dict[str, object] = {"actors": {"alice": {}, "bob": {}}}
    data.update(sections)
    return parse_config(data)


def pairs(argv: list[str], flag: str) -> list[str]:
    """The destinations of every ``flag`` in argv (``--bind SRC DEST`` → DEST)."""
    out = []
    for i, arg in enumerate(argv):
        if arg == flag:
            out.append(argv[i + 2] if flag in ("--bind", "--ro-bind") else argv[i + 1])
    return out


def test_an_unconfined_policy_leaves_argv_and_env_alone(tmp_path: Path) -> None:
    argv, env = confine(["claude", "-p", "hi"], {"HOME": "/h"}, tmp_path, Policy(False))
    assert argv == ["claude", "-p", "hi"] and env == {"HOME": "/h"}


def test_the_workspace_is_bound_after_the_home_that_hides_it(home: Home) -> None:
    ws = home.root / "actors" / "alice" / "workspace"
    ws.mkdir(parents=True)
    home.env_file.write_text("SECRET=1\n")
    policy = Policy(True, writable=(ws,), hidden=(home.root, home.env_file))
    argv, env = confine(["claude", "-p", "hi"], {"TMPDIR": "/var/x"}, ws, policy)

    assert argv[:9] == [
        "bwrap",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
    ]
    hide = argv.index("--tmpfs", 9)
    assert argv[hide + 1] == str(home.root)
    assert argv.index("--bind") > hide and pairs(argv, "--bind") == [str(ws)]
    # .env, a file, is hidden behind /dev/null; the hiding tmpfs is read-only at the end
    assert argv[argv.index(str(home.env_file)) - 2 : argv.index(str(home.env_file))] == [
        "--ro-bind",
        "/dev/null",
    ]
    assert pairs(argv, "--remount-ro") == [str(home.root)]
    assert argv.index("--remount-ro") > argv.index("--bind")
    for flag in ("--unshare-pid", "--unshare-ipc", "--die-with-parent"):
        assert flag in argv
    assert "--unshare-net" not in argv and "--new-session" not in argv  # same process group
    assert argv[-6:] == ["--chdir", str(ws), "--", "claude", "-p", "hi"]
    assert env["TMPDIR"] == "/tmp"


def test_network_none_unshares_the_network(tmp_path: Path) -> None:
    argv, _ = confine(["codex"], {}, tmp_path, Policy(True, network="none", writable=(tmp_path,)))
    assert "--unshare-net" in argv


def test_missing_paths_are_skipped_and_attachments_shown_read_only(home: Home) -> None:
    ws = home.root / "ws"
    ws.mkdir()
    attachment = home.queue / "files" / "m1" / "report.pdf"
    attachment.parent.mkdir(parents=True)
    attachment.write_bytes(b"%PDF")
    policy = Policy(True, writable=(ws, home.root / "absent"), hidden=(home.root,))
    argv, _ = confine(["claude"], {}, ws, policy, readable=[attachment])
    assert pairs(argv, "--bind") == [str(ws)]
    assert pairs(argv, "--ro-bind") == ["/", str(attachment)]


def test_each_actor_hides_the_home_and_the_others_workspaces(home: Home, tmp_path: Path) -> None:
    elsewhere = tmp_path / "bob-repo"
    cfg = config(home, actors={"alice": {}, "bob": {"workspace": str(elsewhere)}})
    box = Sandbox(home, cfg, probe=works)

    alice = box.policy("alice", {"HOME": str(tmp_path / "h")})
    assert alice.confined
    assert home.root.resolve() in alice.hidden and elsewhere.resolve() in alice.hidden
    assert alice.writable[0] == cfg.workspace_for(home, "alice").resolve()
    assert tmp_path / "h" / ".claude" in alice.writable  # the CLI's own state, not all HOME

    bob = box.policy("bob", {"HOME": str(tmp_path / "h")})
    assert elsewhere.resolve() not in bob.hidden and elsewhere.resolve() in bob.writable


def test_a_workspace_holding_the_home_still_hides_its_secrets(home: Home) -> None:
    cfg = config(home, actors={"alice": {"workspace": "."}})
    policy = Sandbox(home, cfg, probe=works).policy("alice", {})
    for part in (".env", "pairing", "state", "logs", "queue", "actors"):
        assert home.root.resolve() / part in policy.hidden
    if probe_bwrap("bwrap") is not None:
        return
    home.env_file.write_text("SECRET=hunter2\n")
    box = Sandbox(home, cfg, probe=probe_bwrap)
    argv, env = box(
        RunRequest("hi", "alice", home.root),
        ["/bin/sh", "-c", "cat .env; echo made > here"],
        {"PATH": "/usr/bin:/bin"},
        lambda event: None,
    )
    done = subprocess.run(argv, env=env, cwd=home.root, capture_output=True, text=True, timeout=30)
    assert "hunter2" not in done.stdout
    assert (home.root / "here").read_text() == "made\n"  # the workspace stays writable


def test_a_dedicated_cli_home_is_writable_whole(home: Home, tmp_path: Path) -> None:
    cli_home = tmp_path / "codex-home"
    cfg = config(
        home, runners={"codex": {"home": str(cli_home)}}, actors={"alice": {"runner": "codex"}}
    )
    policy = Sandbox(home, cfg, probe=works).policy("alice", {"CODEX_HOME": str(cli_home)})
    assert cli_home in policy.writable


def test_per_actor_overrides(home: Home, tmp_path: Path) -> None:
    cfg = config(
        home,
        sandbox={"network": "none", "hide": ["~/.ssh"], "writable": [str(tmp_path / "shared")]},
        actors={
            "alice": {"sandbox": {"mode": "off"}},
            "bob": {"sandbox": {"network": "shared", "writable": [str(tmp_path / "cache")]}},
            "carol": {},
        },
    )
    box = Sandbox(home, cfg, probe=works)
    assert not box.policy("alice", {}).confined
    bob = box.policy("bob", {})
    assert bob.network == "shared"
    assert {tmp_path / "shared", tmp_path / "cache"} <= set(bob.writable)
    assert box.policy("carol", {}).network == "none"
    assert Path("~/.ssh").expanduser().resolve() in bob.hidden


def test_auto_runs_unconfined_and_warns_where_bwrap_fails(
    home: Home, caplog: pytest.LogCaptureFixture
) -> None:
    box = Sandbox(home, config(home), probe=broken)
    box.check()  # does not refuse
    assert not box.policy("alice").confined
    assert "runs UNCONFINED" in caplog.text and "namespace" in caplog.text


def test_mode_bwrap_refuses_to_start_where_bwrap_fails(home: Home) -> None:
    cfg = config(home, actors={"alice": {"sandbox": {"mode": "bwrap"}}, "bob": {}})
    with pytest.raises(ConfigError, match='"bwrap" is required for alice but'):
        Sandbox(home, cfg, probe=broken).check()


def test_a_bad_sandbox_key_is_a_one_line_config_error(home: Home) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"actors": {"a": {}}, "sandbox": {"mode": "strict"}})
    assert "sandbox.mode" in str(caught.value) and len(str(caught.value).splitlines()) == 1


def test_the_hook_tells_the_actor_window_and_makes_the_workspace(home: Home) -> None:
    box = Sandbox(home, config(home), probe=works)
    ws = home.root / "actors" / "alice" / "workspace"
    events: list[RunEvent] = []
    argv, _ = box(RunRequest("hi", "alice", ws), ["/usr/bin/env", "true"], {}, events.append)
    assert ws.is_dir()
    assert [e.kind for e in events] == ["sandbox"] and events[0].data == {"confined": True}
    assert events[0].text.startswith("bwrap: writes only " + str(ws.resolve()))
    assert argv[-2:] == ["/usr/bin/env", "true"]


def test_a_missing_bwrap_is_named_with_its_package() -> None:
    problem = probe_bwrap("no-such-bwrap-here")
    assert problem is not None and "apt-get install bubblewrap" in problem


def test_a_confined_command_cannot_see_the_home(home: Home) -> None:
    if probe_bwrap("bwrap") is not None:
        pytest.skip(f"bwrap does not work here: {probe_bwrap('bwrap')}")
    home.env_file.write_text("SECRET=hunter2\n")
    box = Sandbox(home, config(home), probe=probe_bwrap)
    ws = home.root / "actors" / "alice" / "workspace"
    argv, env = box(
        RunRequest("hi", "alice", ws),
        ["/bin/sh", "-c", "cat ../../../.env; echo $$; echo made > here"],
        {"PATH": "/usr/bin:/bin"},
        lambda event: None,
    )
    done = subprocess.run(argv, env=env, cwd=ws, capture_output=True, text=True, timeout=30)
    assert "hunter2" not in done.stdout and "No such file" in done.stderr
    assert done.stdout.split()[-1] in ("1", "2")  # its own PID namespace
    assert (ws / "here").read_text() == "made\n"


def test_bwrap_reports_a_signal_death_as_128_plus_n() -> None:
    assert signal_number(-9) == 9 and signal_number(137) == 9 and signal_number(143) == 15
    assert signal_number(1) is None and signal_number(0) is None and signal_number(None) is None
    assert killed_by_signal(137) and not killed_by_signal(2)


def test_stopping_the_recorded_group_stops_the_sandboxed_cli_and_its_children(
    home: Home,
) -> None:
    """What the next worker does after a SIGKILL: the group in ``state/runs/`` is bwrap's,
    and the CLI and its shell's children inside the sandbox are members of it."""
    if probe_bwrap("bwrap") is not None:
        pytest.skip(f"bwrap does not work here: {probe_bwrap('bwrap')}")
    box = Sandbox(home, config(home), probe=probe_bwrap)
    ws = home.root / "actors" / "alice" / "workspace"
    argv, env = box(
        RunRequest("hi", "alice", ws),
        ["/bin/sh", "-c", "sleep 300 & sleep 300; wait"],
        {"PATH": "/usr/bin:/bin"},
        lambda event: None,
    )
    child = popen_spawner(argv, cwd=ws, env=env)
    GroupLedger(home.runs).add(child.pid)
    try:
        wait_for(lambda: len(live_group_members(child.pid) or []) >= 4, 10, "the sandbox")
        assert GroupLedger(home.runs).reap(grace=5) == [child.pid]
        assert live_group_members(child.pid) == []
    finally:
        child.signal_group(signal.SIGKILL)
        child.wait(10)


def test_a_workspace_symlinked_from_inside_the_home_keeps_its_name(
    home: Home, tmp_path: Path
) -> None:
    """claude keys its sessions by the working directory, so the CLI must run in the
    workspace under its configured name even though the home around it is hidden."""
    if probe_bwrap("bwrap") is not None:
        pytest.skip(f"bwrap does not work here: {probe_bwrap('bwrap')}")
    real = tmp_path / "repo"
    real.mkdir()
    link = home.root / "actors" / "alice" / "workspace"
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    box = Sandbox(home, config(home), probe=probe_bwrap)
    argv, env = box(
        RunRequest("hi", "alice", link),
        ["/bin/sh", "-c", "pwd; echo made > here"],
        {"PATH": "/usr/bin:/bin"},
        lambda event: None,
    )
    done = subprocess.run(argv, env=env, cwd=link, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(link)
    assert (real / "here").read_text() == "made\n"
