"""``tinyclaw doctor``: everything that stops tinyclaw from working, each with its fix.

It checks what the other commands would otherwise find out one failure at a time:
tmux, the two CLIs (found the way the runners find them, and that ``--version``
runs), the tokens of enabled channels (by name: a value is never printed), the
permissions of the home's secrets, and the configuration itself. A *problem* makes
the exit code 1; a *warning* is worth reading but may be intended (a CLI can be
logged in without an API key in the environment).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tinyclaw.config import Config, RunnersConfig, load_config
from tinyclaw.config.dotenv import load_dotenv
from tinyclaw.core.diskspace import describe as describe_disk
from tinyclaw.core.diskspace import read_report
from tinyclaw.core.errors import ConfigError
from tinyclaw.core.home import Home
from tinyclaw.runners.environment import build_cli_env
from tinyclaw.runners.sandbox import Probe, Sandbox, probe_bwrap
from tinyclaw.worker.assembly import PACKAGE_ROOT, cli_search_dirs

Level = Literal["ok", "warning", "problem", "info"]
PINNED = {"claude": "2.1.331", "codex": "0.169.0"}
PACKAGES = {"claude": "@anthropic-ai/claude-code", "codex": "@openai/codex"}
TMUX_FIX = "sudo apt-get install tmux   (macOS: brew install tmux)"
LOW_SPACE = 1024 * 1024  # bytes: less and the next run or reply may not fit
Run = Callable[[list[str]], tuple[int, str]]
# pairing/: the files that must be the owner's alone, and those that hold nothing secret
# (the folder's README, filelock's empty lock file).
PAIRING_SECRETS = frozenset({"secret.key", "store.json"})
PAIRING_PLAIN = frozenset({"README.md", "store.lock"})


@dataclass(frozen=True)
class Check:
    level: Level
    name: str
    detail: str
    fix: str | None = None


def pinned_versions(root: Path = PACKAGE_ROOT) -> dict[str, str]:
    """The CLI versions tinyclaw is tested with (``scripts/versions.sh`` in a checkout)."""
    versions = dict(PINNED)
    try:
        text = (root / "scripts" / "versions.sh").read_text(encoding="utf-8")
    except OSError:
        return versions
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "CLAUDE_CODE_VERSION" and value.strip():
            versions["claude"] = value.strip()
        elif key.strip() == "CODEX_VERSION" and value.strip():
            versions["codex"] = value.strip()
    return versions


def install_command(prefix: Path, versions: Mapping[str, str]) -> str:
    packages = " ".join(f"{PACKAGES[k]}@{versions[k]}" for k in ("claude", "codex"))
    return f"npm install --prefix {prefix} {packages}"


def run_version(argv: list[str]) -> tuple[int, str]:
    """Run ``argv`` briefly and return (exit code, first line of its output)."""
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    output = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    return proc.returncode, output[0] if output else ""


class Doctor:
    def __init__(
        self,
        home: Home,
        *,
        environ: dict[str, str] | None = None,
        run: Run = run_version,
        which: Callable[[str], str | None] = shutil.which,
        search_dirs: Sequence[Path] | None = None,
        probe: Probe = probe_bwrap,
    ) -> None:
        self.home = home
        self.probe = probe
        self.environ = dict(os.environ) if environ is None else environ
        self.run = run
        self.which = which
        # Where a CLI is looked for besides PATH (the runners' list by default); a test
        # passes [] to see a machine where neither CLI is installed anywhere.
        self.search_dirs = list(cli_search_dirs(home) if search_dirs is None else search_dirs)
        self.versions = pinned_versions()

    def checks(self) -> list[Check]:
        results = [self.tmux()]
        config, config_checks = self.config()
        results += config_checks
        results += self.clis(config)
        if config is not None:
            results += self.tokens(config)
            results += self.sandbox(config)
            if config.metrics.enabled:
                results.append(self.metrics(config))
            results += self.transcription(config)
        results += self.permissions()
        results += self.disk()
        return results

    def disk(self) -> list[Check]:
        """Room on the home's filesystem, and whether the worker is stalled on it."""
        fix = f"free space where the home is (df -h {self.home.root}); no restart is needed"
        report = read_report(self.home.state)
        if report is not None and report.full:
            return [Check("problem", "disk", describe_disk(report, time.time()), fix)]
        try:
            fs = os.statvfs(self.home.root)
        except OSError as exc:
            return [Check("warning", "disk", f"cannot measure free space: {exc}")]
        free = fs.f_bavail * fs.f_frsize
        if free < LOW_SPACE:
            return [Check("problem", "disk", f"only {free // 1024} KiB free", fix)]
        return [Check("ok", "disk", f"{free // (1024 * 1024)} MiB free")]

    # -- each area -------------------------------------------------------------------

    def tmux(self) -> Check:
        path = self.which("tmux")
        if path is None:
            return Check("problem", "tmux", "not installed (tinyclaw start needs it)", TMUX_FIX)
        code, version = self.run([path, "-V"])
        if code != 0:
            return Check("problem", "tmux", f"{path} does not run: {version}", TMUX_FIX)
        return Check("ok", "tmux", version)

    def config(self) -> tuple[Config | None, list[Check]]:
        try:
            load_dotenv(self.home.env_file, self.environ)
        except ConfigError as exc:
            return None, [Check("problem", ".env", str(exc), "fix that line (KEY=value)")]
        try:
            config = load_config(self.home)
        except ConfigError as exc:
            lines = str(exc).splitlines()
            missing = not self.home.config_file.exists()
            local = self.home.local_config_file
            edit = f"{self.home.config_file}" + (f" or {local.name}" if local.exists() else "")
            fix = "tinyclaw init" if missing else f"edit {edit} (docs/configuration.md)"
            return None, [Check("problem", "config", line, fix) for line in lines]
        actors = ", ".join(config.actors)
        local = self.home.local_config_file
        source = f"{self.home.config_file}" + (f" + {local.name}" if local.exists() else "")
        return config, [Check("ok", "config", f"{source} ({actors})")]

    def metrics(self, config: Config) -> Check:
        """The endpoint answers with tinyclaw's metrics, or the textfile is fresh."""
        import time
        import urllib.request

        metrics = config.metrics
        if metrics.exporter == "textfile":
            path = metrics.textfile_path(self.home)
            try:
                age = time.time() - path.stat().st_mtime
            except OSError:
                age = None
            if age is not None and age <= 3 * metrics.interval + 5:
                return Check("ok", "metrics", f"{path} written {age:.0f} s ago")
            what = "missing" if age is None else f"stale (written {age:.0f} s ago)"
            return Check(
                "problem",
                "metrics",
                f"{path} is {what}",
                "start the worker, and check that it may write there (logs/worker.log)",
            )
        url = f"http://{metrics.host}:{metrics.port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                body = response.read(1_000_000).decode("utf-8", "replace")
        except OSError as exc:
            return Check(
                "problem",
                "metrics",
                f"nothing answers at {url}: {exc}",
                "start the worker; if it runs, see logs/worker.log (is the port taken?)",
            )
        if "tinyclaw_worker_up" not in body:
            return Check(
                "problem",
                "metrics",
                f"{url} answers, but not with tinyclaw's metrics",
                "another program holds the port: choose another [metrics] port",
            )
        return Check("ok", "metrics", f"{url} answers")

    def clis(self, config: Config | None) -> list[Check]:
        from tinyclaw.runners import resolve_command

        runners = config.runners if config is not None else RunnersConfig()
        used = {a.runner for a in config.actors.values()} if config is not None else set()
        fix_install = install_command(self.home.root / ".tools", self.versions)
        results = []
        for kind in ("claude", "codex"):
            settings = runners.for_kind(kind)
            command = resolve_command(kind, settings, self.environ, self.search_dirs)
            needed = kind in used or config is None
            if command is None:
                where = (
                    f"configured command {settings.command!r} does not exist or is not executable"
                    if settings.command
                    else "not on PATH"
                    + "".join(f" nor in {d}" for d in self.search_dirs[:1])
                    + "".join(f", {d}" for d in self.search_dirs[1:])
                )
                fix = fix_install
                if settings.command:
                    fix = (
                        f"fix [runners.{kind}] command in tinyclaw.toml, or install: {fix_install}"
                    )
                level: Level = "problem" if needed else "info"
                results.append(Check(level, kind, f"not found: {where}", fix if needed else None))
                continue
            code, version = self.run([command, "--version"])
            if code != 0:
                results.append(
                    Check("problem", kind, f"{command} --version failed: {version}", fix_install)
                )
                continue
            pinned = self.versions[kind]
            if pinned not in version:
                results.append(
                    Check(
                        "warning",
                        kind,
                        f"{command}: {version} (tinyclaw is tested with {pinned})",
                        fix_install,
                    )
                )
            else:
                results.append(Check("ok", kind, f"{command}: {version}"))
        return results

    def sandbox(self, config: Config) -> list[Check]:
        """The isolation each actor's CLI gets, as the worker would give it."""
        box = Sandbox(self.home, config, probe=self.probe)
        results = []
        for name, actor in config.actors.items():
            settings = config.runners.for_kind(actor.runner)
            policy = box.policy(name, build_cli_env(settings, actor.runner, self.environ))
            label = f"sandbox @{name}"
            install = (
                "sudo apt-get install bubblewrap   (docs/sandbox.md)"
                if "is not installed" in policy.note
                else "allow unprivileged user namespaces (sysctl "
                "kernel.unprivileged_userns_clone=1; in a container, a seccomp/AppArmor "
                'profile that permits them), or set [sandbox] mode = "off"   (docs/sandbox.md)'
            )
            if policy.confined:
                results.append(Check("ok", label, policy.describe()))
            elif policy.note.startswith("REFUSED"):
                detail = f'mode "bwrap" is required but {policy.note.removeprefix("REFUSED: ")}'
                results.append(
                    Check("problem", label, detail + "; the worker will not start", install)
                )
            elif policy.note.startswith("bwrap unusable"):
                detail = "UNCONFINED: its CLI can read the home's secrets and other workspaces"
                results.append(Check("warning", label, f"{detail} ({policy.note})", install))
            else:
                results.append(Check("info", label, policy.describe()))
        return results

    def tokens(self, config: Config) -> list[Check]:
        results = []
        env_file = self.home.env_file
        for channel in ("telegram", "discord", "whatsapp"):
            settings = config.channels.get(channel)
            if not settings.enabled:
                continue
            names = [settings.token_env]
            if channel == "whatsapp":
                names += [settings.verify_token_env, settings.app_secret_env]
            for name in filter(None, names):
                if self.environ.get(name):
                    results.append(Check("ok", f"{channel} token", f"{name} is set"))
                else:
                    results.append(
                        Check(
                            "problem",
                            f"{channel} token",
                            f"{name} is not set (channel {channel} is enabled)",
                            f"add {name}=... to {env_file} (chmod 600), or disable "
                            f"[channels.{channel}]",
                        )
                    )
        for kind in sorted({a.runner for a in config.actors.values()}):
            runner = config.runners.for_kind(kind)
            for name in runner.pass_env:
                # The runner's own `env` hands the CLI this variable just as well.
                if not self.environ.get(name) and not runner.env.get(name):
                    results.append(
                        Check(
                            "warning",
                            f"{kind} credentials",
                            f"{name} (runners.{kind}.pass_env) is not set; {kind} must be "
                            "logged in some other way",
                            f"add {name}=... to {env_file}, or log the CLI in",
                        )
                    )
        return results

    def transcription(self, config: Config) -> list[Check]:
        """Voice notes: the key the service needs, or the local model and its engine."""
        settings = config.transcription
        if settings is None or not settings.enabled:
            return []
        if settings.engine == "local":
            from tinyclaw.transcribe.local import MODEL_FILE, model_present

            folder = settings.local_model or ""
            if not model_present(folder):
                return [
                    Check(
                        "problem",
                        "transcription",
                        f"no faster-whisper model in {folder} ({MODEL_FILE} is missing)",
                        "set [transcription] local_model to a converted model folder",
                    )
                ]
            if importlib.util.find_spec("faster_whisper") is None:
                return [
                    Check(
                        "problem",
                        "transcription",
                        "the local engine needs faster-whisper",
                        "pip install 'tinyclaw[whisper]'",
                    )
                ]
            return [Check("ok", "transcription", f"local model {folder}")]
        name = settings.api_key_env
        if name and not self.environ.get(name):
            return [
                Check(
                    "problem",
                    "transcription",
                    f"{name} is not set (voice notes go to {settings.base_url})",
                    f"add {name}=... to {self.home.env_file}, or set api_key_env = \"\" "
                    "for a server without a key",
                )
            ]
        return [Check("ok", "transcription", f"{settings.base_url} ({settings.model})")]

    def permissions(self) -> list[Check]:
        results = self.pairing_permissions()
        env_file = self.home.env_file
        if env_file.exists():
            mode = stat.S_IMODE(env_file.stat().st_mode)
            if mode & 0o077:
                results.append(
                    Check(
                        "problem",
                        ".env",
                        f"{env_file} has mode {mode:04o}; others can read the tokens",
                        f"chmod 600 {env_file}",
                    )
                )
            else:
                results.append(Check("ok", ".env", f"{env_file} is mode {mode:04o}"))
        if not os.access(self.home.root, os.W_OK):
            results.append(
                Check(
                    "problem",
                    "home",
                    f"{self.home.root} is not writable",
                    f"chown/chmod {self.home.root}",
                )
            )
        return results

    def pairing_permissions(self) -> list[Check]:
        """The pairing folder and its secrets must be the owner's alone: the key signs
        invite codes and the store says who may talk to the assistant, so even group
        read access (0640, a shared "staff" group) lets another user mint codes."""
        pairing = self.home.pairing
        if not pairing.is_dir():
            return []
        results = []
        mode = _mode(pairing)
        if mode & 0o077:
            results.append(
                Check(
                    "problem",
                    "pairing store",
                    f"{pairing} has mode {mode:04o}; other users of this machine can look inside",
                    f"chmod 700 {pairing}",
                )
            )
        for path in sorted(pairing.iterdir()):
            if path.name in PAIRING_PLAIN:
                continue
            mode = _mode(path)
            private = path.name in PAIRING_SECRETS
            if mode & (0o077 if private else 0o004):
                who = "other users" if private else "every user"
                results.append(
                    Check(
                        "problem",
                        "pairing store",
                        f"{path} has mode {mode:04o}; {who} of this machine can read it",
                        f"chmod 600 {path}",
                    )
                )
        if not results:
            results.append(Check("ok", "pairing store", f"{pairing} is private"))
        return results


def _mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0


MARKS = {"ok": "ok  ", "warning": "warn", "problem": "FAIL", "info": "info"}


def format_checks(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{MARKS[check.level]}  {check.name}: {check.detail}")
        if check.fix and check.level in ("problem", "warning"):
            lines.append(f"      fix: {check.fix}")
    problems = sum(1 for c in checks if c.level == "problem")
    lines.append(f"{problems} problem(s)" if problems else "no problems found")
    return "\n".join(lines)
