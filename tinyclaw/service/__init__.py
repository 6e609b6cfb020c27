"""systemd user units for a headless machine: ``tinyclaw service install|uninstall|status``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports
from tinyclaw.service.installer import ServiceManager, Systemctl, units_dir
from tinyclaw.service.units import Unit, render_units

if TYPE_CHECKING:
    from tinyclaw.service.installer import Outcome
    from tinyclaw.service.units import NAME_RE
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = ["NAME_RE", "Outcome", "ServiceManager", "Systemctl", "Unit", "render_units", "units_dir"]
