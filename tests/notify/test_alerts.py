"""The alert state machine: the hold time, changes only, grouping, resolved notices."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from lamina.notify import alerts
from lamina.notify.alerts import ClusterState, Condition, Notice, NoticeKind, Observation

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
HOLD = timedelta(minutes=10)

OK, DRIFTED, UNREACHABLE = Condition.OK, Condition.DRIFTED, Condition.UNREACHABLE


class Machine:
    """The machine plus the states a caller would keep between checks."""

    def __init__(self, hold: timedelta = HOLD) -> None:
        self.hold = hold
        self.states: dict[str, ClusterState] = {}

    def check(self, minutes: float, seen: Mapping[str, Condition], env: str = "production") -> list[Notice]:
        observed = [Observation(env, cluster, condition) for cluster, condition in seen.items()]
        result = alerts.evaluate(self.states, observed, T0 + timedelta(minutes=minutes), self.hold)
        self.states.update(result.states)
        return result.notices


def said(notices: list[Notice]) -> list[str]:
    return [n.summary for n in notices]


def test_first_healthy_check_is_recorded_quietly() -> None:
    machine = Machine()
    assert machine.check(0, {"prod-us-1": OK}) == []
    assert machine.states["prod-us-1"].notified is OK


def test_a_new_state_fires_only_after_it_held_for_the_hold_time() -> None:
    machine = Machine()
    machine.check(0, {"prod-us-1": OK})
    assert machine.check(5, {"prod-us-1": DRIFTED}) == []
    assert machine.check(10, {"prod-us-1": DRIFTED}) == []
    assert said(machine.check(15, {"prod-us-1": DRIFTED})) == [
        "production: 1 cluster drifted from git (prod-us-1)"
    ]


def test_one_alert_per_state_change_never_a_repeat() -> None:
    machine = Machine(hold=timedelta(0))
    machine.check(0, {"prod-us-1": OK})
    assert len(machine.check(1, {"prod-us-1": DRIFTED})) == 1
    for minute in range(2, 20):
        assert machine.check(minute, {"prod-us-1": DRIFTED}) == []


def test_a_flap_shorter_than_the_hold_time_is_never_told() -> None:
    machine = Machine()
    machine.check(0, {"prod-us-1": OK})
    assert machine.check(5, {"prod-us-1": DRIFTED}) == []
    assert machine.check(10, {"prod-us-1": OK}) == []
    assert machine.check(20, {"prod-us-1": OK}) == []
    assert machine.states["prod-us-1"].pending is None


def test_the_hold_time_restarts_when_the_pending_state_changes() -> None:
    machine = Machine()
    machine.check(0, {"prod-us-1": OK})
    machine.check(1, {"prod-us-1": DRIFTED})
    machine.check(8, {"prod-us-1": UNREACHABLE})
    assert machine.check(12, {"prod-us-1": UNREACHABLE}) == []
    assert said(machine.check(18, {"prod-us-1": UNREACHABLE})) == [
        "production: 1 cluster unreachable (prod-us-1)"
    ]


def test_clusters_hit_in_one_check_are_one_notice_per_environment() -> None:
    machine = Machine(hold=timedelta(0))
    machine.check(0, {"prod-us-1": OK, "prod-us-2": OK, "staging-us-1": OK})
    notices = machine.check(1, {"prod-us-1": DRIFTED, "prod-us-2": DRIFTED, "staging-us-1": OK})
    assert said(notices) == ["production: 2 clusters drifted from git (prod-us-1, prod-us-2)"]
    assert [c.cluster for c in notices[0].clusters] == ["prod-us-1", "prod-us-2"]
    assert notices[0].kind is NoticeKind.FIRING


def test_drift_clearing_sends_a_resolved_notice() -> None:
    machine = Machine(hold=timedelta(0))
    machine.check(0, {"prod-us-1": OK, "prod-us-2": OK})
    machine.check(1, {"prod-us-1": DRIFTED, "prod-us-2": DRIFTED})
    notices = machine.check(2, {"prod-us-1": OK, "prod-us-2": OK})
    assert said(notices) == ["production: resolved: 2 clusters back in sync with git (prod-us-1, prod-us-2)"]
    assert notices[0].kind is NoticeKind.RESOLVED
    assert machine.check(3, {"prod-us-1": OK, "prod-us-2": OK}) == []


def test_unreachable_and_back() -> None:
    machine = Machine(hold=timedelta(0))
    machine.check(0, {"prod-eu-1": OK})
    assert said(machine.check(1, {"prod-eu-1": UNREACHABLE})) == [
        "production: 1 cluster unreachable (prod-eu-1)"
    ]
    assert said(machine.check(2, {"prod-eu-1": OK})) == [
        "production: resolved: 1 cluster reachable again (prod-eu-1)"
    ]


def test_one_problem_giving_way_to_another_resolves_the_first() -> None:
    machine = Machine(hold=timedelta(0))
    machine.check(0, {"prod-us-1": OK})
    machine.check(1, {"prod-us-1": DRIFTED})
    assert said(machine.check(2, {"prod-us-1": UNREACHABLE})) == [
        "production: resolved: 1 cluster back in sync with git (prod-us-1)",
        "production: 1 cluster unreachable (prod-us-1)",
    ]


def test_a_cluster_first_seen_in_trouble_fires_after_the_hold_time() -> None:
    machine = Machine()
    assert machine.check(0, {"prod-us-1": DRIFTED}) == []
    assert said(machine.check(10, {"prod-us-1": DRIFTED})) == [
        "production: 1 cluster drifted from git (prod-us-1)"
    ]


def test_clusters_not_observed_keep_their_state() -> None:
    machine = Machine(hold=timedelta(0))
    machine.check(0, {"prod-us-1": OK, "prod-us-2": OK})
    machine.check(1, {"prod-us-1": DRIFTED, "prod-us-2": DRIFTED})
    assert said(machine.check(2, {"prod-us-1": DRIFTED})) == []
    assert machine.states["prod-us-2"].notified is DRIFTED


@pytest.mark.parametrize(
    ("condition", "kind", "expected"),
    [
        pytest.param(
            Condition.MISSING, NoticeKind.FIRING, "staging: 1 cluster missing its config (a)", id="missing"
        ),
        pytest.param(
            Condition.MISSING,
            NoticeKind.RESOLVED,
            "staging: resolved: 1 cluster running its config again (a)",
            id="missing-resolved",
        ),
    ],
)
def test_summaries(condition: Condition, kind: NoticeKind, expected: str) -> None:
    notice = Notice("staging", condition, kind, (alerts.ClusterNote("a"),), T0)
    assert notice.summary == expected
    assert notice.to_json()["status"] == kind.value
