"""Package faces that import on first use.

A package's ``__init__`` names what other packages may use (its ``__all__``), but
importing all of that up front would load every module of the package in every
process that touches one of them: the listener would carry the worker's modules, and
``tinyclaw.core.errors`` would bring the file watcher along. A face built with
:func:`lazy_exports` imports the module that defines a name when the name is first
asked for, and keeps it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType


def lazy_exports(
    package: str, modules: Mapping[str, Sequence[str]], submodules: Sequence[str] = ()
) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: ``modules`` maps each of its modules
    (relative name) to the names taken from it; ``submodules`` are modules handed out
    whole (``from tinyclaw.core import sdnotify``)."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> object:
        if name in submodules:
            value: object = importlib.import_module(f"{package}.{name}")
        elif name in where:
            loaded: ModuleType = importlib.import_module(f"{package}.{where[name]}")
            value = getattr(loaded, name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        vars(sys.modules[package])[name] = value
        return value

    return __getattr__
