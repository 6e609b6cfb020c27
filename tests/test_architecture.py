"""The layers of tinyclaw/ hold: every package imports only from the layers below its
own, and two packages that share a layer do not import each other, so no two packages
import each other either. The contracts live in pyproject.toml (``[tool.importlinter]``)
and are explained in docs/architecture.md; ``import-linter`` checks them, counting
imports made only for type checking and imports inside functions as well."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = (
    "import sys\n"
    "from importlinter.cli import lint_imports\n"
    "sys.exit(lint_imports(no_cache=True, no_logo=True))\n"
)


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the tree at ``root`` (its pyproject.toml, its tinyclaw/)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-c", LINT],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def layers() -> list[list[str]]:
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in contracts["contracts"] if c["id"] == "layers"]
    return [[name.strip() for name in layer.split("|")] for layer in contract["layers"]]


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """A copy of the package and its contracts, to break on purpose."""
    shutil.copytree(
        REPO / "tinyclaw", tmp_path / "tinyclaw", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_every_package_imports_only_downward() -> None:
    result = lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_package_has_its_place_in_the_layers() -> None:
    placed = {name for layer in layers() for name in layer}
    packages = {p.name for p in (REPO / "tinyclaw").iterdir() if (p / "__init__.py").exists()}
    assert packages <= placed, f"not in any layer: {sorted(packages - placed)}"
    assert layers()[-1] == ["core"] and layers()[1] == ["cli"]


def test_an_import_from_a_higher_layer_breaks_the_check(tree_copy: Path) -> None:
    errors = tree_copy / "tinyclaw" / "core" / "errors.py"
    errors.write_text(
        errors.read_text() + "\n\ndef _later() -> None:\n    import tinyclaw.worker.loop\n"
    )
    result = lint(tree_copy)
    assert result.returncode != 0
    assert "tinyclaw.core.errors -> tinyclaw.worker.loop" in result.stdout


def test_an_import_made_only_for_type_checking_counts_too(tree_copy: Path) -> None:
    reach = tree_copy / "tinyclaw" / "schedule" / "reach.py"
    text = reach.read_text().replace(
        "if TYPE_CHECKING:\n",
        "if TYPE_CHECKING:\n    from tinyclaw.outbox.scanner import OutboxService\n",
        1,
    )
    reach.write_text(text)
    result = lint(tree_copy)
    assert result.returncode != 0
    assert "tinyclaw.schedule.reach -> tinyclaw.outbox.scanner" in result.stdout


def test_two_packages_of_one_layer_may_not_import_each_other(tree_copy: Path) -> None:
    roster = tree_copy / "tinyclaw" / "teams" / "roster.py"
    roster.write_text(roster.read_text() + "\nfrom tinyclaw.pairing import Identity as _Identity\n")
    result = lint(tree_copy)
    assert result.returncode != 0
    assert "tinyclaw.teams.roster -> tinyclaw.pairing" in result.stdout
