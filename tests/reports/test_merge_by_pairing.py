"""Lists merged by a key in the layers (``$merge_by``) are diffed by that key everywhere a
person reads differences: ``lamina diff``, ``plan`` and ``parity``."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import run_lamina_in_process
from conftest import WriteRepo, commit_all

FLEET = """
[fleet]
name = "demo"
promotion = ["dev", "prod"]

[clusters.dev-1]
environment = "dev"

[clusters.prod-1]
environment = "prod"
"""

BASE_TOOLS = """
[[tools]]
id = "crm"
timeout_seconds = 5

[[tools]]
id = "kb"
timeout_seconds = 5
"""

# prod changes one tool's timeout and adds one tool, merging by "id" (the items have no name)
PROD_TOOLS = """
tools = { "$merge_by" = "id", "$items" = [
  { id = "crm", timeout_seconds = 30 },
  { id = "web", timeout_seconds = 10 },
] }
"""


def repo(write_repo: WriteRepo) -> Path:
    return write_repo(
        {
            "lamina.toml": FLEET,
            "base/tools.toml": BASE_TOOLS,
            "overlays/dev/.keep": "",
            "overlays/prod/tools.toml": PROD_TOOLS,
        }
    )


def test_diff_pairs_items_by_the_merge_by_key(write_repo: WriteRepo) -> None:
    root = repo(write_repo)
    done = run_lamina_in_process("--repo", root, "diff", "dev/dev-1", "prod/prod-1", "--json")
    assert done.returncode == 1, done.stderr
    changes = json.loads(done.stdout)["changes"]
    assert changes == [
        {"path": "tools[crm].timeout_seconds", "a": 5, "b": 30},
        {"path": "tools[web]", "b": {"id": "web", "timeout_seconds": 10}},
    ]
    text = run_lamina_in_process("--repo", root, "diff", "dev/dev-1", "prod/prod-1")
    assert "tools[crm].timeout_seconds" in text.stdout
    assert "tools[web]" in text.stdout
    assert "tools[1]" not in text.stdout


def test_parity_pairs_items_by_the_merge_by_key(write_repo: WriteRepo) -> None:
    root = repo(write_repo)
    done = run_lamina_in_process("--repo", root, "parity", "--json")
    assert done.returncode in (0, 1), done.stderr
    paths = [row["path"] for row in json.loads(done.stdout)["differences"]]
    assert paths == ["tools[crm].timeout_seconds", "tools[web].id", "tools[web].timeout_seconds"]


def test_plan_pairs_items_by_the_merge_by_key(write_repo: WriteRepo) -> None:
    root = repo(write_repo)
    commit_all(root)
    (root / "overlays/prod/tools.toml").write_text(
        PROD_TOOLS.replace("timeout_seconds = 10", "timeout_seconds = 12")
    )
    done = run_lamina_in_process("--repo", root, "plan", "--json")
    assert done.returncode == 1, done.stderr
    (target,) = json.loads(done.stdout)["targets"]
    assert [change["path"] for change in target["changes"]] == ["tools[web].timeout_seconds"]
