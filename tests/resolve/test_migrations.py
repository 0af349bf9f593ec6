"""Schema migrations: old files are upgraded before merging, and `lamina migrate --write`
rewrites them in place keeping comments, order and formatting."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import lamina
from cli_support import Ran, run_lamina
from conftest import WriteRepo, commit_all, git

FLEET = """
[fleet]
name = "demo"
promotion = ["dev", "prod"]

[clusters.dev-1]
environment = "dev"

[clusters.prod-1]
environment = "prod"

[[migrations]]
from = 1
to = 2
rename = {"agent.llm" = "agent.model"}

[[migrations]]
from = 2
to = 3
remove = ["agent.legacy_mode"]
default = {guardrails.max_tool_calls = 12}

[[migrations]]
from = 3
to = 4
rename = {agent.temp = "agent.temperature"}
"""

OLD_BASE = """\
# The agent's defaults.
schema_version = 1

[agent]
# chosen for cost
llm = "gpt-4o-mini"   # cheap and fast
legacy_mode = true
temp = 0.2   # steady answers

[memory]
backend = "redis"
"""

MIGRATED_BASE = """\
# The agent's defaults.
schema_version = 4

[agent]
# chosen for cost
model = "gpt-4o-mini"   # cheap and fast
temperature = 0.2   # steady answers

[memory]
backend = "redis"

[guardrails]
max_tool_calls = 12
"""


def lamina_cli(root: Path, *args: str) -> Ran:
    return run_lamina("--repo", root, *args)


def test_chain_of_three_migrations_upgrades_before_merging(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            "lamina.toml": FLEET,
            "base/agent.toml": OLD_BASE,
            "overlays/prod/agent.toml": '[agent]\nmodel = "gpt-4o"   # production model\n',
        }
    )
    with lamina.Repository(root) as repo:
        dev = repo.resolve("dev/dev-1").data
        prod = repo.resolve("prod/prod-1")
    assert dev == {
        "agent": {"model": "gpt-4o-mini", "temperature": 0.2},
        "guardrails": {"max_tool_calls": 12},
        "memory": {"backend": "redis"},
    }
    assert prod.data["agent"]["model"] == "gpt-4o"
    # provenance follows the renamed key back to its line in the old file
    layers = prod.explain("agent.model").layers
    assert [(s.file, s.line, s.reason) for s in layers] == [
        ("base/agent.toml", 6, "cheap and fast"),
        ("overlays/prod/agent.toml", 2, "production model"),
    ]


def test_migrate_write_keeps_comments_and_layout(write_repo: WriteRepo) -> None:
    root = write_repo({"lamina.toml": FLEET, "base/agent.toml": OLD_BASE})
    shown = lamina_cli(root, "migrate")
    assert shown.returncode == 1
    assert "rename agent.llm -> agent.model" in shown.stdout
    assert (root / "base/agent.toml").read_text() == OLD_BASE  # showing changes nothing
    written = lamina_cli(root, "migrate", "--write")
    assert written.returncode == 0, written.stderr
    assert (root / "base/agent.toml").read_text() == MIGRATED_BASE
    again = lamina_cli(root, "migrate")
    assert again.returncode == 0
    assert "newest version" in again.stdout


def test_migrate_write_yaml_keeps_comments(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            "lamina.toml": FLEET,
            "base/agent.yaml": textwrap.dedent(
                """\
                schema_version: 3
                agent:
                  model: gpt-4o   # the production model
                  temp: 0.2       # steady answers
                """
            ),
        }
    )
    assert lamina_cli(root, "migrate", "--write").returncode == 0
    assert (root / "base/agent.yaml").read_text() == textwrap.dedent(
        """\
        schema_version: 4
        agent:
          model: gpt-4o   # the production model
          temperature: 0.2 # steady answers
        """
    )


def test_pinned_old_base_resolves_with_todays_migrations(write_repo: WriteRepo) -> None:
    root = write_repo({"lamina.toml": FLEET, "base/agent.toml": OLD_BASE})
    old = commit_all(root, "old base")
    (root / "base/agent.toml").write_text(MIGRATED_BASE.replace("gpt-4o-mini", "gpt-4.1-mini"))
    (root / "lamina.lock").write_text(f'[environments.prod]\nrevision = "{old}"\n')
    commit_all(root, "new base, prod pinned to the old one")
    with lamina.Repository(root) as repo:
        assert repo.resolve("prod/prod-1").data["agent"] == {"model": "gpt-4o-mini", "temperature": 0.2}
        assert repo.resolve("dev/dev-1").data["agent"]["model"] == "gpt-4.1-mini"
    assert git(root, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("version", "message"),
    [
        pytest.param(
            "9",
            "base/agent.toml:1: schema_version 9 is newer than lamina.toml's migrations (the newest is 4)",
            id="newer-than-known",
        ),
        pytest.param('"one"', "base/agent.toml:1: schema_version must be an integer", id="not-a-number"),
        pytest.param(
            "0",
            "base/agent.toml:1: no [[migrations]] entry goes from schema_version 0 toward 4",
            id="no-path",
        ),
    ],
)
def test_bad_schema_version(write_repo: WriteRepo, version: str, message: str) -> None:
    root = write_repo({"lamina.toml": FLEET, "base/agent.toml": f"schema_version = {version}\n"})
    with lamina.Repository(root) as repo, pytest.raises(lamina.InputError) as caught:
        repo.resolve("dev/dev-1")
    assert str(caught.value) == message


def test_schema_version_never_reaches_a_config(write_repo: WriteRepo) -> None:
    root = write_repo({"lamina.toml": FLEET, "base/agent.toml": 'schema_version = 4\n[agent]\nmodel = "x"\n'})
    with lamina.Repository(root) as repo:
        assert repo.resolve("dev/dev-1").data == {"agent": {"model": "x"}}


def test_a_default_fills_only_what_no_layer_sets(write_repo: WriteRepo) -> None:
    # guardrails.max_tool_calls gets a default from 2 -> 3; a sibling file of the same layer, sorted
    # before the old file, already sets it, and so does prod's overlay: neither may be overridden
    root = write_repo(
        {
            "lamina.toml": FLEET,
            "base/a-guardrails.toml": "[guardrails]\nmax_tool_calls = 5   # tight\n",
            "base/agent.toml": OLD_BASE,
            "overlays/prod/agent.toml": "[guardrails]\nmax_tool_calls = 3   # tighter\n",
        }
    )
    with lamina.Repository(root) as repo:
        assert repo.resolve("dev/dev-1").data["guardrails"] == {"max_tool_calls": 5}
        assert repo.resolve("prod/prod-1").data["guardrails"] == {"max_tool_calls": 3}
    (root / "base/a-guardrails.toml").unlink()
    with lamina.Repository(root) as repo:
        assert repo.resolve("dev/dev-1").data["guardrails"] == {"max_tool_calls": 12}  # nobody sets it


def test_migrate_write_leaves_out_a_default_a_sibling_file_sets(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            "lamina.toml": FLEET,
            "base/a-guardrails.toml": "[guardrails]\nmax_tool_calls = 5   # tight\n",
            "base/agent.toml": OLD_BASE,
        }
    )
    written = lamina_cli(root, "migrate", "--write")
    assert written.returncode == 0, written.stderr
    assert "max_tool_calls" not in (root / "base/agent.toml").read_text()
    with lamina.Repository(root) as repo:
        assert repo.resolve("dev/dev-1").data["guardrails"] == {"max_tool_calls": 5}
