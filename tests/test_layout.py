"""The layout the development guide describes stays true: ``scripts/`` holds entry
points only, test modules import helpers from ``tests/support`` (never from a
``conftest.py``), and the soak tests are left out of the default run."""

from __future__ import annotations

import ast
import tomllib

from tests.support.paths import REPO

ENTRY_POINTS = {"start", "test", "bootstrap", "versions.sh", "make-venv.sh"}


def test_scripts_holds_the_entry_points_only() -> None:
    assert {p.name for p in (REPO / "scripts").iterdir()} == ENTRY_POINTS


def test_no_module_imports_from_a_conftest() -> None:
    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("conftest"):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == [], "helpers belong in tests/support: " + ", ".join(offenders)


def test_the_default_run_leaves_the_soak_tests_out() -> None:
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]
    addopts = options["ini_options"]["addopts"]
    assert addopts[addopts.index("-m") + 1] == "not soak"
    assert any(m.startswith("soak:") for m in options["ini_options"]["markers"])
