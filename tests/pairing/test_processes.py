"""Several processes share one store: the listener, the worker, the owner's terminal.
Racing on one code, exactly one of them wins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinyclaw.core.home import Home
from tinyclaw.pairing import PairingService

from .helpers import ALICE, code_in

REPO = Path(__file__).resolve().parents[2]

# Each child builds its own service, waits for the start file, then races.
CHILD = r"""
import sys, time
from pathlib import Path
from tinyclaw.core.errors import PairingError
from tinyclaw.pairing import Identity, PairingService

root, start, action, code = sys.argv[1:5]
service = PairingService(Path(root))
service.check(Identity("telegram", "0"))  # warm up imports and the store before the race
print("ready", flush=True)
while not Path(start).exists():
    time.sleep(0.001)
try:
    if action == "approve":
        print("won", service.approve(code).identity)
    else:
        result = service.redeem(Identity("telegram", sys.argv[5]), code)
        print("won" if result.ok else "lost", result.outcome.value)
except PairingError as exc:
    print("lost", exc)
"""


def _race(home: Home, tmp_path: Path, argvs: list[list[str]]) -> list[str]:
    start = tmp_path / "start"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(home.pairing), str(start), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for argv in argvs
    ]
    for child in children:  # everyone is loaded and waiting: now let them race
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        assert line == "ready", child.communicate()[1]
    start.touch()
    results = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        results.append(out.strip())
    return results


@pytest.mark.parametrize("racers", [2, 4])
def test_processes_approving_the_same_code_at_once_exactly_one_wins(
    home: Home, tmp_path: Path, racers: int
) -> None:
    service = PairingService(home.pairing)
    code = code_in(service.handle_unknown(ALICE))

    results = _race(home, tmp_path, [["approve", code]] * racers)

    winners = [r for r in results if r.startswith("won")]
    assert winners == ["won telegram:1001"], results
    assert sum(r.startswith("lost") for r in results) == racers - 1
    assert service.check(ALICE).allowed
    assert [p.identities for p in service.profiles()] == [("telegram:1001",)]


def test_processes_redeeming_one_invite_at_once_exactly_one_gets_in(
    home: Home, tmp_path: Path
) -> None:
    service = PairingService(home.pairing)
    code = service.invite()

    results = _race(home, tmp_path, [["redeem", code, str(n)] for n in range(4)])

    assert sum(r == "won linked" for r in results) == 1, results
    assert sum(r == "lost wrong" for r in results) == 3, results
    assert len(service.profiles()) == 1
