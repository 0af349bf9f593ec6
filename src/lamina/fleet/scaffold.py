"""``lamina init``: write the example fleet, a working repository to start from."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from pathlib import Path

from lamina.errors import InputError, OutsideError
from lamina.fleet import lockfile

EXAMPLE = "support-agent"


def write_example(target: Path, *, git: bool = True) -> list[str]:
    """Copy the example fleet into target and, with git, commit it as a new repository whose
    staging and production environments are pinned to that first commit.

    Returns:
        The repository-relative paths written.

    Raises:
        InputError: target already holds a lamina.toml or is a file.
    """
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} exists and is not a folder")
    if (target / "lamina.toml").exists():
        raise InputError(f"{target / 'lamina.toml'}: a fleet already lives here; not overwriting it")
    source = resources.files("lamina.examples").joinpath(EXAMPLE)
    staging = target.with_name(f".{target.name}.lamina-init")
    if staging.exists():
        shutil.rmtree(staging)
    written: list[str] = []
    with resources.as_file(source) as folder:
        # copy to a sibling folder first and move the files in, so a failure leaves nothing half-written
        shutil.copytree(folder, staging, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    try:
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(staging.rglob("*")):
            rel = path.relative_to(staging)
            if path.is_dir():
                (target / rel).mkdir(parents=True, exist_ok=True)
                continue
            if (target / rel).exists():
                raise InputError(f"{target / rel}: already exists; not overwriting it")
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                rel = path.relative_to(staging)
                path.replace(target / rel)
                written.append(rel.as_posix())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if git:
        _git_commit(target, "lamina init: example fleet")
        _pin(target, PINNED)
        _git_commit(target, "lamina init: pin staging and production to the example's first commit")
        written.append(lockfile.LOCK_FILE)
    return written


PINNED = ("staging", "production", "production-eu")
"""Environments the example pins, so a base change stops at development until it is promoted."""


def _pin(target: Path, environments: tuple[str, ...]) -> None:
    done = subprocess.run(
        ["git", "-C", str(target), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise OutsideError(f"git rev-parse failed in {target}: {done.stderr.strip()}")
    commit = done.stdout.strip()
    lockfile.write_pins(target, [lockfile.Pin(env, commit, request="lamina init") for env in environments])


def _git_commit(target: Path, message: str) -> None:
    # The example becomes a repository of its own, even inside another work tree.
    try:
        top = subprocess.run(
            ["git", "-C", str(target), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=False,
        )
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != target.resolve():
            _git(target, "init", "-q", "-b", "main")
        _git(target, "add", "-A", ".")
        identity = []
        for key, fallback in (("user.name", "lamina"), ("user.email", "lamina@localhost")):
            probe = subprocess.run(
                ["git", "-C", str(target), "config", key], capture_output=True, check=False
            )
            if probe.returncode != 0:
                identity += ["-c", f"{key}={fallback}"]
        _git(target, *identity, "commit", "-q", "-m", message)
    except OSError as exc:
        raise OutsideError(f"cannot run git: {exc.strerror}") from exc


def _git(target: Path, *args: str) -> None:
    done = subprocess.run(["git", "-C", str(target), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise OutsideError(f"git {args[0]} failed in {target}: {lines[-1] if lines else 'no output'}")
