"""The bad-input corpus: every kind of queue file and workspace trap a worker may meet.

Each :class:`Case` plants one bad input into a home (a file dropped into
``queue/incoming``, an inbox or ``processing/``, a symlink or FIFO, a trap in an
actor's workspace) and says how it must end: in ``failed/`` with a reason mentioning
``says``, or with a reply (``reply``: answered; ``error``: a clear error reply;
``refused``: answered, with the file it asked for refused). :func:`run_corpus` plants
them all, runs a real worker process over them and checks the promises that hold for
every case at once: the worker never dies or hangs, and nothing outside the home is
read or written (a sentinel file next to the home keeps its bytes and mtime, and its
secret content never appears in any file of the home).

A case with ``known_bug`` does not behave as specified yet; the text says why and
where the fix goes. It still counts as *handled* when it reached an end state without
a crash, a hang or a leak. ``isolated`` cases get their own home and worker: before
their fix they stop the worker loop (a FIFO blocks ``open``), which must not hide
the outcome of the others.

Used by ``tests/reliability/test_bad_input.py`` and ``scripts/bench_reliability.py``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import psutil

from tinyclaw.core.events import EventLog
from tinyclaw.core.fsutil import atomic_write, unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.messages import load_reply
from tinyclaw.spool import Spool

REPO = Path(__file__).resolve().parents[2]
FAKE_CLI = REPO / "scripts" / "fake-cli"
Expect = Literal["failed", "reply", "error", "refused"]
MEMORY_GUARD = 1_000_000_000  # a worker above 1 GB RSS is reading something endless


def fake_cli_toml(extra_worker: str = "") -> str:
    """Two actors on scripts/fake-cli; fast scans and no retry backoff."""
    return "\n".join(
        [
            "[worker]",
            "concurrency = 2",
            "scan_interval = 0.3",
            "retry_backoff = 0",
            "stop_timeout = 2",
            extra_worker,
            "[runners.claude]",
            f"command = {json.dumps(str(FAKE_CLI))}",
            "[actors.assistant]",
            "[actors.coder]",
            'description = "writes code"',
            "",
        ]
    )


@dataclass(frozen=True)
class Lab:
    """A home with a sentinel folder beside it (outside it) that must stay untouched."""

    home: Home
    outside: Path
    secret: str

    @classmethod
    def create(cls, root: Path) -> Lab:
        home = Home(root / "home")
        home.ensure()
        home.config_file.write_text(fake_cli_toml(), encoding="utf-8")
        outside = root / "outside"
        outside.mkdir(exist_ok=True)
        secret = "SENTINEL-" + secrets.token_hex(12)
        (outside / "sentinel.txt").write_text(secret + "\n", encoding="utf-8")
        lab = cls(home, outside, secret)
        for actor in ("assistant", "coder"):
            (home.actors / actor / "workspace").mkdir(parents=True, exist_ok=True)
        return lab

    @property
    def spool(self) -> Spool:
        return Spool(self.home)

    @property
    def sentinel(self) -> Path:
        return self.outside / "sentinel.txt"

    @property
    def workspace(self) -> Path:
        return self.home.actors / "assistant" / "workspace"

    def message(self, text: str, **fields: Any) -> dict[str, Any]:
        return {
            "id": unique_name(),
            "channel": "cli",
            "chat_id": "corpus",
            "sender": {"id": "me", "name": "Me"},
            "text": text,
            **fields,
        }

    def drop(self, name: str, data: bytes, box: Path | None = None) -> str:
        """Put raw bytes into a box the way a writer would (tmp, then rename)."""
        target = (box or self.spool.incoming) / name
        atomic_write(target, data, tmp_dir=self.spool.tmp, durable=False)
        return name

    def drop_message(self, text: str, **fields: Any) -> str:
        """Queue a message built from ``fields``; returns its file name (the id, unless
        the id itself is the bad input)."""
        body = self.message(text, **fields)
        ident = body["id"]
        name = (
            f"{ident}.json"
            if isinstance(ident, str) and ident.isascii() and "/" not in ident
            else f"odd-{unique_name()}.json"
        )
        return self.drop(name, json.dumps(body).encode())

    def snapshot_outside(self) -> dict[str, tuple[int, int, bytes]]:
        """(size, mtime_ns, bytes) of every file outside the home that we made."""
        return {
            str(p): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(self.outside.rglob("*"))
            if p.is_file()
        }


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    plant: Callable[[Lab], str]  # returns the planted file name or message id
    expect: Expect
    says: str = ""
    known_bug: str = ""
    isolated: bool = False
    runs_first: bool = False  # fails only after a CLI run (its reply cannot be written)


@dataclass
class Outcome:
    case: Case
    got: str  # failed / reply / error / refused / none
    detail: str = ""
    leaked: bool = False
    ran: bool = False  # the worker started a CLI for it (events.jsonl: run.start)

    @property
    def handled(self) -> bool:
        """Reached an end state, with the secret nowhere in it."""
        return self.got != "none" and not self.leaked

    @property
    def as_expected(self) -> bool:
        return (
            self.handled
            and self.got == self.case.expect
            and self.case.says.lower() in self.detail.lower()
        )


@dataclass
class CorpusRun:
    outcomes: list[Outcome] = field(default_factory=list)
    crashes: int = 0  # worker exited on its own, hung, or needed the memory guard
    problems: list[str] = field(default_factory=list)  # leaks, outside changes, ...

    @property
    def handled(self) -> int:
        return sum(o.handled for o in self.outcomes)

    def merge(self, other: CorpusRun) -> None:
        self.outcomes += other.outcomes
        self.crashes += other.crashes
        self.problems += other.problems


# -- running -------------------------------------------------------------------------


def worker_env(lab: Lab) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_KEY", "_SECRET"))}
    env.pop("TINYCLAW_FAILPOINT", None)
    user = lab.home.root.parent / "user-home"
    user.mkdir(exist_ok=True)
    return {**env, "TINYCLAW_HOME": str(lab.home.root), "HOME": str(user)}


def start_worker(lab: Lab) -> subprocess.Popen[bytes]:
    log = (lab.home.logs / "corpus-worker.stderr").open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "tinyclaw", "worker"],
            cwd=REPO,
            env=worker_env(lab),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    finally:
        log.close()


def observe(lab: Lab, case: Case, planted: str) -> Outcome:
    """Where the planted input ended up, if anywhere yet."""
    spool = lab.spool
    name = planted if planted.endswith(".json") else f"{planted}.json"
    # A queue file keeps its name in failed/; an actor's outbox file is renamed
    # outbox-<actor>-<unique>-<name>; its schedule file goes to schedules/failed/.
    for reason_file in [
        spool.failed / f"{name}.reason",
        *spool.failed.glob(f"outbox-*-{name}.reason"),
    ]:
        if reason_file.exists():
            reason = json.loads(reason_file.read_text(encoding="utf-8"))["reason"]
            return Outcome(case, "failed", reason, lab.secret in reason)
    refused_schedule = lab.workspace / "schedules" / "failed" / f"{name}.reason"
    if refused_schedule.exists():
        reason = refused_schedule.read_text(encoding="utf-8")
        return Outcome(case, "failed", reason, lab.secret in reason)
    reply_file = spool.outgoing("cli") / name
    if reply_file.exists():
        reply = load_reply(reply_file.read_bytes())
        got = "reply"
        if reply.kind == "error":
            got = "error"
        elif "(Not sent:" in reply.text and not reply.files:
            got = "refused"
        leaked = lab.secret in reply.text or any(lab.secret in f for f in reply.files)
        return Outcome(case, got, reply.text, leaked)
    return Outcome(case, "none")


def _ran_ids(lab: Lab) -> set[str]:
    """The message ids a CLI was started for, from the worker's event log."""
    events = EventLog(lab.home.logs / "events.jsonl").read()
    return {str(e.get("id")) for e in events if e.get("event") == "run.start"}


