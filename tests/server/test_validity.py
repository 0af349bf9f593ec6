"""The validation problems of a fetched revision: one ``validation-failed`` notice per
environment they touch, written with its audit record, once per revision whoever looks again;
none for a valid revision; no credential-like value in what is written."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cli_support import start_lamina_serve
from conftest import commit_all, git, seeded_remote
from lamina.core.notices import Topic
from lamina.server import validity
from lamina.store import outbox
from lamina.store.database import Database
from lamina.store.models import AuditRecord
from lamina.store.outbox_models import OutboxNotice
from notify.conftest import Receiver, receiver

__all__ = ["receiver"]

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
CANARY = "sk-canary-9f3b2c71e4d04b6a8c1d"
STAGING = "overlays/staging/agent-patch.toml"


def break_staging(root: Path) -> str:
    """Commit a staging overlay with a value over the schema's maximum and a plaintext key."""
    path = root / STAGING
    text = path.read_text().replace("max_tool_calls = 15", "max_tool_calls = 500")
    text = text.replace('model = "gpt-4o"', f'model = "gpt-4o"\napi_key = "{CANARY}"', 1)
    path.write_text(text)
    return commit_all(root, "staging: more tool calls")


def everything_written(db: Database) -> str:
    """Every notice and audit record, as text."""
    return db.read(
        lambda s: repr(
            [(n.key, n.subject, n.facts) for n in s.execute(select(OutboxNotice)).scalars()]
            + [(a.action, a.subject, a.detail) for a in s.execute(select(AuditRecord)).scalars()]
        )
    )


@pytest.fixture
def db(example_repo: Path) -> Iterator[Database]:
    database = Database.for_repository(example_repo, None)
    yield database
    database.dispose()


@pytest.fixture
def shared_db(database_url: str) -> Iterator[Database]:
    """The state database of replicas: SQLite and PostgreSQL."""
    database = Database(database_url)
    yield database
    database.dispose()


def test_a_bad_revision_is_told_once_and_a_good_one_never(example_repo: Path, shared_db: Database) -> None:
    db = shared_db
    check = validity.RevisionCheck(example_repo, db, lambda: T0)
    good = git(example_repo, "rev-parse", "HEAD")

    assert check.look(good) == validity.Finding(good, (), ())
    bad = break_staging(example_repo)
    other = validity.RevisionCheck(example_repo, db, lambda: T0)  # another replica, at the same time
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        found = sorted((f.told for f in pool.map(lambda r: r.look(bad), [check, other])), key=len)

    assert found == [(), ("staging",)]
    [notice] = outbox.notices_in(db)
    assert (notice.key, notice.topic, notice.environment, notice.subject) == (
        f"validation-failed/{bad}/staging",
        Topic.VALIDATION_FAILED,
        "staging",
        bad[:12],
    )
    assert notice.facts == {
        "revision": bad,
        "count": 3,
        "problems": [
            f"{STAGING}:6: staging/staging-us-1: guardrails.max_tool_calls: 500 is greater than the "
            "maximum of 50 (schema/agent.schema.json)",
            f"{STAGING}:6: staging: guardrails.max_tool_calls: staging has 500, greater than 25 in its "
            "upstream development; along the promotion path it may only stay or decrease "
            "(non-increasing, policies/production.toml:16)",
            f"{STAGING}:3: overlays/staging: agent.api_key: plaintext credential sk-…(masked): the "
            'literal looks like an OpenAI-style API key; use {secret = "name/key"} or mark the line '
            '"# lamina: allow-plaintext"',
        ],
    }
    audited = db.read(lambda s: [(a.action, a.environment, a.detail) for a in s.scalars(select(AuditRecord))])
    assert audited == [("validation.failed", "staging", {"revision": bad, "problems": 3})]

    # the same revision seen again: by this replica, or by another one after a restart
    assert check.look(bad).told == ()
    assert validity.RevisionCheck(example_repo, db, lambda: T0).look(bad).told == ()
    assert len(outbox.notices_in(db)) == 1
    assert db.read(lambda s: len(s.scalars(select(AuditRecord)).all())) == 1
    assert CANARY not in everything_written(db)
    assert "sk-canary" not in everything_written(db)


def test_the_background_check_looks_at_each_fetched_revision_once(example_repo: Path, db: Database) -> None:
    written: list[str] = []
    check = validity.RevisionCheck(example_repo, db, lambda: T0, on_written=lambda: written.append("wake"))
    check.start()
    try:
        bad = break_staging(example_repo)
        check.fetched(bad, "main")
        wait_for(lambda: check.runs == 1)
        check.fetched(bad, "main")  # fetched again: looked at already
        git(example_repo, "revert", "--no-edit", "HEAD")
        good = git(example_repo, "rev-parse", "HEAD")
        check.fetched(good, "main")
        wait_for(lambda: check.runs == 2)
    finally:
        check.stop()
    assert (check.looked, check.problems, written) == (good, 0, ["wake"])
    [notice] = outbox.notices_in(db)
    assert (notice.key, notice.facts["branch"]) == (f"validation-failed/{bad}/staging", "main")


