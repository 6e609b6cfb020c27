"""Run one CLI process: stream its stdout, bound its stderr, stop it on time.

The CLI starts in a process group of its own (``start_new_session``) because it is
never alone: node launchers, shells and whatever commands the model runs are its
children. Stopping it therefore means signalling the *group*: SIGTERM, a grace period,
then SIGKILL. A run owns its group, so after a normal exit any leftover member (a
background job the model started) is stopped too, and nothing outlives the run.

stdin is ``/dev/null`` for a one-shot run: both CLIs read piped input until EOF and
append it to the prompt (codex waits forever on an open pipe, claude for 3 s). A live
run (a :class:`~tinyclaw.runners.live_protocol.Duplex` passed to ``run``) gets a pipe instead,
written only from the loop's thread and closed as soon as the final answer is in.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import select
import selectors
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tinyclaw.runners.live_protocol import Duplex

log = logging.getLogger("tinyclaw.runner")

STDERR_LIMIT = 64 * 1024
# After the CLI exits, how long to keep reading a stdout that a leftover child holds.
_DRAIN_AFTER_EXIT = 0.5


class Child(Protocol):
    """A started process, as the loop needs it; ``PopenChild`` is the real one."""

    @property
    def pid(self) -> int: ...

    @property
    def stdout(self) -> IO[bytes]: ...

    @property
    def stderr(self) -> IO[bytes]: ...

    @property
    def stdin(self) -> IO[bytes] | None:
        """The pipe to the process, for a live run; None when stdin is /dev/null."""
        ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the whole group; False if no member is left."""
        ...

    def group_alive(self) -> bool:
        """Whether any member of the group still runs (zombies do not count)."""
        ...


class GroupRecorder(Protocol):
    """Where a run records its process group while it lives (``groups.GroupLedger``),
    so a worker that dies mid-run does not leave the group working unsupervised."""

    def add(self, pid: int) -> None: ...

    def remove(self, pid: int) -> None: ...


class Spawner(Protocol):
    def __call__(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], live: bool = False
    ) -> Child: ...


