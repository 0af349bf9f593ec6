"""With LAMINA_SERVER and LAMINA_TOKEN set, ``lamina promote`` acts through a real ``lamina serve``
over HTTP: the token's user decides, the server's rules apply, and the exit codes stay lamina's."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_support import Ran, run_lamina, start_lamina_serve
from conftest import git
from lamina.server import tokens


class Server:
    def __init__(self, root: Path, url: str, issued: dict[str, str], elsewhere: Path) -> None:
        self.root, self.url, self.issued, self.elsewhere = root, url, issued, elsewhere

    def lamina(self, user: str, *args: str) -> Ran:
        env = {"LAMINA_SERVER": self.url, "LAMINA_TOKEN": self.issued[user]}
        return run_lamina(*args, cwd=self.elsewhere, env=env)  # no repository here: only the server


@pytest.fixture
def server(example_repo: Path, tmp_path: Path) -> Iterator[Server]:
    path = example_repo / ".lamina" / "tokens.toml"
    issued = {
        "alice": tokens.create(path, "alice@example.com", ["editor"]),
        "bob": tokens.create(path, "bob@example.com", ["approver:staging"]),
        "vera": tokens.create(path, "vera@example.com", ["viewer"]),
    }
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    process: subprocess.Popen[bytes]
    process, url = start_lamina_serve(example_repo, timeout=60)
    try:
        yield Server(example_repo, url, issued, elsewhere)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_request_approve_and_apply_through_the_server(server: Server) -> None:
    made = server.lamina("alice", "promote", "request", "development", "staging", "--json")
    assert made.returncode == 0, made.stderr
    answer = json.loads(made.stdout)
    assert (answer["id"], answer["requested_by"], answer["status"]) == (
        "PR-1",
        "alice@example.com",
        "testing",
    )

    own = server.lamina("alice", "promote", "approve", "PR-1")
    assert own.returncode == 2
    assert own.stderr.startswith(f"error: the server at {server.url} refused: ")

    viewer = server.lamina("vera", "promote", "apply", "1")
    assert viewer.returncode == 2, viewer.stderr
    assert viewer.stderr.startswith(f"error: the server at {server.url} refused: ")

    approved = server.lamina("bob", "promote", "approve", "PR-1", "--comment", "ok")
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.strip() == "PR-1 promotion development -> staging: approved"

    applied = server.lamina("bob", "promote", "apply", "PR-1", "--json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["commit"] == git(server.root, "rev-parse", "HEAD")  # the server's clone


def test_reject_and_a_missing_request(server: Server) -> None:
    assert server.lamina("alice", "promote", "request", "development", "staging").returncode == 0
    rejected = server.lamina("bob", "promote", "reject", "PR-1", "--json")
    assert rejected.returncode == 0, rejected.stderr
    assert json.loads(rejected.stdout)["status"] == "rejected"
    missing = server.lamina("bob", "promote", "apply", "PR-99")
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"error: the server at {server.url} refused: ")


def test_a_bad_token_an_unreachable_server_and_half_the_settings(server: Server, tmp_path: Path) -> None:
    server.issued["mallory"] = "not-a-token"
    bad = server.lamina("mallory", "promote", "apply", "PR-1")
    assert (bad.returncode, bad.stderr.strip()) == (
        2,
        f"error: the server at {server.url} does not accept the token in LAMINA_TOKEN (401)",
    )
    gone = run_lamina(
        "promote",
        "apply",
        "PR-1",
        cwd=tmp_path,
        env={"LAMINA_SERVER": "http://127.0.0.1:9", "LAMINA_TOKEN": "x"},
    )
    assert gone.returncode == 3
    assert gone.stderr.startswith("error: cannot reach the lamina server at http://127.0.0.1:9: ")
    half = run_lamina("promote", "apply", "PR-1", cwd=tmp_path, env={"LAMINA_SERVER": server.url})
    assert (half.returncode, half.stderr.strip()) == (
        2,
        "error: LAMINA_SERVER is set but LAMINA_TOKEN is not: set both to act through the server, or neither",
    )
    assert server.issued["alice"] not in bad.stderr + gone.stderr + half.stderr


def test_apply_and_heal_through_the_server(server: Server) -> None:
    viewer = server.lamina("vera", "apply", "staging")
    assert viewer.returncode == 2 and "refused" in viewer.stderr
    assert not (server.root / "out" / "staging-us-1").exists()
    shipped = server.lamina("alice", "apply", "staging", "--json")
    assert shipped.returncode == 0, shipped.stderr
    outcomes = json.loads(shipped.stdout)
    assert [(o["cluster"], o["result"]) for o in outcomes] == [("staging-us-1", "applied")]
    live = server.root / "out" / "staging-us-1" / "agent-config.json"
    config = json.loads(live.read_text())
    config["guardrails"]["max_tool_calls"] = 99
    live.write_text(json.dumps(config))
    healed = server.lamina("alice", "drift", "--heal", "staging")
    assert healed.returncode == 0, healed.stderr
    assert "healed staging/staging-us-1: applied" in healed.stdout
    assert json.loads(live.read_text())["guardrails"]["max_tool_calls"] != 99
    audit = run_lamina("--repo", server.root, "audit", "--json")
    actors = {(row["action"], row["actor"]) for row in json.loads(audit.stdout)}
    assert ("apply", "alice@example.com") in actors  # the token's user, proven, not a typed name


def test_adopt_is_refused_not_run_locally(example_repo: Path) -> None:
    env = {"LAMINA_SERVER": "http://127.0.0.1:9", "LAMINA_TOKEN": "x"}
    refused = run_lamina(
        "--repo", example_repo, "drift", "--adopt", "staging/staging-us-1", "--reason", "r", env=env
    )
    assert (refused.returncode, refused.stderr.strip()) == (
        2,
        "error: lamina drift --adopt cannot go through the server yet (its API has no endpoint for it); "
        "unset LAMINA_SERVER and LAMINA_TOKEN to run it from this clone",
    )


def test_change_requests_and_freezes_through_the_server(server: Server) -> None:
    asked = server.lamina("alice", "change", "request", "staging", "--reason", "tune", "--json")
    assert asked.returncode == 0, asked.stderr
    made = json.loads(asked.stdout)
    assert (made["kind"], made["requested_by"], made["target"]) == ("change", "alice@example.com", "staging")
    editor = server.lamina("alice", "freeze", "staging", "--until", "2h", "--reason", "release")
    assert editor.returncode == 2
    assert "freezing staging needs approver:staging or admin" in editor.stderr
    frozen = server.lamina("bob", "freeze", "staging", "--until", "2h", "--reason", "release")
    assert frozen.returncode == 0, frozen.stderr
    assert frozen.stdout.startswith("staging frozen until ") and frozen.stdout.strip().endswith(": release")
    refused = server.lamina("alice", "change", "request", "staging")
    assert refused.returncode == 2 and "staging is frozen until" in refused.stderr
    lifted = server.lamina("bob", "unfreeze", "staging")
    assert (lifted.returncode, lifted.stdout.strip()) == (0, "staging unfrozen")
    audit = json.loads(run_lamina("--repo", server.root, "audit", "--json").stdout)
    assert {("freeze", "bob@example.com"), ("unfreeze", "bob@example.com")} <= {
        (row["action"], row["actor"]) for row in audit
    }
