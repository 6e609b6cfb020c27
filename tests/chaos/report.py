"""The table ``python -m tests.chaos`` prints: the run's figures, then each platform's.

Only the figures present are shown, so a run without a platform has no rows for it.
"""

from __future__ import annotations

from typing import Any

PLATFORMS = ("telegram", "discord", "whatsapp")
TITLES = {"telegram": "Telegram", "discord": "Discord", "whatsapp": "WhatsApp"}

TABLE = [
    ("spool", "queue"),
    ("claim_ttl_s", "  [spool] claim_ttl (s), short for the run"),
    ("lease_ttl_s", "  [spool] lease_ttl (s), short for the run"),
    ("messages", "messages"),
    ("cli_messages", "  queued straight into the spool (the CLI channel)"),
    ("kills", "SIGKILLs (worker)"),
    ("kills_during_startup", "  of them during start-up/recovery"),
    ("listener_kills", "SIGKILLs (listeners)"),
    ("server_kills", "SIGKILLs (one NATS server of three)"),
    ("server_down_s", "  each down (s), then restarted on its store"),
    ("worker_unexpected_exits", "worker exits nobody asked for (restarted)"),
    ("lost", "lost"),
    ("unanswered", "unanswered"),
    ("duplicated", "duplicated (answered or delivered twice)"),
    ("failed_with_reason", "in failed/ (each with a reason)"),
    ("failed_answered_already", "  of them answered already (a copy came back)"),
    ("wrong_replies", "replies to the wrong message"),
    ("error_replies", "error replies"),
    ("cli_reruns", "CLI reruns (killed mid-run)"),
    ("out_of_order", "per-actor order violations"),
    ("left_in_queue", "left in incoming/inboxes/processing/outgoing"),
    ("left_in_journal", "left in the run journal"),
    ("stale_tmp_files", "stale tmp/ files (removed after 10 min)"),
    ("max_restart_to_ready_s", "max kill -> restarted worker ready (s)"),
    ("max_recovery_s", "max recovery time: kill -> next reply (s)"),
    ("mean_recovery_s", "mean recovery time (s)"),
    ("worker_max_recovery_s", "  worker kill -> its node answers again, max (s)"),
    ("worker_mean_recovery_s", "  worker kill -> its node answers again, mean (s)"),
    ("worker_max_restart_to_ready_s", "  worker kill -> restarted node ready, max (s)"),
    ("listener_max_recovery_s", "  listener kill -> next Telegram answer, max (s)"),
    ("listener_mean_recovery_s", "  listener kill -> next Telegram answer, mean (s)"),
    ("listener_max_restart_to_ready_s", "  listener kill -> new listener serving, max (s)"),
    ("server_max_recovery_s", "  server kill -> next answer, max (s)"),
    ("server_mean_recovery_s", "  server kill -> next answer, mean (s)"),
    ("server_max_back_healthy_s", "  server kill -> that server healthy again, max (s)"),
    ("answers_while_a_server_was_down", "answers while a server was down"),
    ("nats_copies_agree", "the servers' copies of every stream agree at the end"),
    ("max_answer_gap_s", "longest gap between two answers (s)"),
]
PLATFORM_TABLE = [
    ("messages", "messages"),
    ("kills", "  SIGKILLs (listener)"),
    ("lost", "  lost"),
    ("failed", "  in failed/ (each with a reason)"),
    ("duplicated", "  resent (in flight at a kill; bound: kills)"),
    ("wrong_chat", "  answers in the wrong chat"),
    ("unexpected_exits", "  listener exits nobody asked for"),
    ("outage_stops", "  stops in a server kill's election (restarted)"),
    ("pending_updates", "  updates left unconfirmed in Telegram"),
    ("held_offline", "  held while no listener was READY"),
    ("redispatched", "  sent again: killed before queuing them"),
    ("webhook_retries", "  webhook POSTs retried (listener down)"),
]


def table_rows(figures: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, label) for the figures present: the run's, then each platform's."""
    rows = [(k, label) for k, label in TABLE if k in figures]
    for p in PLATFORMS:
        rows += [
            (f"{p}_{k}", f"{TITLES[p]} {label}" if k == "messages" else label)
            for k, label in PLATFORM_TABLE
            if f"{p}_{k}" in figures
        ]
    return [*rows, ("elapsed_s", "elapsed (s)")]


def print_table(figures: dict[str, Any]) -> None:
    rows = table_rows(figures)
    width = max(len(label) for _, label in rows)
    for key, label in rows:
        print(f"{label:<{width}}  {figures[key]}")
    print(f"{'result':<{width}}  {'PASS' if figures['ok'] else 'FAIL'}")
    if figures.get("home"):
        print(f"home kept at {figures['home']}")
