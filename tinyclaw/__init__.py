"""tinyclaw: a self-hosted chat assistant gateway.

Chat platforms on one side, the ``claude`` and ``codex`` command-line tools on the
other, and a crash-safe file queue in between. See docs/ for the user's manual and
``tinyclaw.core.errors`` for the one exception tree every module raises from.
"""

__version__ = "0.1.0"
