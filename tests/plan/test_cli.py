"""``lamina plan`` run for real as a subprocess on the ``lamina init`` example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import run_lamina as lamina
from conftest import commit_all, git
from lamina.fleet import scaffold

CANARY = "sk-canary-9f3b2c71e4d04b6a8c1d"


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, f"{rel} no longer holds {old!r}"
    path.write_text(text.replace(old, new))


def test_nothing_changed_exits_0(example_repo: Path) -> None:
    done = lamina("plan", cwd=example_repo)
    assert (done.returncode, done.stderr) == (0, "")
    assert "no files changed" in done.stdout
    assert "0 of 5 targets touched (0 resolved)" in done.stdout


def test_a_change_exits_1_and_reports_it(example_repo: Path) -> None:
    edit(example_repo, "clusters/prod-us-2.toml", "streaming = false", "streaming = true")
    done = lamina("plan", cwd=example_repo)
    assert (done.returncode, done.stderr) == (1, "")
    assert "changed files (1): clusters/prod-us-2.toml" in done.stdout
    assert "--- production/prod-us-2@HEAD\n+++ production/prod-us-2\n" in done.stdout
    assert "~ feature_flags.streaming: false -> true" in done.stdout
    assert "1 of 5 targets touched (1 resolved)" in done.stdout


def test_json_between_commits(example_repo: Path) -> None:
    edit(
        example_repo,
        "overlays/production/agent-patch.toml",
        "max_tool_calls     = 10",
        "max_tool_calls     = 14",
    )
    commit_all(example_repo, "more tool calls in production")
    done = lamina("plan", "--from", "HEAD~1", "--to", "HEAD", "--json", cwd=example_repo)
    assert (done.returncode, done.stderr) == (1, "")
    data = json.loads(done.stdout)
    assert [t["target"] for t in data["targets"]] == ["production/prod-us-1", "production/prod-us-2"]
    first = data["targets"][0]
    assert first["changes"] == [{"path": "guardrails.max_tool_calls", "a": 10, "b": 14}]
    assert first["flags"] == ["guardrail-loosened"]
    assert len(first["from_hash"]) == len(first["to_hash"]) == 64
    assert data["summary"]["touched"] == 2
    assert data["summary"]["untouched"] == 3
    assert data["summary"]["resolved"] == 3  # production-eu extends production: it could have changed
    assert data["from"]["label"] == "HEAD~1" and data["to"]["commit"] == git(
        example_repo, "rev-parse", "HEAD"
    )


def test_markdown_report(example_repo: Path) -> None:
    edit(
        example_repo,
        "base/prompts/system_prompt.txt",
        "Be brief and friendly.",
        "Be brief, friendly and exact.",
    )
    edit(example_repo, "overlays/production-eu/agent-patch.toml", '"azure-openai"', '"mistral"')
    done = lamina("plan", "--format", "markdown", cwd=example_repo)
    assert (done.returncode, done.stderr) == (1, "")
    text = done.stdout
    assert text.startswith("### lamina plan: `HEAD` (`")
    assert "**5 of 5 targets touched** · 5 resolved · 2 changed files" in text
    assert "| Environment | Targets | Touched |\n|---|---:|---:|\n| development | 1 | 1 |\n" in text
    assert "**Flags:** `model-changed` (1 target) · `prompt-changed` (5 targets)" in text
    assert text.count("<details>") == text.count("</details>") == 2  # four alike, one with its own model
    assert (
        "<summary><code>production-eu/prod-eu-1</code> · changed · 2 changes · <b>model-changed</b>" in text
    )
    assert '| `agent.provider` | `"azure-openai"` | `"mistral"` |' in text
    assert "```diff\n--- production-eu/prod-eu-1@HEAD\n+++ production-eu/prod-eu-1\n" in text
    assert "-Answer questions about orders, billing and accounts. Be brief and friendly.\n" in text


def test_json_and_markdown_do_not_go_together(example_repo: Path) -> None:
    done = lamina("plan", "--json", "--format", "markdown", cwd=example_repo)
    assert done.returncode == 2
    assert done.stderr == "error: --json and --format markdown do not go together; choose one\n"


def test_a_plain_folder_is_refused(tmp_path: Path) -> None:
    scaffold.write_example(tmp_path / "fleet", git=False)
    done = lamina("plan", cwd=tmp_path / "fleet")
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "is not a git repository; lamina plan compares git revisions" in done.stderr


def test_an_unknown_revision(example_repo: Path) -> None:
    done = lamina("plan", "--from", "no-such-branch", cwd=example_repo)
    assert (done.returncode, done.stderr) == (2, "error: unknown git revision 'no-such-branch'\n")


@pytest.mark.parametrize("args", [[], ["--json"], ["--format", "markdown"]], ids=["text", "json", "markdown"])
def test_secret_references_change_but_no_secret_value_is_shown(example_repo: Path, args: list[str]) -> None:
    # the values exist where a careless tool could find them: the environment and a manifest
    manifest = example_repo / "out/prod-eu-1/openai-secret.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: openai}}\nstringData: {{api-key: {CANARY}}}\n"
    )
    edit(
        example_repo,
        "base/agent.toml",
        '{ secret = "openai/api-key" }',
        '{ secret = "vault:kv/agents#openai" }',
    )
    edit(example_repo, "base/tools.toml", 'api_token       = { secret = "crm/api-token" }\n', "")
    edit(
        example_repo,
        "base/agent.toml",
        'backend     = "redis"',
        'backend     = "redis"\npassword    = { secret = "redis/password" }',
    )
    done = lamina("plan", *args, cwd=example_repo, env={"OPENAI_API_KEY": CANARY, "CRM_API_TOKEN": CANARY})
    assert done.returncode == 1, done.stderr
    assert CANARY not in done.stdout + done.stderr
    assert "vault:kv/agents#openai" in done.stdout
    assert "secret-ref-changed" in done.stdout
    if args == ["--json"]:
        data = json.loads(done.stdout)
        assert all(t["flags"] == ["secret-ref-changed"] for t in data["targets"])
        assert data["targets"][0]["flag_paths"]["secret-ref-changed"] == [
            "agent.api_key",
            "memory.password",
            "tools[crm].api_token",
        ]


def test_plan_masks_a_plaintext_credential(example_repo: Path) -> None:
    canary = "sk-canaryPLAINTEXT0123456789abcdef"
    agent = example_repo / "base" / "agent.toml"
    agent.write_text(
        agent.read_text().replace(
            'provider      = "openai"', f'provider      = "openai"\nbackup_key = "{canary}"'
        )
    )
    for args in (["plan"], ["plan", "--json"], ["plan", "--format", "markdown"]):
        done = lamina("--repo", example_repo, *args)
        assert done.returncode == 1, done.stderr
        assert canary not in done.stdout + done.stderr
        assert "sk-" in done.stdout  # shown masked, with its public prefix
