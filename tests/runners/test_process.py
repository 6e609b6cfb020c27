"""Running a CLI process: lines stream live, and a stopped run leaves nothing behind.

Real subprocesses (small Python and shell scripts) except for one test of the stopping logic with
a scripted child and a manual clock, so the grace period needs no real waiting.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import psutil
import pytest

from tinyclaw.runners.process import Child, ProcessOutcome, ProcessRunner, live_group_members

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def run(
    argv: Sequence[str],
    cwd: Path,
    *,
    timeout: float = 20.0,
    cancel: threading.Event | None = None,
    runner: ProcessRunner | None = None,
) -> tuple[ProcessOutcome, list[str], list[int]]:
    lines: list[str] = []
    pids: list[int] = []
    outcome = (runner or ProcessRunner(grace=0.5)).run(
        argv,
        cwd=cwd,
        env=ENV,
        timeout=timeout,
        on_line=lines.append,
        on_start=pids.append,
        cancel=cancel,
    )
    return outcome, lines, pids


def alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def test_lines_stream_in_order_and_the_exit_code_is_kept(tmp_path: Path) -> None:
    outcome, lines, pids = run(
        python(
            """
            import sys
            for word in ("one", "two", "three"):
                print(word, flush=True)
            sys.stderr.write("a warning\\n")
            sys.exit(3)
            """
        ),
        tmp_path,
    )
    assert lines == ["one\n", "two\n", "three\n"]
    assert outcome.exit_code == 3
    assert outcome.stderr == "a warning\n"
    assert pids == [outcome.pid]
    assert not (outcome.timed_out or outcome.cancelled or outcome.not_found)


def test_stdin_is_closed_and_the_workspace_is_created(tmp_path: Path) -> None:
    workspace = tmp_path / "actors" / "coder" / "workspace"
    outcome, lines, _ = run(
        python("import os, sys; print(repr(sys.stdin.read()), os.getcwd())"), workspace
    )
    assert lines == [f"'' {workspace}\n"]
    assert outcome.exit_code == 0


def sh(script: str) -> list[str]:
    """A shell child: it starts in milliseconds, so a short timeout cannot fire before
    it has done its set-up, even on a loaded machine."""
    return ["sh", "-c", script]


def test_a_timeout_stops_the_whole_process_group(tmp_path: Path) -> None:
    outcome, lines, pids = run(sh("sleep 60 & echo $!; sleep 60"), tmp_path, timeout=2.0)
    assert outcome.timed_out
    grandchild = int(lines[0])
    assert not alive(grandchild)
    assert live_group_members(pids[0]) == []


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    # An ignored signal stays ignored across exec: the shell and its sleep both shrug.
    outcome, lines, pids = run(
        sh("trap '' TERM; echo ready; sleep 60"),
        tmp_path,
        timeout=2.0,
        runner=ProcessRunner(grace=0.3),
    )
    assert lines == ["ready\n"]
    assert outcome.timed_out
    assert outcome.exit_code == -signal.SIGKILL
    assert live_group_members(pids[0]) == []


def test_cancel_stops_a_running_process(tmp_path: Path) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    outcome, _, pids = run(python("import time; time.sleep(60)"), tmp_path, cancel=cancel)
    timer.cancel()
    assert outcome.cancelled and not outcome.timed_out
    assert live_group_members(pids[0]) == []


def test_a_background_job_holding_stdout_neither_blocks_nor_survives(tmp_path: Path) -> None:
    outcome, lines, pids = run(
        python(
            """
            import subprocess
            job = subprocess.Popen(["sleep", "60"])  # inherits our stdout
            print("started", job.pid, flush=True)
            """
        ),
        tmp_path,
        timeout=30.0,
    )
    assert not outcome.timed_out and outcome.exit_code == 0
    job = int(lines[0].split()[1])
    assert not alive(job)
    assert live_group_members(pids[0]) == []


def test_a_daemon_escaping_the_group_does_not_block_the_run(tmp_path: Path) -> None:
    outcome, lines, _ = run(
        python(
            """
            import subprocess
            job = subprocess.Popen(["setsid", "sleep", "60"])  # own session, holds stdout
            print(job.pid, flush=True)
            """
        ),
        tmp_path,
        runner=ProcessRunner(grace=0.2),
    )
    assert outcome.exit_code == 0 and not outcome.timed_out
    psutil.Process(int(lines[0])).kill()  # out of our reach by design; clean up


def test_stderr_is_bounded_to_its_tail(tmp_path: Path) -> None:
    outcome, _, _ = run(
        python(
            """
            import sys
            sys.stderr.write("x" * 300_000)
            sys.stderr.write("THE END")
            """
        ),
        tmp_path,
    )
    assert len(outcome.stderr) <= 64 * 1024
    assert outcome.stderr.endswith("THE END")


def test_a_missing_binary_is_not_found(tmp_path: Path) -> None:
    outcome, _, pids = run([str(tmp_path / "no-such-cli")], tmp_path)
    assert outcome.not_found and outcome.exit_code is None and pids == []


def test_a_file_that_is_not_executable_is_a_spawn_error(tmp_path: Path) -> None:
    script = tmp_path / "cli"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    outcome, _, _ = run([str(script)], tmp_path)
    if os.geteuid() == 0 and os.access(script, os.X_OK):
        pytest.skip("root may execute anything here")
    assert outcome.spawn_error is not None and not outcome.not_found


def test_a_failing_event_sink_does_not_leave_the_cli_running(tmp_path: Path) -> None:
    pids: list[int] = []

    def explode(line: str) -> None:
        raise RuntimeError("sink is broken")

    with pytest.raises(RuntimeError):
        ProcessRunner(grace=0.5).run(
            python("import time; print('hi', flush=True); time.sleep(60)"),
            cwd=tmp_path,
            env=ENV,
            timeout=20,
            on_line=explode,
            on_start=pids.append,
        )
    assert live_group_members(pids[0]) == []


# -- the stopping logic alone: a scripted child and a manual clock ------------------------


class StubbornChild:
    """Never exits by itself and ignores SIGTERM; only SIGKILL ends it."""

    def __init__(self) -> None:
        self.signals: list[int] = []
        self._stdout = io.BytesIO(b'{"type": "system"}\n')
        self._stderr = io.BytesIO(b"")
        self._code: int | None = None

    @property
    def pid(self) -> int:
        return 424242

    @property
    def stdout(self) -> IO[bytes]:
        return self._stdout

    @property
    def stderr(self) -> IO[bytes]:
        return self._stderr

    def poll(self) -> int | None:
        return self._code

    def wait(self, timeout: float | None = None) -> int:
        if self._code is None:
            assert timeout is not None, "wait() on a live child would block forever"
            raise subprocess.TimeoutExpired("cli", timeout)
        return self._code

    def signal_group(self, sig: int) -> bool:
        self.signals.append(sig)
        if sig == signal.SIGKILL:
            self._code = -signal.SIGKILL
        return self._code is None

    def group_alive(self) -> bool:
        return self._code is None


class ManualClock:
    """Each reading moves time on by one second: a 600 s timeout passes at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_timeout_then_sigterm_then_sigkill_with_an_injected_spawner(tmp_path: Path) -> None:
    child = StubbornChild()

    def spawner(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> Child:
        return child

    lines: list[str] = []
    runner = ProcessRunner(spawner=spawner, clock=ManualClock(), grace=5.0, poll_interval=0.001)
    outcome = runner.run(["cli"], cwd=tmp_path, env={}, timeout=600.0, on_line=lines.append)
    assert outcome.timed_out
    assert child.signals[0] == signal.SIGTERM and child.signals[-1] == signal.SIGKILL
    assert outcome.exit_code == -signal.SIGKILL


class _Turn:
    """A minimal live protocol (the ``Duplex`` a live runner passes): it sends one
    line at start, records what it was asked to do, and is done when told so."""

    def __init__(self) -> None:
        self.send: object = None
        self.interrupts = 0
        self.done = False

    def started(self, send: object) -> None:
        self.send = send
        send({"hello": "cli"})  # type: ignore[operator]

    def tick(self) -> None:
        return None

    def interrupt(self) -> bool:
        self.interrupts += 1
        return self.send({"interrupt": True})  # type: ignore[operator,no-any-return]

    @property
    def finished(self) -> bool:
        return self.done


def test_a_live_cli_reads_its_stdin_and_an_interrupt_it_obeys_ends_the_run_cleanly(
    tmp_path: Path,
) -> None:
    cli = python(
        """
        import sys
        for line in sys.stdin:
            print("got", line.strip(), flush=True)
            if "interrupt" in line:
                break
        """
    )
    cancel = threading.Event()
    turn = _Turn()
    lines: list[str] = []
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    outcome = ProcessRunner(grace=5).run(
        cli, cwd=tmp_path, env=ENV, timeout=20, on_line=lines.append, cancel=cancel, duplex=turn
    )
    timer.cancel()
    assert [line.strip() for line in lines] == ['got {"hello": "cli"}', 'got {"interrupt": true}']
    assert outcome.cancelled and outcome.exit_code == 0  # it ended by itself, not killed
    assert turn.interrupts == 1


def test_a_live_cli_that_ignores_the_interrupt_is_stopped_after_the_grace_period(
    tmp_path: Path,
) -> None:
    cli = python("import sys, time\nfor line in sys.stdin: pass\ntime.sleep(60)")
    cancel = threading.Event()
    cancel.set()
    pids: list[int] = []
    outcome = ProcessRunner(grace=0.5).run(
        cli,
        cwd=tmp_path,
        env=ENV,
        timeout=20,
        on_line=lambda line: None,
        on_start=pids.append,
        cancel=cancel,
        duplex=_Turn(),
    )
    assert outcome.cancelled and outcome.exit_code is not None and outcome.exit_code < 0
    assert live_group_members(pids[0]) == []


def test_a_run_reads_its_output_without_starting_threads(tmp_path: Path) -> None:
    """stdout and stderr are read through one selector on the run's own thread: a
    worker running many short CLIs starts no thread pair per run."""
    before = {t.ident for t in threading.enumerate()}
    during: list[set[int | None]] = []

    def on_line(line: str) -> None:
        during.append({t.ident for t in threading.enumerate()} - before)

    outcome = ProcessRunner().run(
        sh("echo one; echo noise >&2; echo two; printf 'no newline'"),
        cwd=tmp_path,
        env=ENV,
        timeout=30,
        on_line=on_line,
    )
    assert outcome.exit_code == 0 and outcome.stderr == "noise\n"
    assert len(during) == 3 and all(extra == set() for extra in during)


def test_a_cli_that_closes_stdout_and_keeps_writing_stderr_is_not_blocked(
    tmp_path: Path,
) -> None:
    """More stderr than a pipe holds, after stdout closed: it is read while the run
    waits for the exit, and its tail is kept."""
    outcome = ProcessRunner().run(
        python(
            """
            import os, sys
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # our stdout pipe closes
            sys.stderr.write("y" * 200_000 + "THE END")
            """
        ),
        cwd=tmp_path,
        env=ENV,
        timeout=30,
        on_line=lambda line: None,
    )
    assert not outcome.timed_out and outcome.exit_code == 0
    assert outcome.stderr.endswith("THE END")
