"""``[promotion] verify``: a promoted request is verified against a real Prometheus; a failed
verification opens a rollback request and counts in the change failure rate."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import commit_all
from lamina.core.states import PromotionStatus, RequestKind
from lamina.errors import FleetError, OutsideError
from lamina.fleet import loading
from lamina.guard.actors import Actor
from lamina.promote import history, requests, verification
from lamina.source.trees import WorkingTree
from lamina.store import audit
from lamina.store.database import Database
from promote.conftest import Clock, add_to_fleet, open_repo
from promote.test_workflow import apply, decide, request
from rollout_support import PrometheusServer

pytestmark = pytest.mark.slow

ANALYSIS = """
[[analysis]]
name     = "agent-health"
provider = { type = "prometheus", url_env = "PROMETHEUS_URL" }
interval = "1m"
count    = 2
[[analysis.metrics]]
name  = "tool-success-rate"
query = 'sum(agent_tool_success_ratio{cluster="${cluster.name}"})'
min   = 0.95
"""


class StepClock:
    """The hand-moved clock as a rollout clock: waiting moves it, nothing sleeps."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> datetime:
        return self.clock()

    def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)


def serve(prometheus: PrometheusServer, ratio: float) -> None:
    prometheus.exporter.samples = lambda: {"staging-us-1": {"agent_tool_success_ratio": ratio}}
    prometheus.wait_for(
        'agent_tool_success_ratio{cluster="staging-us-1"}',
        lambda result: [float(r["value"][1]) for r in result] == [ratio],
    )


def promote(fleet: Path, db: Database, clock: Clock) -> int:
    record = request(fleet, db, clock, "development", "staging")
    decide(fleet, db, clock, record.id, "bob")
    clock.advance(minutes=1)
    return apply(fleet, db, clock, record.id).id


def verify(fleet: Path, db: Database, clock: Clock, rid: int, url: str) -> verification.Verified:
    with open_repo(fleet) as repo:
        return verification.verify(
            repo, db, rid, actor=Actor("ops"), environ={"PROMETHEUS_URL": url}, clock=StepClock(clock)
        )


def test_a_verified_promotion_then_a_failed_one_opens_a_rollback_request(
    fleet: Path, db: Database, clock: Clock, prometheus: PrometheusServer
) -> None:
    add_to_fleet(fleet, ANALYSIS + '\n[promotion]\nverify = "agent-health"\n')
    first = promote(fleet, db, clock)
    pinned = open_repo(fleet).pins["staging"].revision
    try:
        serve(prometheus, 0.99)
        done = verify(fleet, db, clock, first, prometheus.url)
        assert (done.request.status, done.rollback) == (PromotionStatus.VERIFIED, None)
        assert [(m.cluster, m.value, m.outcome.value) for m in done.measurements] == [
            ("staging-us-1", 0.99, "passed"),
            ("staging-us-1", 0.99, "passed"),
        ]
        (fleet / "base/zz-tone.toml").write_text('[agent]\ntone = "terse"\n')
        commit_all(fleet, "terse agents")
        second = promote(fleet, db, clock)
        serve(prometheus, 0.5)
        done = verify(fleet, db, clock, second, prometheus.url)
    finally:
        prometheus.exporter.samples = dict
    assert done.request.status is PromotionStatus.VERIFICATION_FAILED
    assert [(m.value, m.outcome.value, m.detail) for m in done.measurements] == [
        (0.5, "failed", "0.5 not >= 0.95")
    ]
    assert done.rollback is not None
    assert (done.rollback.kind, done.rollback.target, done.rollback.revision) == (
        RequestKind.ROLLBACK,
        "staging",
        pinned,
    )
    assert done.rollback.reason == (
        f"verification of PR-{second} failed: tool-success-rate on staging-us-1: 0.5 not >= 0.95"
    )
    assert (
        verify(fleet, db, clock, second, prometheus.url).request.status is PromotionStatus.VERIFICATION_FAILED
    )
    with open_repo(fleet) as repo:
        stats = history.stats(repo, db, clock() + timedelta(minutes=1), ["staging"])
    assert stats["change_failure_rate"] == {"failures": 1, "promotions": 2, "rate": 0.5}


