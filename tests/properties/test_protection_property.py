"""A property of the delivery guarantee: whatever sequence of commits, requests, approvals,
applies, shipments, hand edits and heals happens, lamina never writes a config hash into a
protected environment that its newest applied request does not cover."""

from __future__ import annotations

import contextlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from conftest import commit_all
from lamina.clusters import connection, secrets
from lamina.core import hashing
from lamina.core.states import PromotionStatus
from lamina.core.targets import TargetRef
from lamina.errors import LaminaError
from lamina.fleet import scaffold
from lamina.guard import protection
from lamina.guard.actors import Actor, Proof
from lamina.promote import applying, approvals, requests
from lamina.resolve.repository import Repository
from lamina.ship import healing, shipping
from lamina.store import promotions as store
from lamina.store.database import Database

OVERLAY = "overlays/production/agent-patch.toml"
TARGETS = ("production/prod-us-1", "production/prod-us-2")
ALICE = Actor("alice@example.com")
BOB = Actor("bob@example.com", proof=Proof.TOKEN)  # proven, as the server's token proves a name
CAROL = Actor("carol@example.com", proof=Proof.TOKEN)
OPS = Actor("ops@example.com")


class Delivery(RuleBasedStateMachine):
    """The example fleet (production protected), driven through the library's use cases."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = datetime(2026, 12, 1, tzinfo=UTC)
        self.written_by_lamina: dict[str, bool] = {}

    folder: Path  # set by the test

    @initialize()
    def fleet(self) -> None:
        self.root = self.folder / f"fleet-{id(self)}"
        if self.root.exists():
            shutil.rmtree(self.root)
        scaffold.write_example(self.root, git=True)
        self.db = Database.for_repository(self.root, None)

    def now(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    def repo(self) -> Repository:
        return Repository(self.root)

    @rule(tokens=st.integers(min_value=100, max_value=999))
    def commit_an_overlay_edit(self, tokens: int) -> None:
        overlay = self.root / OVERLAY
        lines = overlay.read_text().splitlines(keepends=True)
        edited = "".join(
            f"max_tokens  = {tokens}\n" if line.startswith("max_tokens") else line for line in lines
        )
        if edited != overlay.read_text():
            overlay.write_text(edited)
            commit_all(self.root, f"max_tokens {tokens}")

    @rule()
    def request_only(self) -> None:
        """A request left open (a later commit may make it stale)."""
        self.request_a_change()

    def request_a_change(self) -> None:
        # refused when there is nothing to request, or one is open already
        with self.repo() as repo, contextlib.suppress(LaminaError):
            requests.change(repo, self.db, target="production", actor=ALICE, now=self.now)

    def approve_and_apply_the_newest(self) -> None:
        with self.repo() as repo:
            open_ones = [r for r in store.list_requests(self.db) if r.status.is_open]
            for record in open_ones[:1]:
                try:
                    if record.status == "testing":
                        approvals.decide(repo, self.db, record.id, actor=BOB, approve=True, now=self.now())
                    applying.apply(repo, self.db, record.id, actor=CAROL, now=self.now())
                except LaminaError:
                    pass  # stale, or not approved yet

    @rule()
    def request_approve_and_apply(self) -> None:
        """A change requested, approved by bob and applied by carol (both proven by tokens)."""
        self.request_a_change()
        self.approve_and_apply_the_newest()

    @rule()
    def ship_production(self) -> None:
        with self.repo() as repo:
            kube = connection.KubeSettings(repo_root=repo.root)
            refs = [TargetRef.parse(t) for t in TARGETS]
            try:
                with secrets.Lookups(kube) as lookups:
                    shipping.ship(repo, self.db, refs, actor=OPS, kube=kube, lookups=lookups, now=self.now())
            except LaminaError:
                return
            self.check_written(repo)

    @rule(cluster=st.sampled_from(("prod-us-1", "prod-us-2")), tokens=st.integers(min_value=1, max_value=99))
    def hand_edit(self, cluster: str, tokens: int) -> None:
        path = self.root / "out" / cluster / "agent-config.json"
        if not path.is_file():
            return
        live = json.loads(path.read_text())
        live["agent"]["max_tokens"] = tokens
        path.write_text(json.dumps(live, indent=2))
        self.written_by_lamina[cluster] = False

    @rule()
    def heal_production(self) -> None:
        with self.repo() as repo:
            kube = connection.KubeSettings(repo_root=repo.root)
            refs = [TargetRef.parse(t) for t in TARGETS]
            try:
                with secrets.Lookups(kube) as lookups:
                    healed = healing.heal(
                        repo, self.db, refs, actor=OPS, kube=kube, lookups=lookups, now=self.now()
                    )
            except LaminaError:
                return
            if healed.outcomes:
                self.check_written(repo)

    def check_written(self, repo: Repository) -> None:
        """Everything lamina just wrote into production is what the newest applied request covers."""
        covered = protection.covered(self.db, ["production"])
        for target in TARGETS:
            cluster = target.split("/")[1]
            path = self.root / "out" / cluster / "agent-config.json"
            live = hashing.config_hash(json.loads(path.read_text()))
            assert target in covered, f"{target} was written with no applied request at all"
            assert live == covered[target][0], (
                f"{target} runs {live[:12]}, {covered[target][1]} covers another"
            )
            self.written_by_lamina[cluster] = True
        WRITES.append(1)

    @invariant()
    def lamina_writes_only_covered_configs(self) -> None:
        if not hasattr(self, "db"):
            return
        covered = protection.covered(self.db, ["production"])
        for cluster, by_lamina in self.written_by_lamina.items():
            if not by_lamina:
                continue  # a hand edit: not lamina's write (drift reports it)
            path = self.root / "out" / cluster / "agent-config.json"
            live = hashing.config_hash(json.loads(path.read_text()))
            # the cluster runs a config some applied request covered when lamina wrote it
            assert any(live == digest for digest in _every_covered(self.db, f"production/{cluster}")), (
                f"{cluster} runs {live[:12]}, which no applied request ever covered ({covered})"
            )

    def teardown(self) -> None:
        if hasattr(self, "db"):
            self.db.dispose()


WRITES: list[int] = []
"""One entry per shipment lamina made across every example: the property was exercised."""


def _every_covered(db: Database, target: str) -> set[str]:
    return {
        record.config_hashes[target]
        for record in store.list_requests(db, statuses=(PromotionStatus.PROMOTED,))
        if target in record.config_hashes
    }


ACTIONS = st.one_of(
    st.tuples(st.just("commit"), st.integers(min_value=100, max_value=999)),
    st.tuples(st.just("request"), st.just(0)),
    st.tuples(st.just("request-approve-apply"), st.just(0)),
    st.tuples(st.just("ship"), st.just(0)),
    st.tuples(st.just("hand-edit-1"), st.integers(min_value=1, max_value=99)),
    st.tuples(st.just("hand-edit-2"), st.integers(min_value=1, max_value=99)),
    st.tuples(st.just("heal"), st.just(0)),
)


@pytest.mark.slow
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(ACTIONS, min_size=4, max_size=12))
def test_protected_targets_run_only_covered_configs(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int]]
) -> None:
    machine = type("DeliveryHere", (Delivery,), {"folder": tmp_path_factory.mktemp("delivery")})()
    machine.fleet()
    try:
        for action, number in steps:
            if action == "commit":
                machine.commit_an_overlay_edit(number)
            elif action == "request":
                machine.request_only()
            elif action == "request-approve-apply":
                machine.request_approve_and_apply()
            elif action == "ship":
                machine.ship_production()
            elif action == "heal":
                machine.heal_production()
            else:
                machine.hand_edit(f"prod-us-{action[-1]}", number)
            machine.lamina_writes_only_covered_configs()
    finally:
        machine.teardown()


def test_the_property_is_exercised(tmp_path: Path) -> None:
    """One fixed sequence that must write: so the property above cannot pass by never shipping."""
    machine = type("DeliveryHere", (Delivery,), {"folder": tmp_path})()
    machine.fleet()
    try:
        before = len(WRITES)
        machine.ship_production()  # refused: nothing covers production yet
        assert len(WRITES) == before
        machine.request_approve_and_apply()
        machine.ship_production()  # covered now: written
        machine.hand_edit("prod-us-1", 7)
        machine.heal_production()  # back to the covered config: written
        machine.commit_an_overlay_edit(321)
        machine.ship_production()  # refused: the edit is not covered
        machine.heal_production()  # refused too: healing would ship the uncovered edit
        assert len(WRITES) == before + 2
        machine.lamina_writes_only_covered_configs()
    finally:
        machine.teardown()
