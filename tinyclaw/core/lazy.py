"""Package faces that import on first use.

A package's ``__init__`` names what other packages may use (its ``__all__``), but
importing all of that up front would load every module of the package in every
process that touches one of them: the listener would carry the worker's modules, and
``tinyclaw.core.errors`` would bring the file watcher along. So a face lists its
imports under ``if TYPE_CHECKING:`` (which the type checker reads, and the
interpreter skips) and sets ``__getattr__ = lazy_exports(__name__)`` otherwise: the
first use of a name imports it from the module that block names, and keeps it.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path


def lazy_exports(package: str) -> Callable[[str], object]:
    """A module ``__getattr__`` for the face of ``package`` (see the module docstring)."""
    where: dict[str, tuple[str, str | None]] = {}

    def __getattr__(name: str) -> object:
        if not where:
            face = Path(sys.modules[package].__file__ or "")
            where.update(type_checking_imports(face, package))
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attribute = where[name]
        loaded = importlib.import_module(module)
        value: object = loaded if attribute is None else getattr(loaded, attribute)
        vars(sys.modules[package])[name] = value
        return value

    return __getattr__


def type_checking_imports(face: Path, package: str) -> dict[str, tuple[str, str | None]]:
    """What the ``if TYPE_CHECKING:`` block of ``face`` imports: each bound name →
    (module, attribute); a name taken from ``package`` itself is a submodule
    (``from tinyclaw.core import sdnotify``), attribute None."""
    found: dict[str, tuple[str, str | None]] = {}
    for node in ast.parse(face.read_text(encoding="utf-8")).body:
        if not (isinstance(node, ast.If) and isinstance(node.test, ast.Name)):
            continue
        if node.test.id != "TYPE_CHECKING":
            continue
        for statement in node.body:
            if not isinstance(statement, ast.ImportFrom) or not statement.module:
                continue
            for alias in statement.names:
                bound = alias.asname or alias.name
                if statement.module == package:
                    found[bound] = (f"{package}.{alias.name}", None)
                else:
                    found[bound] = (statement.module, alias.name)
    return found
