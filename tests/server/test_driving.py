"""The server drives rollouts: a rollout recorded and left running moves on from the server, and
two replicas on one PostgreSQL database drive it once (emulated clusters whose Deployments a
controller rolls, a real Prometheus)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lamina.clusters import connection, secrets
from lamina.core.targets import TargetRef
from lamina.guard.actors import Actor
from lamina.resolve.repository import Repository
from lamina.rollout import engine
from lamina.server import driving
from lamina.server.context import Context
from lamina.server.settings import ServerSettings
from lamina.store import applies, audit, rollouts
from lamina.store import promotions as store
from lamina.store.database import Database
from lamina.store.rollouts import RolloutRecord
from rollout.test_engine import RolloutFleet, rollout_fleet

pytestmark = pytest.mark.slow
__all__ = ["rollout_fleet"]  # the fixture, shared with the engine's tests


def start_rollout(fleet: RolloutFleet, db: Database) -> RolloutRecord:
    """Record a rollout of dev, as ``apply --rollout`` does before it drives (nobody drives it)."""
    env = fleet.env()
    with Repository(fleet.root) as repo:
        kube = connection.KubeSettings.from_environment(env, repo.root, repo.fleet.settings.apply)
        with secrets.Lookups.from_environment(env, kube) as lookups:
            driver = engine.Driver(
                repo=repo, db=db, kube=kube, lookups=lookups, actor=Actor("tester@example.com"), environ=env
            )
            return driver.start([TargetRef("dev", name) for name in fleet.names()])


def wait_until_ended(db: Database, rollout_id: int, timeout: float = 90) -> RolloutRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = rollouts.get(db, rollout_id)
        if record.status.is_terminal:
            return record
        time.sleep(0.1)
    raise AssertionError(f"rollout {rollout_id} did not end: {rollouts.get(db, rollout_id)}")


def test_two_replicas_on_postgresql_drive_a_left_rollout_once(
    rollout_fleet: RolloutFleet, postgres_url: str, tmp_path: Path
) -> None:
    fleet = rollout_fleet
    db = Database(postgres_url)
    db.ensure_schema()
    record = start_rollout(fleet, db)
    settings = ServerSettings(
        repo_root=fleet.root, tokens_file=None, database_url=postgres_url, environ=fleet.env()
    )
    ended: list[int] = []
    replicas = [
        driving.RolloutRunner(Context(settings), interval=0.05, on_end=ended.append) for _ in range(2)
    ]
    for replica in replicas:
        replica.start()
    try:
        final = wait_until_ended(db, record.id)
    finally:
        for replica in replicas:
            replica.stop()
    assert final.status.value == "succeeded", final.reason
    counts: dict[str, int] = {}
    for item in applies.applies_of(db, "dev"):
        if item.result == "applied" and item.at >= record.created_at:
            counts[item.cluster] = counts.get(item.cluster, 0) + 1
    assert counts == {name: 1 for name in fleet.names()}
    for name in fleet.names():
        assert fleet.mounted(name) != fleet.v1[name]
    rows = db.read(lambda session: audit.newest(session, 500))
    steps = [
        row for row in rows if row.subject == f"rollout {record.id}" and row.action == "rollout.step-passed"
    ]
    assert [row.actor for row in steps] == [driving.ACTOR, driving.ACTOR]
    db.dispose()


def test_a_stopping_server_lets_go_and_the_next_one_carries_on(rollout_fleet: RolloutFleet) -> None:
    fleet = rollout_fleet
    db = fleet.db
    record = start_rollout(fleet, db)
    settings = ServerSettings(repo_root=fleet.root, tokens_file=None, environ=fleet.env())
    first = driving.RolloutRunner(Context(settings), interval=0.05)
    first.start()
    deadline = time.monotonic() + 60
    while rollouts.get(db, record.id).phase.value != "bake" and time.monotonic() < deadline:
        time.sleep(0.05)
    first.stop()  # mid-bake: the driver stops at its wait and gives its lease back
    stopped = rollouts.get(db, record.id)
    assert (stopped.status.value, stopped.phase.value) == ("running", "bake")
    assert rollouts.lease_holder(db, record.id, datetime.now(UTC)) is None  # given back, not left to expire
    second = driving.RolloutRunner(Context(settings), interval=0.05)
    second.start()
    try:
        final = wait_until_ended(db, record.id)
    finally:
        second.stop()
    assert final.status.value == "succeeded", final.reason


def test_a_driver_refused_by_a_freeze_is_tried_again_later_not_every_look(example_repo: Path) -> None:
    db = Database.for_repository(example_repo, None)
    now = datetime.now(UTC)
    store.set_freeze(
        db, environment="development", until=now + timedelta(hours=1), reason="demo", actor="lead", at=now
    )
    record = rollouts.create(
        db,
        environment="development",
        revision=None,
        steps=[["local-dev"]],
        plan={"bake": 0.0, "timeout": 5.0, "analysis": None},
        actor="tester@example.com",
        at=now,
    )
    ended: list[int] = []
    runner = driving.RolloutRunner(
        Context(ServerSettings(repo_root=example_repo, tokens_file=None)), interval=0.02, on_end=ended.append
    )
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while not ended and time.monotonic() < deadline:
            time.sleep(0.02)
        looks = time.monotonic() + 0.5  # some 25 looks: none starts the rollout's driver again
        while time.monotonic() < looks:
            assert len(ended) == 1
            time.sleep(0.02)
    finally:
        runner.stop()
    rows = db.read(lambda session: audit.newest(session, 50))
    assert [row.action for row in rows].count("apply.refused") == 1
    assert rollouts.get(db, record.id).status.value == "running"
    db.dispose()
