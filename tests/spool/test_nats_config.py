"""Configuring the queue on NATS: ``[spool]``, ``[nodes]``, ``tinyclaw worker --node``,
``tinyclaw doctor``, and the credentials, which stay out of the file and out of every
CLI's environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.spool.contract import make_message
from tests.spool.nats_servers import NatsServer, single_server
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tinyclaw.cli.doctor import Doctor
from tinyclaw.config import Config, RunnerSettings, parse_config
from tinyclaw.config.credentials import owned_secrets, worker_redactor
from tinyclaw.core.errors import ConfigError
from tinyclaw.core.home import Home
from tinyclaw.runners.environment import build_cli_env
from tinyclaw.spool.jetstream import open_jetstream

ROOT = Path(__file__).resolve().parents[2]
ACTORS = {"actors": {"coder": {}, "writer": {}}}


def config(**sections: object) -> Config:
    return parse_config({**ACTORS, **sections})


def test_the_file_spool_is_the_default() -> None:
    settings = config().spool
    assert (settings.backend, settings.servers) == ("file", ["nats://127.0.0.1:4222"])
    assert config().nodes == {}


def test_nodes_name_the_actors_each_machine_runs() -> None:
    loaded = config(
        spool={"backend": "nats", "servers": ["nats://10.0.0.1:4222", "tls://nats.lan:4222"]},
        nodes={"box-a": {"actors": ["coder"]}, "box-b": {"actors": ["writer"]}},
    )
    assert loaded.node_actors("box-a") == ["coder"]
    assert loaded.node_actors("box-b") == ["writer"]
    with pytest.raises(ConfigError, match=r"--node 'box-c': no \[nodes.box-c\].*box-a, box-b"):
        loaded.node_actors("box-c")


@pytest.mark.parametrize(
    ("sections", "error"),
    [
        (
            {"nodes": {"a": {"actors": ["coder"]}, "b": {"actors": ["coder", "writer"]}}},
            "nodes.b.actors: 'coder' is already on node 'a' (an actor runs on one node)",
        ),
        (
            {"nodes": {"a": {"actors": ["coder", "writer", "ghost"]}}},
            "nodes.a.actors: 'ghost' is not a defined actor",
        ),
        (
            {"nodes": {"a": {"actors": ["coder"]}}},
            "nodes: 'writer' is on no node (list it under one [nodes.NAME] actors)",
        ),
        ({"spool": {"backend": "redis"}}, "spool.backend: Input should be 'file' or 'nats'"),
        (
            {"spool": {"backend": "nats", "servers": ["http://10.0.0.1"]}},
            "spool.servers: Value error, 'http://10.0.0.1' is not a nats:// or tls:// URL",
        ),
        ({"spool": {"backend": "nats", "servers": []}}, "name at least one server"),
        (
            {"spool": {"backend": "nats", "user_env": "NATS_USER"}},
            "user_env and password_env go together",
        ),
        (
            {"spool": {"backend": "nats", "token_env": "not a name"}},
            "'not a name' is not an environment variable name",
        ),
        (
            {"spool": {"backend": "nats", "stream_prefix": "my.home"}},
            "spool.stream_prefix: use letters, digits, '-' and '_', at most 32",
        ),
        (
            {
                "spool": {"backend": "nats", "token_env": "NATS_TOKEN"},
                "runners": {"claude": {"pass_env": ["NATS_TOKEN"]}},
            },
            "NATS_TOKEN holds a NATS credential; never pass it to the CLIs",
        ),
    ],
    ids=[
        "actor-on-two-nodes",
        "unknown-actor",
        "actor-on-no-node",
        "unknown-backend",
        "not-a-nats-url",
        "no-servers",
        "user-without-password",
        "bad-variable-name",
        "bad-prefix",
        "credential-passed-to-the-cli",
    ],
)
def test_a_wrong_spool_or_node_setting_is_one_line(sections: dict[str, object], error: str) -> None:
    nats = {"spool": {"backend": "nats"}} if "nodes" in sections else {}
    with pytest.raises(ConfigError) as caught:
        config(**{**nats, **sections})
    assert error in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_listener_lease_lasts_15_seconds_unless_set_within_bounds() -> None:
    assert config().spool.lease_ttl == 15.0
    assert config(spool={"backend": "nats", "lease_ttl": 4}).spool.lease_ttl == 4.0
    for bad in (1, 601):
        with pytest.raises(ConfigError, match=r"spool\.lease_ttl") as caught:
            config(spool={"backend": "nats", "lease_ttl": bad})
        assert "\n" not in str(caught.value)


def test_nodes_need_the_queue_on_nats() -> None:
    with pytest.raises(ConfigError, match=r'\[nodes\] need \[spool\] backend = "nats"'):
        config(nodes={"a": {"actors": ["coder", "writer"]}})


# -- the worker command --------------------------------------------------------------


def run_worker(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tinyclaw", "--home", str(home.root), "worker", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


NATS_HOME = """
[actors.coder]
[actors.writer]

[spool]
backend = "nats"
servers = ["nats://127.0.0.1:4222"]

[nodes.box-a]
actors = ["coder"]

