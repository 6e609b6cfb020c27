"""The base layer: what every other part of tinyclaw stands on, importing nothing above.

* :mod:`~tinyclaw.core.errors` — the one exception tree;
* :mod:`~tinyclaw.core.messages` — the two message types that travel through the queue;
* :mod:`~tinyclaw.core.home` — where a home keeps its files;
* :mod:`~tinyclaw.core.fsutil` — atomic writes, unique names, confinement;
* :mod:`~tinyclaw.core.watching` — filesystem events turned into wake-ups;
* :mod:`~tinyclaw.core.events`, :mod:`~tinyclaw.core.logsetup` — the event log and
  each process's log;
* :mod:`~tinyclaw.core.instance` — one process per role per home;
* :mod:`~tinyclaw.core.live_files` — the files of live runs (steering, approvals);
* :mod:`~tinyclaw.core.redaction`, :mod:`~tinyclaw.core.printable` — text made safe to
  show;
* :mod:`~tinyclaw.core.diskspace`, :mod:`~tinyclaw.core.sdnotify`,
  :mod:`~tinyclaw.core.failpoints` — disk-full state, systemd readiness, crash points.

The layering is described in ``docs/architecture.md``.
"""