class PopenChild:
    """A ``subprocess.Popen`` leading its own process group."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        assert popen.stdout is not None and popen.stderr is not None
        self._stdout = popen.stdout
        self._stderr = popen.stderr
        self._stdin = popen.stdin
        # Readable once the process exits: a wait with a timeout blocks on it instead
        # of Popen's sleep-and-poll (which adds up to its sleep to every run's end).
        self._pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self._pidfd = os.pidfd_open(popen.pid)

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def stdout(self) -> IO[bytes]:
        return self._stdout

    @property
    def stderr(self) -> IO[bytes]:
        return self._stderr

    @property
    def stdin(self) -> IO[bytes] | None:
        return self._stdin

    def poll(self) -> int | None:
        return self._popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        if timeout is not None and self._pidfd is not None and self._popen.returncode is None:
            select.select([self._pidfd], [], [], timeout)
            code = self._popen.poll()
            if code is None:
                raise subprocess.TimeoutExpired(self._popen.args, timeout)
        code = self._popen.wait(timeout)
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        return code

    def signal_group(self, sig: int) -> bool:
        # The group id is the leader's pid; Linux does not reuse a pid while a group
        # of that id still has members, so this cannot hit a stranger.
        try:
            os.killpg(self._popen.pid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:  # only zombies or foreign processes left
            return False
        return True

    def group_alive(self) -> bool:
        # Fast path, taken after almost every run: no member at all, not even a zombie.
        if not self.signal_group(0):
            return False
        members = live_group_members(self._popen.pid)
        if members is None:  # no /proc: ask the kernel, zombies included
            return self.signal_group(0)
        return bool(members)


def live_group_members(pgid: int) -> list[int] | None:
    """Pids of the non-zombie processes in group ``pgid``, or None without ``/proc``.

    Zombies matter because an orphan is reparented to pid 1, and a pid 1 that does not
    reap (common in containers) leaves it in the group forever: ``killpg(pgid, 0)``
    would then report the group alive after everything in it has died.
    """
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    members = []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def popen_spawner(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], live: bool = False
) -> Child:
    """The real spawner: a new session, pipes for stdout and stderr; stdin is a pipe
    for a live run, else /dev/null."""
    popen = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.PIPE if live else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
    )
    return PopenChild(popen)


@dataclass(frozen=True)
class ProcessOutcome:
    """How the process ended. ``spawn_error`` set means it never started."""

    exit_code: int | None
    stderr: str
    duration_s: float
    pid: int | None = None
    timed_out: bool = False
    cancelled: bool = False
    not_found: bool = False
    spawn_error: str | None = None


class _Tail:
    """The last ``limit`` bytes of a stream: a chatty CLI cannot fill our memory."""

    def __init__(self, limit: int) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._limit = limit

    def add(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._size += len(chunk)
        while self._size > self._limit and len(self._chunks) > 1:
            self._size -= len(self._chunks.popleft())

    def text(self) -> str:
        data = b"".join(self._chunks)[-self._limit :]
        return data.decode("utf-8", "replace")


def _pump_lines(stream: IO[bytes], sink: queue.Queue[bytes | None]) -> None:
    try:
        for line in iter(stream.readline, b""):
            sink.put(line)
    except (OSError, ValueError):  # closed under us while stopping
        pass
    finally:
        sink.put(None)


def _pump_tail(stream: IO[bytes], tail: _Tail) -> None:
    try:
        for chunk in iter(lambda: stream.read1(8192), b""):  # type: ignore[attr-defined]
            tail.add(chunk)
    except (OSError, ValueError):
        pass


class _Output(Protocol):
    """The child's output as the run loop reads it: stdout line by line (None once it
    closed; ``queue.Empty`` when nothing came within the timeout), stderr into a
    bounded tail on the side."""

    def get(self, timeout: float) -> bytes | None: ...

    def get_nowait(self) -> bytes | None: ...

    def side(self) -> None:
        """Read what stderr holds now, without waiting (stdout is closed, the loop
        waits for the exit: a CLI writing much to stderr must not block on it)."""
        ...

    def finish(self, grace: float) -> bool:
        """Read on until both streams close, at most ``grace`` seconds; True if they
        did (the streams are then closed)."""
        ...


class _Threaded:
    """Two reader threads and a queue: for streams without a file descriptor (a
    scripted child in a test)."""

    def __init__(self, child: Child, tail: _Tail) -> None:
        self._child = child
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._readers = [
            threading.Thread(target=_pump_lines, args=(child.stdout, self._lines), daemon=True),
            threading.Thread(target=_pump_tail, args=(child.stderr, tail), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def get(self, timeout: float) -> bytes | None:
        return self._lines.get(timeout=timeout)

    def get_nowait(self) -> bytes | None:
        return self._lines.get_nowait()

    def side(self) -> None:
        return None  # the stderr thread reads on its own

    def finish(self, grace: float) -> bool:
        for reader in self._readers:
            reader.join(timeout=grace)
        if any(reader.is_alive() for reader in self._readers):
            # Closing the pipes under a blocked reader could block us too: leave the
            # reader threads (daemons) to finish when the holder lets go.
            return False
        self._child.stdout.close()
        self._child.stderr.close()
        return True


class _Selected:
    """Both pipes read on the run's own thread through one selector: no thread is
    started per run, and a line is handed over without a queue."""

    def __init__(self, child: Child, tail: _Tail) -> None:
        self._child = child
        self._tail = tail
        self._out = child.stdout.fileno()
        self._selector = selectors.DefaultSelector()
        for stream in (child.stdout, child.stderr):
            os.set_blocking(stream.fileno(), False)
            self._selector.register(stream.fileno(), selectors.EVENT_READ)
        self._partial = bytearray()
        self._lines: deque[bytes | None] = deque()
        self._closed = False

    def _pump(self, timeout: float) -> None:
        if self._closed or not self._selector.get_map():
            return
        for key, _ in self._selector.select(timeout):
            try:
                data = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                self._selector.unregister(key.fd)
                if key.fd == self._out:
                    if self._partial:
                        self._lines.append(bytes(self._partial))
                        self._partial.clear()
                    self._lines.append(None)
            elif key.fd == self._out:
                self._partial += data
                end = self._partial.rfind(b"\n")
                if end >= 0:
                    whole = bytes(self._partial[:end])
                    del self._partial[: end + 1]
                    self._lines.extend(line + b"\n" for line in whole.split(b"\n"))
            else:
                self._tail.add(data)

    def side(self) -> None:
        self._pump(0)  # stderr, while the loop waits for the exit

    def get(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while not self._lines:
            left = deadline - time.monotonic()
            if left <= 0 or self._closed or not self._selector.get_map():
                raise queue.Empty
            self._pump(left)
        return self._lines.popleft()

    def get_nowait(self) -> bytes | None:
        if not self._lines:
            self._pump(0)
        if not self._lines:
            raise queue.Empty
        return self._lines.popleft()

    def finish(self, grace: float) -> bool:
        deadline = time.monotonic() + grace
        while self._selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._pump(left)
        done = not self._selector.get_map()
        self._closed = True
        self._selector.close()
        # Nothing blocks on these pipes (no reader thread), so closing them is safe
        # even while a process outside the group still holds the other end.
        self._child.stdout.close()
        self._child.stderr.close()
        return done


def _output(child: Child, tail: _Tail) -> _Output:
    try:
        child.stdout.fileno()
        child.stderr.fileno()
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both
        return _Threaded(child, tail)
    return _Selected(child, tail)


class _Pipe:
    """The write end of a live CLI's stdin: one JSON object per line, flushed; a
    broken pipe (the CLI is gone) turns every later send into a no-op."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        self._stream = stream
        self.closed = stream is None

    def send(self, obj: dict[str, Any]) -> bool:
        if self.closed or self._stream is None:
            return False
        data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError):
            self.close()
            return False
        return True

    def close(self) -> None:
        if self._stream is not None and not self.closed:
            with contextlib.suppress(OSError, ValueError):
                self._stream.close()
        self.closed = True


