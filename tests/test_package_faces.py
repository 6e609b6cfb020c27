"""Every package of tinyclaw/ has a face: its ``__init__`` says what the package is for
and lists in ``__all__`` the names other packages use, and they use only those. Inside
a package, modules import each other directly; across packages, only through the
face, so a package can rearrange its modules without touching its callers."""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "tinyclaw"
PACKAGES = sorted(p.name for p in SOURCE.iterdir() if (p / "__init__.py").exists())


@dataclass(frozen=True)
class CrossImport:
    """One import of another package's code, where it is written."""

    where: str
    line: int
    module: str  # what is imported from: "tinyclaw.schedule" or "tinyclaw.schedule.store"
    names: tuple[str, ...]


def cross_imports() -> list[CrossImport]:
    """Every import (at the top, in a function, for type checking alone) that a module
    of one package makes of another package."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if len(parts) < 3:
            continue  # tinyclaw/__main__.py and tinyclaw/__init__.py belong to no package
        own = parts[1]
        where = str(path.relative_to(REPO))
        for node in ast.walk(ast.parse(path.read_text(), where)):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules = [(node.module, tuple(a.name for a in node.names))]
            elif isinstance(node, ast.Import):
                modules = [(a.name, ()) for a in node.names]
            else:
                continue
            for module, names in modules:
                dotted = module.split(".")
                if dotted[0] == "tinyclaw" and len(dotted) > 1 and dotted[1] != own:
                    found.append(CrossImport(where, node.lineno, module, names))
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_each_face_says_what_its_package_is_for_and_exports_names_that_exist(
    package: str,
) -> None:
    face = importlib.import_module(f"tinyclaw.{package}")
    assert face.__doc__ and len(face.__doc__.split()) >= 8, f"tinyclaw.{package}: no docstring"
    exported = getattr(face, "__all__", None)
    assert isinstance(exported, list), f"tinyclaw.{package} has no __all__"
    assert len(exported) == len(set(exported)), f"tinyclaw.{package}: __all__ repeats a name"
    missing = [name for name in exported if not hasattr(face, name)]
    assert missing == [], f"tinyclaw.{package}.__all__ names what it does not have: {missing}"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_exported_name_is_shadowed_by_a_module_of_the_same_name(package: str) -> None:
    """Importing ``tinyclaw.teams.trace`` would set the package's ``trace`` to that
    module, so a function exported as ``trace`` must not live beside such a module."""
    face = importlib.import_module(f"tinyclaw.{package}")
    modules = {p.stem for p in (SOURCE / package).glob("*.py")}
    for name in set(face.__all__) & modules:
        assert getattr(face, name) is importlib.import_module(f"tinyclaw.{package}.{name}")


def test_no_module_reaches_past_another_package_s_face() -> None:
    past = [
        f"{i.where}:{i.line} imports {i.module}"
        for i in cross_imports()
        if len(i.module.split(".")) > 2
    ]
    assert past == [], "import these from the package itself:\n" + "\n".join(past)


def test_what_a_package_takes_from_another_is_in_that_package_s_face() -> None:
    unlisted = []
    for i in cross_imports():
        if len(i.module.split(".")) != 2:
            continue
        exported = importlib.import_module(i.module).__all__
        unlisted += [f"{i.where}:{i.line} {i.module}.{n}" for n in i.names if n not in exported]
    assert unlisted == [], "not in the face's __all__:\n" + "\n".join(unlisted)


def test_a_face_imports_its_modules_only_when_a_name_is_used() -> None:
    """``tinyclaw.core`` stands under every process: importing one error class must
    not bring the file watcher, the event log and the rest of the package along."""
    probe = (
        "import json, sys\n"
        "from tinyclaw.core import ConfigError\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('tinyclaw'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout) == [
        "tinyclaw",
        "tinyclaw.core",
        "tinyclaw.core.errors",
        "tinyclaw.core.lazy",
    ]