def write_file(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("relative", "text", "told", "problem"),
    [
        pytest.param(
            "base/limits.toml",
            "[guardrails]\ntoxicity_threshold = 3\n",
            ("development", "production", "production-eu", "staging"),
            "base/limits.toml:2: ",
            id="base-every-environment",
        ),
        pytest.param(
            "overlays/production/limits.toml",
            '[agent]\nsystem_prompt = "short"\n',
            ("production", "production-eu"),
            "overlays/production/limits.toml:2: production",
            id="overlay-and-the-environments-built-on-it",
        ),
        pytest.param(
            "clusters/prod-us-2.toml",
            '[agent]\nmodel = ""\n',
            ("production",),
            "clusters/prod-us-2.toml:5: production/prod-us-2: agent.model: '' should be non-empty",
            id="cluster-layer",
        ),
        pytest.param(
            "overlays/staging/broken.toml",
            "[agent\n",
            ("staging",),
            "overlays/staging/broken.toml:1:",
            id="a-file-that-does-not-parse",
        ),
        pytest.param(
            "lamina.toml",
            "[fleet\n",
            ("development", "production", "production-eu", "staging"),
            "lamina.toml:1:",
            id="a-fleet-that-does-not-load",
        ),
    ],
)
def test_each_environment_a_problem_touches_is_told(
    example_repo: Path, db: Database, relative: str, text: str, told: tuple[str, ...], problem: str
) -> None:
    check = validity.RevisionCheck(example_repo, db, lambda: T0)
    check.look(git(example_repo, "rev-parse", "HEAD"))  # the environments of the revision before
    if relative.startswith("clusters/"):
        with (example_repo / relative).open("a") as stream:
            stream.write("\n" + text)
        text = (example_repo / relative).read_text()
    write_file(example_repo, relative, text)
    bad = commit_all(example_repo, "bad")

    found = check.look(bad)

    assert found.told == told
    notices = outbox.notices_in(db)
    assert sorted(n.environment or "-" for n in notices) == list(told)
    for notice in notices:
        assert notice.facts["revision"] == bad
        assert any(line.startswith(problem) for line in notice.facts["problems"]), notice.facts


def metric(client: httpx.Client, name: str) -> float | None:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def wait_for(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        time.sleep(0.05)


def test_lamina_serve_tells_of_a_bad_push_once(tmp_path: Path, receiver: Receiver) -> None:
    remote, seed = seeded_remote(
        tmp_path,
        '\n[drift]\ninterval = "0"\n\n[server]\npublic_url = "https://lamina.example.com"\n\n'
        '[git]\nfetch_interval = "1h"\nwebhook_secret_env = "HOOK_SECRET"\n\n'
        '[alerts.staging]\nsinks = [{type = "webhook", url_env = "STAGING_HOOK"}]\n',
        "serve from origin, tell staging",
    )
    clone = tmp_path / "served"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    env = {"STAGING_HOOK": receiver.url + "/hook", "HOOK_SECRET": "hook-secret-0c4e"}

    def push(revision: str, served: httpx.Client, runs: float) -> None:
        git(seed, "push", "-q", "origin", "main")
        hooked = served.post(
            "/api/v1/hooks/git", content=b"{}", headers={"X-Gitlab-Token": "hook-secret-0c4e"}
        )
        assert hooked.json()["revision"] == revision
        wait_for(lambda: metric(served, "lamina_validation_runs_total") == runs)

    server, url = start_lamina_serve(clone, env=env)
    try:
        with httpx.Client(base_url=url, timeout=30) as served:
            wait_for(
                lambda: metric(served, "lamina_validation_runs_total") == 1
            )  # the revision it started on
            assert metric(served, "lamina_validation_problems") == 0
            bad = break_staging(seed)
            push(bad, served, 2)
            [told] = receiver.wait_for(1)
            assert metric(served, "lamina_validation_problems") == 3
    finally:
        server.terminate()
        server.wait(30)

    server, url = start_lamina_serve(clone, env=env)  # a restart sees the bad revision again
    try:
        with httpx.Client(base_url=url, timeout=30) as served:
            wait_for(lambda: metric(served, "lamina_validation_runs_total") == 1)
            assert metric(served, "lamina_validation_problems") == 3
            git(seed, "revert", "--no-edit", "HEAD")
            good = git(seed, "rev-parse", "HEAD")
            push(good, served, 2)
            assert metric(served, "lamina_validation_problems") == 0
    finally:
        server.terminate()
        server.wait(30)

    assert len(receiver.accepted()) == 1
    body = told.json
    assert (body["topic"], body["environment"], body["subject"], body["link"]) == (
        "validation-failed",
        "staging",
        bad[:12],
        "https://lamina.example.com/?env=staging",
    )
    assert body["summary"] == f"staging: 3 validation problems in {bad[:12]} on main"
    assert body["facts"]["revision"] == bad
    assert body["facts"]["problems"][0].startswith(
        f"{STAGING}:6: staging/staging-us-1: guardrails.max_tool_calls"
    )
    assert told.headers["Idempotency-Key"] == f"validation-failed/{bad}/staging"
    assert "sk-canary" not in told.body.decode()
    db = Database.for_repository(clone, None)
    assert [n.key for n in outbox.notices_in(db)] == [f"validation-failed/{bad}/staging"]
    assert "sk-canary" not in everything_written(db)
    db.dispose()
