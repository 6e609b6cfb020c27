"""What runs cost: the ledger the worker writes at each run's end, the spend limits
checked before a run, and the reports of ``/cost`` and ``tinyclaw cost``."""

from tinyclaw.costs.ledger import CostEntry, CostLedger
from tinyclaw.costs.limits import Breach, Limit, first_breach, limits_for, payer_of
from tinyclaw.costs.periods import Periods, periods_at
from tinyclaw.costs.report import CostReport, build_report, render_chat, render_report

__all__ = [
    "Breach",
    "CostEntry",
    "CostLedger",
    "CostReport",
    "Limit",
    "Periods",
    "build_report",
    "first_breach",
    "limits_for",
    "payer_of",
    "periods_at",
    "render_chat",
    "render_report",
]
