"""The Dockerfile, checked without a Docker engine.

Its instructions are parsed and checked (slim Python 3.11 base, a non-root
user that the image creates, volumes, command, health check), then its COPY
and ``pip install`` steps are replayed into a fresh virtual environment, and
``triage --help`` and the health check are run from there. The project's
dependencies come from the test's own environment (a ``.pth`` file), so the
replay needs no download beyond pip's build backend.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import site
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1].rstrip() + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        result.append((word.upper(), rest.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return result


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arguments
    return value


@pytest.fixture(scope="module")
def parsed() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text(encoding="utf-8"))


def test_parser_joins_continuations_and_drops_comments():
    text = "# c\nFROM a\nRUN one \\\n  # inner comment\n  && two\n\nCMD [\"x\"]\n"
    assert instructions(text) == [("FROM", "a"), ("RUN", "one && two"), ("CMD", '["x"]')]


def test_base_user_volumes_command_and_healthcheck(parsed):
    kinds = [kind for kind, _ in parsed]
    assert parsed[0][0] == "FROM" and parsed[0][1].startswith("python:3.11-slim")
    users = [args for kind, args in parsed if kind == "USER"]
    assert users and users[-1] not in ("root", "0"), "the daemon must not run as root"
    created = " ".join(args for kind, args in parsed if kind == "RUN" and "useradd" in args)
    assert f" {users[-1]}" in created, "the USER must be created by a RUN useradd"
    assert kinds.index("USER") > max(i for i, kind in enumerate(kinds) if kind == "RUN"), \
        "every RUN (install, chown) happens before switching to the unprivileged user"
    volumes = {v for kind, args in parsed if kind == "VOLUME" for v in exec_form(args)}
    assert {"/config", "/state", "/models"} <= volumes
    cmd = [exec_form(args) for kind, args in parsed if kind == "CMD"][-1]
    assert cmd == ["triage", "run", "--config", "/config/triage.toml"]
    health = [args for kind, args in parsed if kind == "HEALTHCHECK"][-1]
    options, _, command = health.partition("CMD ")
    assert "--start-period" in options, "loading the model takes a while: give the check a start period"
    assert exec_form(command)[:3] == ["python", "-m", "triage.health"]
    assert "/config/triage.toml" in exec_form(command)


def test_every_copied_path_exists(parsed):
    for kind, args in parsed:
        if kind == "COPY":
            *sources, _ = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: missing in the repository"


@pytest.mark.slow
def test_install_steps_work_in_a_fresh_venv(parsed, tmp_path):
    """Replay COPY and the pip install into a new venv; then `triage --help` and the health check work."""
    rootfs = tmp_path / "rootfs"
    workdir = Path("/")
    installs = []
    for kind, args in parsed:
        if kind == "WORKDIR":
            workdir = workdir / args
        elif kind == "COPY":
            *sources, dest = shlex.split(args)
            target = rootfs / (workdir / dest).relative_to("/")
            for source in sources:
                src = ROOT / source
                into = target / src.name if dest.endswith("/") else target
                if src.is_dir():
                    shutil.copytree(src, into, ignore=shutil.ignore_patterns("__pycache__", "demo"))
                else:
                    into.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, into)
        elif kind == "RUN" and args.startswith("pip install"):
            installs.append((workdir, args))
    assert installs, "the Dockerfile installs the project with a RUN pip install step"
    app = rootfs / workdir.relative_to("/")
    if not (app / "models").exists():  # the image links /app/models to the /models volume
        (app / "models").symlink_to(rootfs / "models")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # The dependencies (scikit-learn & co.) come from this test's environment: no big downloads.
    (Path(purelib) / "_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    for where, command in installs:
        cwd = rootfs / where.relative_to("/")
        done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    triage = venv / "bin" / "triage"
    where = subprocess.run([str(python), "-c", "import triage; print(triage.__file__)"], env=env, cwd=tmp_path,
                           check=True, capture_output=True, text=True).stdout.strip()
    assert where.startswith(str(app)), f"the venv imports triage from {where}, not from the staged image"
    helped = subprocess.run([str(triage), "--help"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "run" in helped.stdout

    # The health check: unhealthy without a heartbeat, healthy with a fresh one, unhealthy with a stale one.
    state = tmp_path / "state"
    state.mkdir()
    config = tmp_path / "triage.toml"
    config.write_text((app / "examples" / "docker.toml").read_text(encoding="utf-8")
                      .replace('"/state/', f'"{state}/').replace('"/models/', f'"{rootfs / "models"}/'))
    health = [str(python), "-m", "triage.health", "--config", str(config)]
    missing = subprocess.run(health, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no heartbeat" in missing.stdout
    beat = state / "ledger.sqlite3.heartbeat.json"
    inboxes = {"support": {"state": "idle", "since": time.time()}, "sales": {"state": "working", "since": time.time()}}
    beat.write_text(json.dumps({"pid": 1, "time": time.time(), "inboxes": inboxes}))
    fresh = subprocess.run(health, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    beat.write_text(json.dumps({"pid": 1, "time": time.time() - 3600, "inboxes": inboxes}))
    stale = subprocess.run(health, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert stale.returncode == 1 and "old" in stale.stdout
