"""``tinyclaw service install --node NAME``: on a home whose queue is on NATS, each
machine's systemd units run its own worker node."""

from __future__ import annotations

from pathlib import Path

from tests.ops.test_systemd import _no_systemd_path, units_in
from tests.spool.nats_backend import NatsHome
from tests.support.commands import run_tinyclaw
from tests.worker.test_nats_worker import node_home
from tinyclaw.core.home import Home


def test_service_install_runs_the_worker_as_the_named_node(home: Home, tmp_path: Path) -> None:
    node_home(home.root, NatsHome([]))  # no server needed: nothing connects
    home.config_file.write_text(
        home.config_file.read_text().replace("servers = []", 'servers = ["nats://10.0.0.5:4222"]')
    )
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PATH": _no_systemd_path(home)}
    refused = run_tinyclaw("service", "install", home=home, env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: tinyclaw.toml defines [nodes]: start the worker as one of them "
        "(tinyclaw worker --node NAME; nodes: box-a, box-b)"
    )
    assert not (units_in(tmp_path / "xdg") / "tinyclaw-worker.service").exists()

    installed = run_tinyclaw("service", "install", "--node", "box-b", home=home, env=env)
    assert installed.returncode == 0, installed.stderr
    worker = (units_in(tmp_path / "xdg") / "tinyclaw-worker.service").read_text()
    assert '"-m" "tinyclaw.worker" "--node" "box-b"' in worker
    # On standby (another machine serves box-b) it says READY=1 only once it takes over.
    assert "TimeoutStartSec=infinity" in worker


def test_start_with_a_broken_tinyclaw_toml_is_still_exit_1(home: Home) -> None:
    home.config_file.write_text("[worker\n")
    result = run_tinyclaw("start", "--no-attach", "--node", "box-a", home=home)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "not valid TOML" in result.stderr
