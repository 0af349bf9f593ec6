"""One canary credential written as plain text into a layer: every command, stored drift result and
API answer that shows config masks it (the config hash and the shipped config keep it)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from cli_support import Ran, run_lamina
from conftest import commit_all
from lamina.server import tokens
from lamina.server.app import create_app
from lamina.server.settings import ServerSettings
from server.conftest import running

CANARY = "sk-canaryMASKme0123456789abcdef"
PARTS = (CANARY, CANARY[3:], CANARY[-12:])  # the value, and pieces of it a mask could leave
OVERLAY = "overlays/production/agent-patch.toml"


def lamina(root: Path, *args: str) -> Ran:
    return run_lamina("--repo", root, *args, env={"LAMINA_USER": "ops@example.com"})


def assert_masked(text: str, where: str) -> None:
    for part in PARTS:
        assert part not in text, f"{where} shows the credential"


@pytest.fixture
def fleet(example_repo: Path) -> Path:
    """The example fleet applied, then a commit that writes the canary into production's overlay."""
    assert lamina(example_repo, "apply", "production").returncode == 0
    overlay = example_repo / OVERLAY
    overlay.write_text(overlay.read_text() + f'\n[llm]\napi_key = "{CANARY}"\n')
    commit_all(example_repo, "a key pasted by mistake")
    return example_repo


def test_every_command_masks_the_canary(fleet: Path) -> None:
    target = "production/prod-us-1"
    runs = [
        ("build", target),
        ("build", target, "--format", "yaml"),
        ("build", target, "--format", "toml"),
        ("explain", target, "llm.api_key"),
        ("explain", target, "llm.api_key", "--json"),
        ("diff", "staging/staging-us-1", target),
        ("diff", "staging/staging-us-1", target, "--json"),
        ("parity",),
        ("parity", "--json"),
        ("plan", "--from", "HEAD~1", "--to", "HEAD"),
        ("plan", "--from", "HEAD~1", "--to", "HEAD", "--json"),
        ("drift", "production"),
        ("drift", "production", "--json"),
        ("validate", "production"),
        ("validate", "production", "--json"),
    ]
    for args in runs:
        done = lamina(fleet, *args)
        assert done.returncode in (0, 1), (args, done.stderr)
        assert_masked(done.stdout + done.stderr, " ".join(args))
    # the canary was really there: drift saw the field change, and the shipped config keeps the value
    drift = json.loads(lamina(fleet, "drift", "production", "--json").stdout)
    assert any(f["path"].startswith("llm") for row in drift for f in row["fields"])
    assert CANARY in lamina(fleet, "render", target, "--print").stdout


def test_stored_drift_results_and_the_api_mask_the_canary(fleet: Path) -> None:
    assert lamina(fleet, "drift", "production").returncode == 1
    with sqlite3.connect(fleet / ".lamina" / "state.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
            assert_masked(json.dumps(db.execute(f"SELECT * FROM {table}").fetchall(), default=str), table)
    path = fleet / ".lamina" / "tokens.toml"
    token = tokens.create(path, "ed@example.com", ["editor"])
    app = create_app(ServerSettings(repo_root=fleet, tokens_file=path))
    headers = {"Authorization": f"Bearer {token}"}
    with running(app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
        answers = [
            client.get("/api/v1/drift"),
            client.post("/api/v1/drift/run"),
            client.get("/api/v1/targets/production/prod-us-1/config"),
            client.get("/api/v1/targets/production/prod-us-1/explain", params={"key": "llm.api_key"}),
            client.get("/api/v1/diff", params={"a": "staging", "b": "production"}),
            client.get("/api/v1/plan", params={"from": "HEAD~1", "to": "HEAD"}),
            client.get("/targets/production/prod-us-1"),
        ]
    assert [a.status_code for a in answers[:-1]] == [200] * 6
    runs = answers[1].json()
    assert any(f["path"].startswith("llm") for row in runs for f in row["fields"])
    for answer in answers:
        assert_masked(answer.text, str(answer.request.url))


PROMPT = "base/prompts/system_prompt.txt"
PASTED = "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"  # 34 letters after hf_: a Hugging Face token


def test_a_key_pasted_into_a_prompt_file_fails_validate_and_apply_and_only_the_key_is_masked(
    example_repo: Path,
) -> None:
    prompt = example_repo / PROMPT
    lines = prompt.read_text().splitlines(keepends=True)
    prompt.write_text("".join([*lines[:2], f"Use the model hub token {PASTED} for downloads.\n", *lines[2:]]))
    commit_all(example_repo, "a token pasted into the prompt")
    target = "production/prod-us-1"

    problem = (
        f"plaintext credential hf_…(masked) in the text of {PROMPT} "
        "(read by agent.system_prompt): it matches the gitleaks rule huggingface-access-token; "
        'use {secret = "name/key"} or mark the line "lamina: allow-plaintext"'
    )
    validated = lamina(example_repo, "validate", "--json")
    assert validated.returncode == 1
    found = [p for p in json.loads(validated.stdout)["problems"] if p["check"] == "credentials"]
    assert [(p["place"], p["key"], p["message"]) for p in found] == [
        (f"{PROMPT}:3", "agent.system_prompt", problem)
    ]
    applied = lamina(example_repo, "apply", "production")
    assert applied.returncode != 0 and f"{PROMPT}:3" in applied.stdout + applied.stderr
    built = lamina(example_repo, "build", target, "--format", "json")
    shown = json.loads(built.stdout)["agent"]["system_prompt"]
    assert shown.startswith("You are the support assistant of Example Corp.")
    assert "Use the model hub token hf_…(masked) for downloads.\n" in shown
    for done in (validated, applied, built):
        assert PASTED[3:] not in done.stdout + done.stderr

    # the line marked as allowed passes
    prompt.write_text(prompt.read_text().replace("downloads.", "downloads. lamina: allow-plaintext"))
    commit_all(example_repo, "a published demo token")
    assert f"{PROMPT}:3" not in lamina(example_repo, "validate").stdout
