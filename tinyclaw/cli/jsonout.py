"""``--json``: the same facts a command prints, as one JSON document for scripts and
monitoring. Field names are a contract (docs/cli.md lists them per command): add
fields, never rename or remove one."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

JsonOption = Annotated[
    bool, typer.Option("--json", help="print one JSON document (fields: docs/cli.md)")
]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def emit(data: Any) -> None:
    """Print ``data`` as indented JSON (times as ISO 8601, paths as strings)."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_plain))
