"""Two ``lamina serve`` replicas, each on its own clone of one bare remote, sharing one
PostgreSQL: a promotion applied through replica A is served by replica B within one fetch
interval, or at once after a signed push webhook; a forged webhook is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cli_support import start_lamina_serve
from conftest import git, seeded_remote
from lamina.server import tokens

SECRET = "hook-secret-5b1d"
PAYLOAD = json.dumps({"ref": "refs/heads/main", "after": "x; rm -rf /"}).encode()


@dataclass
class Replica:
    root: Path
    client: httpx.Client
    token: dict[str, str]

    def post(self, path: str, user: str, body: object = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token[user]}"}
        return self.client.post(path, json=body, headers=headers)

    def revision(self) -> str:
        answer: str = self.client.get("/readyz").json()["revision"]
        return answer


@dataclass
class Hub:
    remote: Path
    a: Replica
    b: Replica

    def promote_through_a(self) -> str:
        made = self.a.post("/api/v1/promotions", "alice", {"source": "development", "target": "staging"})
        assert made.status_code == 201, made.text
        rid = made.json()["id"].removeprefix("PR-")
        approved = self.a.post(f"/api/v1/promotions/{rid}/approve", "bob")
        assert approved.status_code == 200, approved.text
        applied = self.a.post(f"/api/v1/promotions/{rid}/apply", "bob")
        assert applied.status_code == 200, applied.text
        head = git(self.remote, "rev-parse", "main")
        assert applied.json()["commit"] == head  # pushed by replica A
        return head


def wait_for(check: object, seconds: float) -> float:
    """Poll check until it is true; the seconds it took (fails after seconds)."""
    assert callable(check)
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
def hub(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> Iterator[Hub]:
    interval = request.param
    remote, _ = seeded_remote(
        tmp_path,
        '\n[drift]\ninterval = "0"\n\n[git]\npush = true\n'
        f'fetch_interval = "{interval}"\nwebhook_secret_env = "LAMINA_HOOK_SECRET"\n',
    )
    processes: list[subprocess.Popen[bytes]] = []
    replicas = []
    try:
        for name in ("a", "b"):
            clone = tmp_path / name
            git(tmp_path, "clone", "-q", str(remote), str(clone))
            path = clone / ".lamina" / "tokens.toml"
            issued = {
                "alice": tokens.create(path, "alice@example.com", ["editor"]),
                "bob": tokens.create(path, "bob@example.com", ["approver:staging"]),
            }
            env = {"LAMINA_DATABASE_URL": postgres_url, "LAMINA_HOOK_SECRET": SECRET}
            process, url = start_lamina_serve(clone, env=env, timeout=60)
            processes.append(process)
            replicas.append(Replica(clone, httpx.Client(base_url=url, timeout=60), issued))
        yield Hub(remote, replicas[0], replicas[1])
    finally:
        for replica in replicas:
            replica.client.close()
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.parametrize("hub", [pytest.param("2s", id="interval")], indirect=True)
def test_replica_b_serves_a_promotion_through_a_within_one_fetch_interval(hub: Hub) -> None:
    before = hub.b.revision()
    head = hub.promote_through_a()
    assert hub.a.revision() == head and before != head

    took = wait_for(lambda: hub.b.revision() == head, 2 + 3)  # one interval, and slack for a busy machine

    assert took < 5
    assert git(hub.b.root, "rev-parse", "HEAD") == head
    page = hub.b.client.get("/login")
    assert f'<code class="revision">{head[:12]}</code>' in page.text


@pytest.mark.parametrize("hub", [pytest.param("1h", id="webhook-only")], indirect=True)
def test_a_signed_webhook_makes_replica_b_serve_it_at_once_and_a_forged_one_is_refused(hub: Hub) -> None:
    before = hub.b.revision()
    wait_for(
        lambda: hub.b.client.get("/metrics").text.count("lamina_git_last_fetch_timestamp_seconds 0.0") == 0,
        10,
    )
    head = hub.promote_through_a()
    assert hub.b.revision() == before  # its next fetch is an hour away

    forged = hmac.new(b"guessed", PAYLOAD, hashlib.sha256).hexdigest()
    for headers in (
        {"X-Hub-Signature-256": f"sha256={forged}"},
        {"X-Gitlab-Token": "guessed"},
        {},
    ):
        refused = hub.b.client.post("/api/v1/hooks/git", content=PAYLOAD, headers=headers)
        assert (refused.status_code, refused.json()) == (401, {"detail": "bad signature"})
    assert hub.b.revision() == before

    good = hmac.new(SECRET.encode(), PAYLOAD, hashlib.sha256).hexdigest()
    answered = hub.b.client.post(
        "/api/v1/hooks/git", content=PAYLOAD, headers={"X-Hub-Signature-256": f"sha256={good}"}
    )

    assert answered.status_code == 200, answered.text
    assert answered.json() == {"revision": head, "moved": True, "fetched": True}
    assert hub.b.revision() == head
    gitlab = hub.b.client.post("/api/v1/hooks/git", content=b"{}", headers={"X-Gitlab-Token": SECRET})
    assert gitlab.json() == {"revision": head, "moved": False, "fetched": True}
    assert SECRET not in answered.text + gitlab.text + hub.b.client.get("/metrics").text
