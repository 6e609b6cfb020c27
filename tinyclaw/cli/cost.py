"""``tinyclaw cost``: what the runs cost today and this month, per actor and per
person, with the limits; ``--json`` for scripts (field names in docs/costs.md)."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from tinyclaw.cli.context import clean_errors, home_from, load


def register(app: typer.Typer) -> None:
    app.command("cost")(cost)


def cost(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="print one JSON object (stable field names)")
    ] = False,
) -> None:
    """Spend today and this month, per actor and per person, with their limits."""
    from tinyclaw.costs import CostLedger, build_report, periods_at, render_report
    from tinyclaw.pairing import pairing_service
    from tinyclaw.worker import owner_check

    with clean_errors():
        home = home_from(ctx)
        config = load(home)
        periods = periods_at(time.time())
        entries = CostLedger(home.state / "costs").entries(periods.month_start, periods.month_end)
        report = build_report(config, entries, periods, owner_check(pairing_service(home, config)))
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        typer.echo(render_report(report))
