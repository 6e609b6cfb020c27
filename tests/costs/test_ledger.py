"""The cost ledger and the periods it is summed over: one line per run, counted once
per message id whatever a crash replays, read incrementally, days and months in the
host's time zone."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tinyclaw.config import parse_config
from tinyclaw.costs import CostEntry, CostLedger, first_breach, limits_for, periods_at

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def entry(message_id: str, ts: float, usd: float, **fields: str) -> CostEntry:
    return CostEntry(
        id=message_id,
        ts=ts,
        actor=fields.get("actor", "coder"),
        chat=fields.get("chat", "telegram:42"),
        cost_usd=usd,
        profile=fields.get("profile"),
        identity=fields.get("identity"),
    )


def test_a_run_recorded_twice_after_a_replay_counts_once(tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "costs")
    now = at("2026-12-07 12:00")
    ledger.record(entry("m1", now, 0.5))
    ledger.record(entry("m1", now, 0.5))  # the worker replayed the journaled result
    ledger.record(entry("m2", now + 1, 0.25))

    found = ledger.entries(now - 3600, now + 3600)

    assert sorted((e.id, e.cost_usd) for e in found) == [("m1", 0.5), ("m2", 0.25)]
    lines = (tmp_path / "costs" / "2026-12.jsonl").read_text().splitlines()
    assert len(lines) == 3  # appended, never rewritten; the reader keeps one per id


def test_a_line_torn_by_a_crash_is_skipped_and_the_next_run_still_counts(
    tmp_path: Path,
) -> None:
    ledger = CostLedger(tmp_path / "costs")
    now = at("2026-12-07 12:00")
    ledger.record(entry("m1", now, 1.0))
    with (tmp_path / "costs" / "2026-12.jsonl").open("a") as handle:
        handle.write('{"v":1,"id":"torn","ts":')  # the power went out mid-line
    assert [e.id for e in ledger.entries(now - 1, now + 10)] == ["m1"]

    ledger.record(entry("m2", now + 1, 2.0))

    assert sorted(e.id for e in ledger.entries(now - 1, now + 10)) == ["m1", "m2"]
    assert sorted(e.id for e in CostLedger(tmp_path / "costs").entries(now - 1, now + 10)) == [
        "m1",
        "m2",
    ]


def test_a_reader_sees_what_another_process_appended_since_it_last_looked(
    tmp_path: Path,
) -> None:
    reader = CostLedger(tmp_path / "costs")
    writer = CostLedger(tmp_path / "costs")
    now = at("2026-12-07 12:00")
    writer.record(entry("m1", now, 1.0))
    assert len(reader.entries(now - 1, now + 10)) == 1
    writer.record(entry("m2", now, 1.0))
    assert len(reader.entries(now - 1, now + 10)) == 2


def test_foreign_lines_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "costs"
    root.mkdir()
    now = at("2026-12-07 12:00")
    text_cost = json.dumps({"id": "m", "ts": now, "actor": "a", "chat": "c", "cost_usd": "1"})
    (root / "2026-12.jsonl").write_text(f'[1,2]\n{{"id":"x"}}\nnot json\n{text_cost}\n')
    assert CostLedger(root).entries(now - 1, now + 1) == []


def test_days_and_months_end_at_midnight_in_the_hosts_zone() -> None:
    periods = periods_at(at("2026-12-31 23:30"), BERLIN)

    assert (periods.day, periods.month) == ("2026-12-31", "2026-12")
    assert periods.day_end == periods.month_end == at("2027-01-01 00:00")
    assert periods.month_start == at("2026-12-01 00:00")
    assert periods.when(periods.day_end) == "2027-01-01 00:00 CET"
    assert periods.zone_name() == "Europe/Berlin"


def test_a_month_in_local_time_reads_the_utc_month_files_it_overlaps(tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "costs")
    # 00:30 on 1 December in Berlin is still November in UTC.
    early = at("2026-12-01 00:30")
    ledger.record(entry("early", early, 1.0))
    periods = periods_at(at("2026-12-07 12:00"), BERLIN)

    found = ledger.entries(periods.month_start, periods.month_end)

    assert [e.id for e in found] == ["early"]
    assert (tmp_path / "costs" / "2026-11.jsonl").exists()


def test_an_actor_limit_and_a_persons_limit_are_each_reached_at_their_amount() -> None:
    config = parse_config(
        {
            "actors": {"coder": {"max_usd_per_day": 1.0}, "writer": {}},
            "pairing": {"max_usd_per_month": 5.0, "profiles": {"boss": {}}},
        }
    )
    periods = periods_at(at("2026-12-07 12:00"), BERLIN)
    yesterday = at("2026-12-06 12:00")
    today = at("2026-12-07 09:00")
    spent = [
        entry("a", yesterday, 4.0, profile="alice"),
        entry("b", today, 0.6, profile="alice"),
    ]

    alice = limits_for(config, "coder", "alice", "alice", owner=False)
    assert first_breach(spent, alice, periods) is None  # $0.60 today, $4.60 this month

    spent.append(entry("c", today, 0.5, profile="bob"))
    breach = first_breach(spent, alice, periods)
    assert breach is not None and breach.limit.key == "actor:coder:day"
    assert breach.spent == pytest.approx(1.1) and breach.resets_at == periods.day_end

    spent.append(entry("d", today, 0.4, actor="writer", profile="alice"))
    breach = first_breach(spent, limits_for(config, "writer", "alice", "alice", False), periods)
    assert breach is not None and breach.limit.key == "profile:alice:month"
    assert breach.resets_at == periods.month_end

    # An owner has no default limit; a profile with its own (empty) section neither.
    assert limits_for(config, "writer", "owner", "owner", owner=True) == []
    assert limits_for(config, "writer", "boss", "boss", owner=False) == []
    assert [lim.key for lim in limits_for(config, "writer", "telegram:9", None, False)] == [
        "profile:telegram:9:month"
    ]