def _secret_files(lab: Lab) -> list[str]:
    """Regular files of the home whose bytes contain the secret (symlinks not followed)."""
    needle = lab.secret.encode()
    found = []
    for dirpath, _dirs, files in os.walk(lab.home.root):
        for file in files:
            path = Path(dirpath) / file
            if path.is_symlink() or not path.is_file():
                continue
            if needle in path.read_bytes():
                found.append(str(path.relative_to(lab.home.root)))
    return found


def _stop(worker: subprocess.Popen[bytes], run: CorpusRun, label: str) -> None:
    """SIGTERM must stop a healthy worker cleanly (exit 0) within a few seconds."""
    worker.send_signal(signal.SIGTERM)
    try:
        status = worker.wait(15)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        run.crashes += 1
        run.problems.append(f"{label}: the worker hung (did not stop on SIGTERM)")
        return
    if status != 0:
        run.problems.append(f"{label}: the worker exited {status} on SIGTERM")


def _release(lab: Lab, planted: dict[str, str]) -> None:
    """Unblock a worker stuck opening a FIFO, so it can be stopped."""
    for name in planted.values():
        path = lab.spool.incoming / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        os.close(fd)


QUIET = 10.0  # seconds without any case settling before the canary goes in / we give up
# (long enough for a worker starting on a loaded machine; a healthy run never waits it)


