"""Each listener process imports its own platform library and no other: a Telegram
listener that also loaded discord.py and pywa would carry ~100 MB it never uses (see
docs/reliability.md, "Speed and memory"). Checked in a fresh interpreter per platform, with
everything ``python -m tinyclaw.channels PLATFORM`` loads before it serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LIBRARIES = {"telegram": "telegram", "discord": "discord", "whatsapp": "pywa"}
MODULES = {
    "telegram": "tinyclaw.channels.telegram",
    "discord": "tinyclaw.channels.discord",
    "whatsapp": "tinyclaw.channels.whatsapp",
}
PROBE = """
import importlib, json, sys
for name in ("tinyclaw.channels.__main__", "tinyclaw.channels.serve",
             "tinyclaw.pairing.wiring", "tinyclaw.channels.pairing_gate", sys.argv[1]):
    importlib.import_module(name)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


@pytest.mark.parametrize("platform", sorted(MODULES))
def test_a_listener_imports_only_its_own_platform_library(platform: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, MODULES[platform]],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = set(json.loads(result.stdout))
    assert LIBRARIES[platform] in loaded
    others = {lib for name, lib in LIBRARIES.items() if name != platform}
    assert loaded & others == set(), f"{platform} listener loaded {loaded & others}"
    if platform != "whatsapp":
        assert not loaded & {"pywa", "pywa_async", "uvicorn", "starlette", "fastapi"}