[nodes.box-b]
actors = ["writer"]
"""


def test_an_unknown_node_is_one_line_and_exit_2(home: Home) -> None:
    home.config_file.write_text(NATS_HOME)
    result = run_worker(home, "--node", "box-c")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --node 'box-c': no [nodes.box-c] in tinyclaw.toml (nodes: box-a, box-b)"
    )


def test_a_nats_worker_must_be_one_of_the_nodes(home: Home) -> None:
    """With [nodes], a worker without --node would not know whose messages to take."""
    home.config_file.write_text(NATS_HOME)
    result = run_worker(home)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: tinyclaw.toml defines [nodes]: start the worker as one of them "
        "(tinyclaw worker --node NAME; nodes: box-a, box-b)"
    )


def test_a_worker_waits_for_its_nats_servers_and_stops_cleanly_meanwhile(home: Home) -> None:
    """No server answers: the worker says so in its log and tries again (a worker
    started before its servers comes up with them); SIGTERM ends the wait, exit 0."""
    dead = f"nats://127.0.0.1:{free_port()}"
    home.config_file.write_text(
        NATS_HOME.replace("nats://127.0.0.1:4222", dead).replace(
            "[spool]\n", "[spool]\ntimeout = 1\n"
        )
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "tinyclaw", "--home", str(home.root), "worker", "--node", "box-a"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        log = home.logs / "worker.log"
        wait_for(
            lambda: log.exists() and "cannot open the NATS spool yet" in log.read_text(),
            what="the worker saying it waits for NATS",
        )
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    worker.stderr.close()  # type: ignore[union-attr]


def test_a_listener_whose_nats_servers_do_not_answer_says_so_in_one_line(home: Home) -> None:
    """The listener runs on NATS now; with no server it stops with exit code 1 (a
    restart may well cure it) and one line naming the servers, never a traceback."""
    dead = f"nats://127.0.0.1:{free_port()}"
    home.config_file.write_text(
        NATS_HOME.replace("nats://127.0.0.1:4222", dead)
        + '\n[channels.telegram]\nenabled = true\ntoken_env = "TELEGRAM_BOT_TOKEN"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "tinyclaw", "--home", str(home.root), "listen", "telegram"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TELEGRAM_BOT_TOKEN": "123:abc"},
    )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot reach NATS at {dead}")


# -- doctor --------------------------------------------------------------------------


def test_doctor_says_the_nats_servers_answer(home: Home, nats_single: NatsServer) -> None:
    loaded = config(spool={"backend": "nats", "servers": [nats_single.url]})
    [check] = Doctor(home, environ={}).spool(loaded)
    assert check.level == "ok"
    assert f"NATS: {nats_single.url} answers; JetStream has" in check.detail


def test_doctor_says_when_no_server_answers(home: Home) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    loaded = config(spool={"backend": "nats", "servers": [url], "timeout": 1.0})
    [check] = Doctor(home, environ={}).spool(loaded)
    assert check.level == "problem"
    assert f"cannot reach NATS at {url}" in check.detail
    assert check.fix is not None and "nats-server -js" in check.fix


def test_doctor_says_when_a_credential_is_not_set(home: Home) -> None:
    loaded = config(spool={"backend": "nats", "token_env": "NATS_TOKEN"})
    [check] = Doctor(home, environ={}).spool(loaded)
    assert (check.level, check.detail) == (
        "problem",
        "[spool] token_env names NATS_TOKEN, which is not set (.env or environment)",
    )


def test_doctor_leaves_the_file_spool_alone(home: Home) -> None:
    assert Doctor(home, environ={}).spool(config()) == []


# -- credentials ---------------------------------------------------------------------


def test_a_token_protected_server_lets_in_the_token_from_the_environment(
    tmp_path: Path,
) -> None:
    with single_server(tmp_path / "auth", 'authorization { token: "s3cret-nats-token" }') as server:
        settings = config(
            spool={"backend": "nats", "servers": [server.url], "token_env": "NATS_TOKEN"}
        ).spool
        with pytest.raises(ConfigError, match="NATS_TOKEN, which is not set"):
            open_jetstream(settings, {})
        with pytest.raises(Exception, match=r"cannot reach NATS|[Aa]uthorization"):
            open_jetstream(settings, {"NATS_TOKEN": "wrong"})
        spool = open_jetstream(settings, {"NATS_TOKEN": "s3cret-nats-token"})
        try:
            spool.put_for("coder", make_message("through the token"))
            assert [spool.load(h).text for h in spool.pending("coder")] == ["through the token"]
        finally:
            spool.close()


def test_the_nats_credentials_are_redacted_and_kept_from_the_clis(home: Home) -> None:
    """Names that do not look like secrets (no TOKEN, no PASSWORD in them) are still
    treated as secrets, because ``[spool]`` names them."""
    loaded = config(
        spool={
            "backend": "nats",
            "token_env": "NATS_ENTRY",
            "user_env": "NATS_WHO",
            "password_env": "NATS_PHRASE",
        }
    )
    owners = owned_secrets(loaded)
    for component in ("worker", "telegram", "discord", "whatsapp"):
        assert {"NATS_ENTRY", "NATS_WHO", "NATS_PHRASE"} <= set(owners[component])
    environ = {"NATS_ENTRY": "entry-123456789", "NATS_PHRASE": "phrase-987654321", "PATH": "/bin"}
    redact = worker_redactor(home, loaded, environ)
    assert "entry-123456789" not in redact("the token is entry-123456789")
    assert "phrase-987654321" not in redact("and phrase-987654321")
    cli_env = build_cli_env(RunnerSettings(), "claude", environ)
    assert "NATS_ENTRY" not in cli_env and "NATS_PHRASE" not in cli_env
