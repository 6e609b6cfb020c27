"""``scripts/start``, the one command of the README: it says exactly what to install
when tmux or a CLI is missing, and hands over to ``tinyclaw start``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.paths import REPO

BASH = shutil.which("bash") or "/bin/bash"


def _checkout(tmp_path: Path) -> Path:
    """A checkout without .tools/: the script and its versions, this .venv linked in."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    for name in ("start", "versions.sh", "make-venv.sh"):
        shutil.copy2(REPO / "scripts" / name, root / "scripts" / name)
    (root / ".venv").symlink_to(REPO / ".venv")
    return root


def _bin_with(tmp_path: Path, *tools: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in tools:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def _run(root: Path, path: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, str(root / "scripts" / "start"), *args],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_without_tmux_it_says_how_to_install_it(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    result = _run(root, _bin_with(tmp_path))
    assert result.returncode == 1
    assert "sudo apt-get install tmux" in result.stderr


def test_missing_clis_get_the_exact_npm_command_then_start_runs(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    result = _run(root, _bin_with(tmp_path, "tmux"), "--help")
    assert (
        "npm install --prefix .tools @anthropic-ai/claude-code@2.1.331 @openai/codex@0.169.0"
        in result.stderr
    )
    assert "not found: claude codex" in result.stderr
    assert result.returncode == 0, result.stderr
    assert "Start everything in one tmux session" in result.stdout


# A stand-in for python3: `-m venv DIR` makes DIR/bin/python (and the tinyclaw entry
# point pip would install) as further stand-ins; every call is written to $CALLS.
STUB_PYTHON = """#!/usr/bin/env bash
echo "python3 $*" >> "$CALLS"
if [ "$1 $2" = "-m venv" ]; then
  mkdir -p "$3/bin"
  cat > "$3/bin/python" <<'PY'
#!/usr/bin/env bash
echo "venv-python $*" >> "$CALLS"
if [ "$1" = "-" ]; then  # "is tinyclaw importable?": only once pip installed it
  cat > /dev/null
  [ -e "$CALLS.installed" ]; exit
fi
if [ "$1 $2 $3" = "-m pip install" ] && [ "$5" = "-e" ]; then touch "$CALLS.installed"; fi
PY
  printf '#!/usr/bin/env bash\\necho "tinyclaw $*" >> "$CALLS"\\n' > "$3/bin/tinyclaw"
  chmod +x "$3/bin/python" "$3/bin/tinyclaw"
fi
"""


def test_a_fresh_checkout_gets_a_venv_and_an_install_then_start(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    (root / "scripts").mkdir(parents=True)
    for name in ("start", "versions.sh", "make-venv.sh"):
        shutil.copy2(REPO / "scripts" / name, root / "scripts" / name)
    python = tmp_path / "python3-stub"
    python.write_text(STUB_PYTHON.replace("#!/usr/bin/env bash", f"#!{BASH}"))
    python.chmod(0o755)
    calls = tmp_path / "calls"
    path = _bin_with(tmp_path, "tmux", "cat", "mkdir", "chmod", "touch")

    def start() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BASH, str(root / "scripts" / "start"), "--no-attach"],
            env={**os.environ, "PATH": path, "PYTHON": str(python), "CALLS": str(calls)},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )

    first = start()

    assert first.returncode == 0, first.stderr
    assert "creating .venv (first start)" in first.stderr
    assert "installing tinyclaw into .venv" in first.stderr
    assert calls.read_text().splitlines() == [
        "python3 -c import sys; sys.exit(sys.version_info < (3, 11))",
        "python3 -m venv .venv",
        "venv-python -",
        "venv-python -m pip install -q --upgrade pip",
        "venv-python -m pip install -q -e .[all]",
        "tinyclaw start --no-attach",
    ]

    calls.unlink()
    again = start()  # the venv is there and tinyclaw imports: straight to start

    assert again.returncode == 0, again.stderr
    assert "creating" not in again.stderr and "installing" not in again.stderr
    assert calls.read_text().splitlines() == ["venv-python -", "tinyclaw start --no-attach"]


def test_a_python_older_than_3_11_is_named_with_what_to_install(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    (root / "scripts").mkdir(parents=True)
    for name in ("start", "versions.sh", "make-venv.sh"):
        shutil.copy2(REPO / "scripts" / name, root / "scripts" / name)
    old = tmp_path / "python3.9"
    old.write_text(f"#!{BASH}\n[ \"$1\" = -V ] && echo 'Python 3.9.2' && exit 0\nexit 1\n")
    old.chmod(0o755)

    result = subprocess.run(
        [BASH, str(root / "scripts" / "start"), "--no-attach"],
        env={**os.environ, "PYTHON": str(old)},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert "tinyclaw needs Python 3.11 or newer" in result.stderr
    assert "Python 3.9.2" in result.stderr and "PYTHON=python3.11" in result.stderr
    assert not (root / ".venv").exists()


# A stand-in for npm: records its arguments and installs claude and codex stand-ins
# where `npm install --prefix .tools` would put them (or fails when NPM_FAILS is set).
STUB_NPM = """#!/usr/bin/env bash
echo "npm $*" >> "$CALLS"
[ -n "${NPM_FAILS:-}" ] && { echo "npm ERR! network down" >&2; exit 1; }
mkdir -p .tools/node_modules/.bin
for cli in claude codex; do printf '#!/bin/sh\\n' > ".tools/node_modules/.bin/$cli"; done
chmod +x .tools/node_modules/.bin/claude .tools/node_modules/.bin/codex
"""


def _with_npm(tmp_path: Path) -> str:
    path = _bin_with(tmp_path, "tmux", "mkdir", "chmod", "ln", "readlink")
    npm = Path(path) / "npm"
    npm.write_text(STUB_NPM.replace("#!/usr/bin/env bash", f"#!{BASH}"))
    npm.chmod(0o755)
    return path


def test_without_a_terminal_the_missing_clis_are_installed_without_asking(
    tmp_path: Path,
) -> None:
    root = _checkout(tmp_path)
    calls = tmp_path / "calls"
    result = subprocess.run(
        [BASH, str(root / "scripts" / "start"), "--help"],
        env={**os.environ, "PATH": _with_npm(tmp_path), "CALLS": str(calls)},
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == [
        "npm install --prefix .tools --no-fund --no-audit --loglevel=error "
        "@anthropic-ai/claude-code@2.1.331 @openai/codex@0.169.0"
    ]
    assert (root / ".tools" / "node_modules" / ".bin" / "claude").exists()
    assert "starting anyway" not in result.stderr
    assert "Start everything in one tmux session" in result.stdout


def test_a_failed_install_stops_with_the_reason(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    env = {**os.environ, "PATH": _with_npm(tmp_path), "CALLS": str(tmp_path / "calls"),
           "NPM_FAILS": "1"}  # fmt: skip
    result = subprocess.run(
        [BASH, str(root / "scripts" / "start"), "--help"],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "npm ERR! network down" in result.stderr
    assert "npm could not install the CLIs" in result.stderr


def test_tinyclaw_is_linked_into_local_bin_when_that_is_on_path(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    (root / ".tools" / "node_modules" / ".bin").mkdir(parents=True)
    for cli in ("claude", "codex"):
        (root / ".tools" / "node_modules" / ".bin" / cli).write_text("#!/bin/sh\n")
        (root / ".tools" / "node_modules" / ".bin" / cli).chmod(0o755)
    local_bin = Path(os.environ["HOME"]) / ".local" / "bin"
    tools = _bin_with(tmp_path, "tmux", "mkdir", "ln", "readlink")

    on_path = _run(root, f"{tools}:{local_bin}", "--help")

    assert on_path.returncode == 0, on_path.stderr
    link = local_bin / "tinyclaw"
    assert os.readlink(link) == str(root / ".venv" / "bin" / "tinyclaw")
    assert "linked" in on_path.stderr
    again = _run(root, f"{tools}:{local_bin}", "--help")
    assert "linked" not in again.stderr and "not on your PATH" not in again.stderr

    link.unlink()
    off_path = _run(root, tools, "--help")
    assert not link.exists()
    assert f"run it as {root / '.venv' / 'bin' / 'tinyclaw'}" in off_path.stderr