def test_an_unreachable_prometheus_leaves_the_request_promoted(
    fleet: Path, db: Database, clock: Clock, prometheus: PrometheusServer
) -> None:
    add_to_fleet(fleet, ANALYSIS + '\n[promotion]\nverify = "agent-health"\n')
    rid = promote(fleet, db, clock)
    with pytest.raises(OutsideError) as caught:
        verify(fleet, db, clock, rid, "http://127.0.0.1:9")
    assert caught.value.message == (
        f"PR-{rid} not verified: tool-success-rate on staging-us-1 inconclusive (prometheus at "
        "http://127.0.0.1:9 unreachable: ConnectError); it stays promoted: verify it again"
    )
    with open_repo(fleet) as repo:
        assert history.stats(repo, db, clock(), ["staging"])["change_failure_rate"]["failures"] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(
            '[promotion]\nverify = "health"\n',
            "[promotion] verify names unknown analysis 'health' (known: agent-health)",
            id="unknown-analysis",
        ),
        pytest.param(
            '[promotion]\nauto = ["staging", "qa"]\n',
            "[promotion] auto names unknown environment 'qa'",
            id="unknown-environment",
        ),
        pytest.param(
            '[promotion]\nprotect = ["production"]\nauto = ["production"]\n',
            "[promotion] auto names protected environment 'production': its requests always need approval",
            id="protected",
        ),
    ],
)
def test_bad_verify_and_auto_settings(fleet: Path, extra: str, message: str) -> None:
    with (fleet / "lamina.toml").open("a") as stream:
        stream.write("\n" + ANALYSIS + "\n" + extra)
    with pytest.raises(FleetError) as caught:
        loading.load_fleet(WorkingTree(fleet))
    assert caught.value.message == message


def test_auto_promotion_into_staging_after_development_verified(
    fleet: Path, db: Database, clock: Clock, prometheus: PrometheusServer
) -> None:
    add_to_fleet(fleet, ANALYSIS + '\n[promotion]\nverify = "agent-health"\nauto = ["staging"]\n')
    # nothing verified what development runs: a person must approve
    waiting = request(fleet, db, clock, "development", "staging")
    assert waiting.status is PromotionStatus.TESTING
    decide(fleet, db, clock, waiting.id, "bob", approve=False)

    # development's configs as committed: requested, approved, applied, then verified
    with open_repo(fleet) as repo:
        change = requests.change(repo, db, target="development", actor=Actor("alice"), now=clock)
    decide(fleet, db, clock, change.id, "bob")
    apply(fleet, db, clock, change.id)
    prometheus.exporter.samples = lambda: {"local-dev": {"agent_tool_success_ratio": 0.99}}
    try:
        prometheus.wait_for('agent_tool_success_ratio{cluster="local-dev"}', lambda result: len(result) == 1)
        verified = verify(fleet, db, clock, change.id, prometheus.url)
    finally:
        prometheus.exporter.samples = dict
    assert verified.request.status is PromotionStatus.VERIFIED

    auto = request(fleet, db, clock, "development", "staging")
    assert (auto.status, auto.decisions) == (PromotionStatus.APPROVED, ())
    rows = db.read(lambda session: [(r.actor, r.action) for r in audit.newest(session, 3)])
    assert rows[0] == ("[promotion] auto", "promotion.auto-approved")
    assert apply(fleet, db, clock, auto.id).status is PromotionStatus.PROMOTED
    # production is not in [promotion] auto: staging verified or not, a person approves
    into_production = request(fleet, db, clock, "staging", "production")
    assert into_production.status is PromotionStatus.TESTING