def _over_memory(worker: subprocess.Popen[bytes]) -> bool:
    try:
        return bool(psutil.Process(worker.pid).memory_info().rss > MEMORY_GUARD)
    except psutil.NoSuchProcess:
        return False


def run_corpus(lab: Lab, cases: list[Case], *, timeout: float = 30.0) -> CorpusRun:
    """Plant ``cases`` into ``lab``, run one worker over them, and judge every outcome.

    A canary message goes in once every case settled (or nothing settled for
    ``QUIET`` seconds); its reply proves the worker still serves after all of it.
    """
    run = CorpusRun()
    label = cases[0].name if len(cases) == 1 else f"{len(cases)} shared cases"
    planted = {case.name: case.plant(lab) for case in cases}
    before = lab.snapshot_outside()
    worker = start_worker(lab)
    canary: Path | None = None
    outcomes: dict[str, Outcome] = {}
    deadline = time.monotonic() + timeout
    last_change = time.monotonic()
    while time.monotonic() < deadline and worker.poll() is None:
        for case in cases:
            if case.name not in outcomes:
                outcome = observe(lab, case, planted[case.name])
                if outcome.got != "none":
                    outcomes[case.name] = outcome
                    last_change = time.monotonic()
        quiet = time.monotonic() - last_change > QUIET
        if canary is None and (len(outcomes) == len(cases) or quiet):
            name = lab.drop_message("canary: still alive?")
            canary = lab.spool.outgoing("cli") / name
        if canary is not None and canary.exists() and (len(outcomes) == len(cases) or quiet):
            break
        if _over_memory(worker):
            worker.kill()
            worker.wait()
            run.crashes += 1
            run.problems.append(f"{label}: the worker read past 1 GB (memory guard killed it)")
            break
        time.sleep(0.05)
    if worker.poll() is None:
        if canary is None or not canary.exists():
            run.crashes += 1
            run.problems.append(f"{label}: the worker stopped serving (no reply to a canary)")
            _release(lab, planted)
        _stop(worker, run, label)
    elif worker.returncode != -signal.SIGKILL:  # not the memory guard: it died by itself
        run.crashes += 1
        run.problems.append(f"{label}: the worker exited by itself ({worker.returncode})")
    ran = _ran_ids(lab)
    for case in cases:
        outcome = outcomes.get(case.name) or observe(lab, case, planted[case.name])
        outcome.ran = planted[case.name].removesuffix(".json") in ran
        run.outcomes.append(outcome)
    run.problems += [
        f"{o.case.name}: the secret reached a {o.got}" for o in run.outcomes if o.leaked
    ]
    if lab.snapshot_outside() != before:
        run.problems.append(f"{label}: files outside the home changed")
    leaked = _secret_files(lab)
    if leaked:
        run.problems.append(f"{label}: the secret appears in {', '.join(leaked[:5])}")
    return run


def run_all(root: Path, cases: list[Case], *, timeout: float = 30.0) -> CorpusRun:
    """Shared cases in one home and worker; each isolated case in a home of its own."""
    shared = [c for c in cases if not c.isolated]
    run = CorpusRun()
    if shared:
        run.merge(run_corpus(Lab.create(root / "shared"), shared, timeout=timeout))
    for case in cases:
        if case.isolated:
            run.merge(run_corpus(Lab.create(root / case.name), [case], timeout=timeout / 3))
    order = {c.name: i for i, c in enumerate(cases)}
    run.outcomes.sort(key=lambda o: order[o.case.name])
    return run
