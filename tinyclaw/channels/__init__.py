"""Channels: the chat platforms (Telegram, Discord, WhatsApp) tinyclaw talks through.

A *channel* is one platform as a route for messages: the ``channel`` field of a
message, ``[channels.NAME]`` in the configuration, ``queue/outgoing/NAME/``, and the
:class:`~tinyclaw.channels.base.Channel` class that speaks that platform's API. A
*listener* is the process that serves one channel (``tinyclaw listen NAME``,
:func:`run_listener`): it queues what arrives and delivers what the worker answered.
Each platform module imports only its own library, and only the process serving that
platform imports it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports

if TYPE_CHECKING:
    from tinyclaw.channels.serve import run_listener
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = ["run_listener"]
