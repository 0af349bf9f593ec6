"""Cold start: commands load by name, and heavy libraries only when a command needs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import lamina_environ
from lamina.cli import app as cli_app
from lamina.cli import commands

HEAVY = ("rich", "jsonschema", "celpy", "sqlalchemy", "kubernetes", "fastapi", "httpx", "pydantic")
"""Libraries that cost tens of milliseconds to import; quick commands never load them."""


SCRIPT = """
import atexit, pathlib, sys
where = pathlib.Path(sys.argv[1])
atexit.register(lambda: where.write_text(" ".join(sorted(sys.modules))))
from lamina.cli.app import main
sys.argv = ["lamina", *sys.argv[2:]]
main()
"""


def imported(root: Path, *args: str) -> tuple[set[str], str]:
    """The modules ``lamina ARGS`` imports (as ``python -X importtime`` shows them), and its stdout."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", SCRIPT, str(root.parent / "modules.txt"), *args],
        cwd=root,
        env=lamina_environ(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    timed = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    # importtime leaves out modules loaded through importlib (the commands); sys.modules has them
    loaded = set((root.parent / "modules.txt").read_text().split())
    return {name for name in timed | loaded if name != "imported package"}, done.stdout


def heavy(names: set[str]) -> list[str]:
    return sorted(name for name in names if name.split(".")[0] in HEAVY)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("build", "production/prod-us-1"), id="build"),
        pytest.param(("build", "production/prod-us-1", "--hash"), id="build-hash"),
        pytest.param(("envs",), id="envs"),
        pytest.param(("--help",), id="help"),
    ],
)
def test_quick_commands_import_no_heavy_library(example_repo: Path, args: tuple[str, ...]) -> None:
    names, out = imported(example_repo, *args)
    assert out  # the command did its work
    assert heavy(names) == []


def test_help_imports_no_command_module(example_repo: Path) -> None:
    names, out = imported(example_repo, "--help")
    assert "build" in out and "promote" in out
    assert sorted(name for name in names if name.startswith("lamina")) == [
        "lamina",
        "lamina.cli",
        "lamina.cli.app",
        "lamina.cli.commands",
    ]
    assert "msgspec" not in names  # the error types (and what they are made of) load on an error only


def test_a_command_imports_its_module_alone(example_repo: Path) -> None:
    names, _ = imported(example_repo, "build", "production/prod-us-1", "--hash")
    loaded = {name for name in names if name.startswith("lamina.cli.")}
    assert loaded == {
        "lamina.cli.app",
        "lamina.cli.commands",
        "lamina.cli.build",
        "lamina.cli.completing",
        "lamina.cli.output",
        "lamina.cli.session",
    }


def test_the_budget_test_sees_a_heavy_import(example_repo: Path) -> None:
    # the same measurement on a command that needs the state database finds SQLAlchemy
    names, _ = imported(example_repo, "audit", "--json")
    assert "sqlalchemy" in heavy(names)


@pytest.mark.parametrize("name", list(cli_app.COMMANDS))
def test_every_registered_command_loads_with_its_help(name: str) -> None:
    entry = cli_app.COMMANDS[name]
    command = commands.load(name, entry)
    assert command.name == name
    assert command.help, f"{entry.where} has no help"
