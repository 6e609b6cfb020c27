"""What ``pip install tinyclaw`` gives a user: a wheel with its license and type
marker, every third-party module the code imports declared as a dependency (of the
core, or of the extra whose listener imports it), and a ``tinyclaw`` that runs from a
clean virtual environment."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PLATFORMS = ("telegram", "discord", "whatsapp")


def _name(requirement: str) -> str:
    """``discord.py>=2.4`` → ``discord-py`` (the normalised distribution name)."""
    raw = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", raw).lower()


def _declared(extra: str | None) -> set[str]:
    project = PYPROJECT["project"]
    names = {_name(r) for r in project["dependencies"]}
    if extra is not None:
        names |= {_name(r) for r in project["optional-dependencies"][extra]}
    return names


def _third_party_imports(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "tinyclaw"}


# Modules outside the listeners that only an extra's users import.
EXTRA_MODULES = {"transcribe/local.py": "whisper"}  # faster-whisper, the local engine
EXTRA_PACKAGES = {"spool/jetstream/": "nats"}  # nats-py, the shared spool's client


def _platform_of(path: Path) -> str | None:
    relative = path.relative_to(ROOT / "tinyclaw").as_posix()
    if relative in EXTRA_MODULES:
        return EXTRA_MODULES[relative]
    for package, extra in EXTRA_PACKAGES.items():
        if relative.startswith(package):
            return extra
    return next((p for p in PLATFORMS if path.name.startswith(p)), None)


def test_every_third_party_import_is_a_declared_dependency() -> None:
    distributions = importlib.metadata.packages_distributions()
    undeclared = []
    for path in sorted((ROOT / "tinyclaw").rglob("*.py")):
        extra = _platform_of(path)
        for module in sorted(_third_party_imports(path)):
            providers = {_name(d) for d in distributions.get(module, [module])}
            if not providers & _declared(extra):
                where = f"the {extra} extra" if extra else "the dependencies"
                undeclared.append(f"{path.relative_to(ROOT)}: {module} is not in {where}")
    assert not undeclared, "\n".join(undeclared)


def test_every_extra_dependency_is_imported_by_its_listener() -> None:
    """A dependency nobody imports (fastapi in the WhatsApp extra, once) only costs
    the user an install; each one listed must be used by that platform's code."""
    distributions = importlib.metadata.packages_distributions()
    for extra in PLATFORMS:
        imported: set[str] = set()
        for path in (ROOT / "tinyclaw").rglob(f"{extra}*.py"):
            for module in _third_party_imports(path):
                imported |= {_name(d) for d in distributions.get(module, [module])}
        listed = {_name(r) for r in PYPROJECT["project"]["optional-dependencies"][extra]}
        assert listed <= imported, f"{extra}: never imported: {sorted(listed - imported)}"


@pytest.mark.slow
def test_the_built_wheel_installs_into_a_clean_venv_and_runs(tmp_path: Path) -> None:
    """Built as pip builds it and installed with the machine's own pip settings (its
    index or wheel folders), so it needs no network beyond what pip is given."""
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("tinyclaw-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "tinyclaw/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    assert "License-Expression: MIT" in metadata
    assert "Classifier: Typing :: Typed" in metadata
    assert "Project-URL: Source," in metadata

    # A venv without a pip of its own, filled by this pip (``--python``), without
    # compiling every module ahead of time: the same install, in a third of the time.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-compile",
            f"tinyclaw[all] @ {wheel.as_uri()}",
        ],
        check=True,
        timeout=600,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    version = subprocess.run(
        [str(venv / "bin" / "tinyclaw"), "--version"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"tinyclaw {PYPROJECT['project']['version']}"
    imports = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import telegram, discord, pywa, starlette, uvicorn, tinyclaw.channels.whatsapp"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert imports.returncode == 0, imports.stderr