class ProcessRunner:
    """Runs argv to completion, a timeout, or a cancel; never leaves processes behind.

    ``spawner`` and ``clock`` are injectable so the stopping logic can be tested
    without real processes; ``grace`` is the SIGTERM → SIGKILL delay; ``ledger``
    records each group while it runs (the worker passes ``state/runs/``).
    """

    def __init__(
        self,
        spawner: Spawner = popen_spawner,
        clock: Callable[[], float] = time.monotonic,
        grace: float = 2.0,
        poll_interval: float = 0.05,
        stderr_limit: int = STDERR_LIMIT,
        ledger: GroupRecorder | None = None,
    ) -> None:
        self._spawner = spawner
        self._ledger = ledger
        self._clock = clock
        self._grace = grace
        self._poll = poll_interval
        self._stderr_limit = stderr_limit

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        timeout: float,
        on_line: Callable[[str], None],
        on_start: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
        duplex: Duplex | None = None,
    ) -> ProcessOutcome:
        start = self._clock()
        try:
            cwd.mkdir(parents=True, exist_ok=True)
            if duplex is None:
                child = self._spawner(argv, cwd=cwd, env=env)
            else:
                child = self._spawner(argv, cwd=cwd, env=env, live=True)
        except FileNotFoundError as exc:
            # Either the binary or the workspace is missing; tell them apart.
            missing_binary = exc.filename is None or str(exc.filename) != str(cwd)
            return ProcessOutcome(
                None,
                "",
                self._clock() - start,
                not_found=missing_binary,
                spawn_error=f"{type(exc).__name__}: {exc.strerror or exc}",
            )
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in argv or env
            return ProcessOutcome(
                None, "", self._clock() - start, spawn_error=f"{type(exc).__name__}: {exc}"
            )

        tail = _Tail(self._stderr_limit)
        lines = _output(child, tail)
        timed_out = cancelled = False
        pipe: _Pipe | None = None
        try:
            if self._ledger is not None:
                self._ledger.add(child.pid)
            if on_start is not None:
                on_start(child.pid)
            pipe = _Pipe(child.stdin) if duplex is not None else None
            if duplex is not None and pipe is not None:
                duplex.started(pipe.send)
            timed_out, cancelled = self._loop(
                child, lines, on_line, start + timeout, cancel, duplex, pipe
            )
        finally:
            if pipe is not None:
                pipe.close()
            # poll() reaps an exited leader, so the group checks below see only the
            # processes it left behind, not its own zombie.
            if timed_out or cancelled or child.poll() is None:
                self._stop(child)
            exit_code = child.wait()
            self._stop_leftovers(child)
            if self._ledger is not None:
                self._ledger.remove(child.pid)
            if not lines.finish(self._grace):
                # Something outside the group (a `setsid` daemon) holds our pipes.
                log.warning("pid %s: a process outside its group keeps its output open", child.pid)
        if not timed_out:
            self._drain(lines, on_line)
        return ProcessOutcome(
            exit_code,
            tail.text(),
            self._clock() - start,
            pid=child.pid,
            timed_out=timed_out,
            cancelled=cancelled,
        )

    def _loop(
        self,
        child: Child,
        lines: _Output,
        on_line: Callable[[str], None],
        deadline: float,
        cancel: threading.Event | None,
        duplex: Duplex | None = None,
        pipe: _Pipe | None = None,
    ) -> tuple[bool, bool]:
        """Feed lines until stdout closes and the child exits; report (timeout, cancel).

        A live run is also ticked between lines, its stdin closed once its answer is
        final, and a cancel first asks the CLI to stop its turn: only if it has not
        exited ``grace`` seconds later is the cancel reported, and the group stopped."""
        stdout_open = True
        exited_at: float | None = None
        interrupted_at: float | None = None
        while True:
            if cancel is not None and cancel.is_set():
                if duplex is None or pipe is None or pipe.closed:
                    return False, True
                if interrupted_at is None:
                    interrupted_at = self._clock()
                    if not duplex.interrupt():
                        return False, True
                elif self._clock() - interrupted_at >= self._grace:
                    return False, True
            now = self._clock()
            if now >= deadline:
                return True, False
            if duplex is not None and pipe is not None and not pipe.closed:
                duplex.tick()
                if duplex.finished:
                    pipe.close()  # the answer is in: end of input, the CLI exits
            if stdout_open:
                try:
                    item = lines.get(min(self._poll, max(deadline - now, 0.001)))
                except queue.Empty:
                    item = b""
                if item is None:
                    stdout_open = False
                elif item:
                    on_line(item.decode("utf-8", "replace"))
                    continue
            if child.poll() is not None:
                # An interrupted live run that ended by itself still counts as cancelled.
                if not stdout_open:
                    return False, interrupted_at is not None
                # Exited, but a leftover child still holds stdout: read a little
                # longer, then stop waiting for an EOF that may never come.
                exited_at = exited_at if exited_at is not None else self._clock()
                if self._clock() - exited_at >= _DRAIN_AFTER_EXIT:
                    return False, interrupted_at is not None
            elif not stdout_open:
                # Output is done; block on the exit itself rather than sleeping a
                # whole poll interval after a child that is already on its way out.
                lines.side()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=min(self._poll, max(deadline - self._clock(), 0.001)))

    def _drain(self, lines: _Output, on_line: Callable[[str], None]) -> None:
        while True:
            try:
                item = lines.get_nowait()
            except queue.Empty:
                return
            if item:
                on_line(item.decode("utf-8", "replace"))

    def _stop(self, child: Child) -> None:
        """SIGTERM the group, give it ``grace`` seconds, then SIGKILL what is left."""
        if not child.signal_group(signal.SIGTERM):
            return
        deadline = self._clock() + self._grace
        while self._clock() < deadline:
            if child.poll() is not None and not child.group_alive():
                return
            time.sleep(self._poll)
        log.warning(
            "pid %s ignored SIGTERM for %.1f s: SIGKILL to its group", child.pid, self._grace
        )
        child.signal_group(signal.SIGKILL)

    def _stop_leftovers(self, child: Child) -> None:
        """The CLI exited by itself; background processes it started go with it."""
        if child.group_alive():
            log.info("pid %s exited leaving processes in its group: stopping them", child.pid)
            self._stop(child)
