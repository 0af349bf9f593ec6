"""vault: references are checked against a Vault KV v2 API (a local test server), names only."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cli_support import Ran, run_lamina

CANARY = "vault-canary-Zq8xN3pLr5"


class FakeVault(BaseHTTPRequestHandler):
    """Vault's KV v2 read endpoint for one secret: kv/agents holds openai (the canary)."""

    def do_GET(self) -> None:
        if self.headers.get("X-Vault-Token") != "test-token":
            self._answer(403, {"errors": ["permission denied"]})
        elif self.path.split("?")[0] == "/v1/kv/data/agents":
            self._answer(200, {"data": {"data": {"openai": CANARY}, "metadata": {"version": 3}}})
        else:
            self._answer(404, {"errors": []})

    def _answer(self, status: int, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def vault() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeVault)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def check(repo: Path, env: dict[str, str]) -> Ran:
    return run_lamina("--repo", repo, "secrets", "check", "production", "--json", env=env)


def with_vault_refs(repo: Path) -> None:
    agent = repo / "base" / "agent.toml"
    agent.write_text(
        agent.read_text()
        + '\n[vault]\nopenai = { secret = "vault:kv/agents#openai" }\n'
        + 'backup = { secret = "vault:kv/agents#backup" }\n'
        + 'legacy = { secret = "vault:kv/legacy#token" }\n'
    )


def test_vault_references_are_checked_by_name(example_repo: Path, vault: str) -> None:
    with_vault_refs(example_repo)
    done = check(example_repo, {"VAULT_ADDR": vault, "VAULT_TOKEN": "test-token"})
    assert done.returncode == 1, done.stderr  # two vault keys are missing
    statuses = {(c["cluster"], c["reference"]): c["status"] for c in json.loads(done.stdout)}
    for cluster in ("prod-us-1", "prod-us-2"):
        assert statuses[(cluster, "vault:kv/agents#openai")] == "present"
        assert statuses[(cluster, "vault:kv/agents#backup")] == "missing"
        assert statuses[(cluster, "vault:kv/legacy#token")] == "missing"
        assert statuses[(cluster, "openai/api-key")] == "present"
    assert CANARY not in done.stdout + done.stderr


def test_a_refused_token_is_unreachable_not_missing(example_repo: Path, vault: str) -> None:
    with_vault_refs(example_repo)
    done = check(example_repo, {"VAULT_ADDR": vault, "VAULT_TOKEN": "wrong"})
    statuses = {c["status"] for c in json.loads(done.stdout) if c["reference"].startswith("vault:")}
    assert statuses == {"unreachable"}
    assert done.returncode == 1


def test_without_vault_addr_vault_references_are_skipped(example_repo: Path) -> None:
    with_vault_refs(example_repo)
    done = check(example_repo, {})  # no VAULT_* passed: run_lamina drops them
    vault_checks = [c for c in json.loads(done.stdout) if c["reference"].startswith("vault:")]
    assert {c["status"] for c in vault_checks} == {"skipped"}
    assert {c["detail"] for c in vault_checks} == {"VAULT_ADDR is not set"}
    assert done.returncode == 0
