"""Shared fixtures: throwaway config repositories, plain folders and real git ones."""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Callable, Generator
from pathlib import Path

import pytest
from hypothesis import settings

from lamina.fleet import scaffold

# fixtures every package shares, defined once: postgres_server, postgres_url, database_url
pytest_plugins = ["pg_support", "rollout_support"]

# CI replays the same examples every run (a red CI must mean a change broke something);
# local runs keep exploring new examples.
UNDER_CI = bool(os.environ.get("CI"))
settings.register_profile("ci", derandomize=True, print_blob=True)
if UNDER_CI:
    settings.load_profile("ci")


# Under CI a skipped test is a failure: a green run must mean every test ran. A test that
# skips for want of a tool (kubectl, Chromium, ...) then names it; `make setup` installs them.
# Locally a skip stays a skip.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if UNDER_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI: {_skip_reason(report.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if UNDER_CI and report.skipped:  # a module that skips itself whole (importorskip, skip(...))
        report.outcome = "failed"
        report.longrepr = f"skipped under CI: {_skip_reason(report.longrepr)}"


def _skip_reason(longrepr: object) -> str:
    """The reason of a skip report: its longrepr is (file, line, "Skipped: reason")."""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LAMINA_REPO", raising=False)


WriteRepo = Callable[[dict[str, str]], Path]


@pytest.fixture
def write_repo(tmp_path: Path) -> WriteRepo:
    """Write files (path -> text, dedented) into a fresh folder and return it."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "repo"
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return root

    return write


def git(root: Path, *args: str) -> str:
    """Run git in root and return stdout."""
    done = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


def commit_all(root: Path, message: str = "change") -> str:
    """Stage everything, commit, and return the new commit id."""
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """The `lamina init` example fleet as a committed git repository, without its pins and its
    protected environments: for tests about everything but the delivery guarantee."""
    root = tmp_path / "fleet"
    scaffold.write_example(root, git=True)
    unguard(root)
    return root


@pytest.fixture
def guarded_example(tmp_path: Path) -> Path:
    """The `lamina init` example fleet exactly as a user gets it: pinned and protected."""
    root = tmp_path / "fleet"
    scaffold.write_example(root, git=True)
    return root


def unguard(root: Path) -> None:
    """Drop the example's pins and protected environments, and commit that."""
    fleet = root / "lamina.toml"
    lines = fleet.read_text().splitlines(keepends=True)
    start = lines.index("[promotion]\n")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("["))
    assert any(line.startswith("protect") for line in lines[start:end])
    fleet.write_text("".join(lines[:start] + lines[end:]))  # tests may write a [promotion] of their own
    (root / "lamina.lock").unlink()
    commit_all(root, "tests: no pins, nothing protected")


def seeded_remote(tmp_path: Path, fleet_toml: str, message: str = "serve from origin") -> tuple[Path, Path]:
    """A bare repository (``origin``) holding the example fleet, unguarded, with fleet_toml added
    to its lamina.toml; returns the remote and the seed clone that pushed it."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    seed = tmp_path / "seed"
    scaffold.write_example(seed, git=True)
    unguard(seed)
    with (seed / "lamina.toml").open("a") as fleet:
        fleet.write(fleet_toml)
    commit_all(seed, message)
    git(seed, "remote", "add", "origin", str(remote))
    git(seed, "push", "-q", "origin", "main")
    return remote, seed
