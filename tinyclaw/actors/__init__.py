"""Actors as first-class things: their persona files (with the guide to the drop
folders their CLIs write into) and ``tinyclaw actor`` management."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports

if TYPE_CHECKING:
    from tinyclaw.actors.manage import (
        add_actor,
        delete_folder,
        info,
        plan_removal,
        remove_from_config,
        remove_jobs,
    )
    from tinyclaw.actors.persona import (
        persona_path,
        persona_prompt,
        refresh_persona,
        write_personas,
    )
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "add_actor",
    "delete_folder",
    "info",
    "persona_path",
    "persona_prompt",
    "plan_removal",
    "refresh_persona",
    "remove_from_config",
    "remove_jobs",
    "write_personas",
]
