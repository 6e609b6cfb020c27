"""systemd user units for a headless machine: ``tinyclaw service install|uninstall|status``."""

from tinyclaw.service.manage import ServiceManager, Systemctl, units_dir
from tinyclaw.service.units import Unit, render_units

__all__ = ["ServiceManager", "Systemctl", "Unit", "render_units", "units_dir"]
