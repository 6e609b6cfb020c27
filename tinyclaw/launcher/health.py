"""``tinyclaw status`` for machines: the snapshot as JSON with stable field names, and
an exit code a monitor or a shell ``if`` can act on.

Exit codes (documented in docs/cli.md): 0 every component runs; 3 nothing runs
(tinyclaw is stopped); 4 it runs, but at least one component is down. 1 stays the
code of an error (a broken configuration), 2 of a usage mistake, as everywhere.
"""

from __future__ import annotations

from typing import Any

from tinyclaw.launcher.status import Snapshot

ALL_RUNNING = 0
STOPPED = 3
DEGRADED = 4


def status_code(snap: Snapshot) -> int:
    running = [c.running for c in snap.components]
    if running and all(running):
        return ALL_RUNNING
    return DEGRADED if any(running) else STOPPED


def health(snap: Snapshot) -> str:
    """``ok``, ``stopped`` or ``degraded``: the exit code in words."""
    return {ALL_RUNNING: "ok", STOPPED: "stopped", DEGRADED: "degraded"}[status_code(snap)]


def tmux_state(snap: Snapshot) -> str:
    """``running``, ``not running``, ``not installed``, or ``elsewhere``: the session
    is not on the tmux server this shell talks to, yet components run (started with
    another TINYCLAW_TMUX_SOCKET or TINYCLAW_TMUX_SESSION, or by a service manager)."""
    if snap.session_running is None:
        return "not installed"
    if snap.session_running:
        return "running"
    return "elsewhere" if any(c.running for c in snap.components) else "not running"


def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    return {
        "home": str(snap.home),
        "health": health(snap),
        "tmux": {"session": snap.session, "state": tmux_state(snap)},
        "components": [
            {
                "name": c.name,
                "window": c.window,
                "kind": c.kind,
                "running": c.running,
                "phase": c.phase,
                "pid": c.pid,
                "restarts": c.restarts,
                "since": c.since,
                "message": c.message,
            }
            for c in snap.components
        ],
        "queues": {
            k: snap.depths.get(k, 0)
            for k in ("incoming", "inboxes", "processing", "outgoing", "failed")
        },
        "queue": {"where": snap.queue, "problem": snap.queue_problem},
        "node": snap.node,
        "actors": [
            {
                "name": a.name,
                "runner": a.runner,
                "inbox": a.inbox,
                "running": a.running.id if a.running else None,
            }
            for a in snap.actors
        ],
        "in_flight": [
            {
                "actor": r.actor,
                "id": r.id,
                "elapsed": round(r.elapsed, 3),
                "origin": r.origin,
                "text": r.text,
            }
            for r in snap.in_flight
        ],
        "failures": {
            "count": snap.failures_count,
            "latest": [{"name": f.name, "reason": f.reason, "at": f.at} for f in snap.failures],
        },
    }
