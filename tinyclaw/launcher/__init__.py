"""The launcher: all of tinyclaw in one tmux session, each part restarted when it dies.

::

    tinyclaw start
      └─ tmux session "tinyclaw"        (each window: python -m tinyclaw.launcher supervise …)
           ├─ status      -- python -m tinyclaw.launcher dashboard
           ├─ worker      -- python -m tinyclaw worker
           ├─ telegram    -- python -m tinyclaw listen telegram        (if enabled)
           └─ <actor>     -- python -m tinyclaw.launcher watch <actor>

Modules: ``components`` (what runs in which window), ``tmux`` (the session, through
libtmux), ``supervisor`` (run one child, restart it with backoff, say so in the
window), ``readiness`` (when a child counts as started), ``state`` (the status file
each supervisor keeps), ``control`` (start, stop, wait for readiness), ``status``
(what ``tinyclaw status`` and the dashboard show), ``watch`` and ``render`` (the
actor window), ``logs`` (``tinyclaw logs``), ``__main__`` (the small entry points the
windows run). The supervisor imports only the standard library and a few small
tinyclaw modules, so the process that sits in every window stays small.
"""
