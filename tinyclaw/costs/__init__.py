"""What runs cost: the ledger the worker writes at each run's end, the spend limits
checked before a run, and the reports of ``/cost`` and ``tinyclaw cost``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports
from tinyclaw.costs.ledger import CostEntry, CostLedger
from tinyclaw.costs.limits import Breach, Limit, first_breach, limits_for, payer_of
from tinyclaw.costs.periods import Periods, periods_at
from tinyclaw.costs.report import CostReport, build_report, render_chat, render_report

if TYPE_CHECKING:
    from tinyclaw.costs.backfill import import_run_ends
    from tinyclaw.costs.periods import money
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "Breach",
    "CostEntry",
    "CostLedger",
    "CostReport",
    "Limit",
    "Periods",
    "build_report",
    "first_breach",
    "import_run_ends",
    "limits_for",
    "money",
    "payer_of",
    "periods_at",
    "render_chat",
    "render_report",
]
