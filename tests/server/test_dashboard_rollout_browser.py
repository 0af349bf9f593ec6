"""A rollout on the dashboard, in Chromium: its steps, clusters and measurements, a chart per
metric drawn on the server (one point per measurement), no buttons for a viewer, and an editor
who pauses and resumes it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lamina.core.states import MeasurementOutcome, RolloutClusterState, RolloutPhase, RolloutStatus
from lamina.store import audit, rollouts
from lamina.store.database import Database
from lamina.store.rollouts import MeasurementRecord

from . import browser_support
from .conftest import Served
from .test_dashboard_browser import shot, sign_in

pytestmark = pytest.mark.slow

METRICS = [
    {"name": "tool-success-rate", "min": 0.95, "max": None},
    {"name": "p95-latency-seconds", "min": None, "max": 3.0},
]
# (step, cluster, rounds): success rate and latency per round
SERIES = {
    (0, "prod-us-1"): [(0.991, 1.41), (0.987, 1.52), (0.989, 1.47), (0.993, 1.39), (0.990, 1.44)],
    (1, "prod-us-2"): [(0.984, 1.62), (0.962, 2.35), (0.958, 2.71)],
}


def seed_rollout(root: Path) -> tuple[int, int]:
    """A production rollout in its second step, measuring: the first step passed; the id and
    the number of measurements."""
    db = Database.for_repository(root, None)
    start = datetime.now(UTC) - timedelta(minutes=20)
    try:
        record = rollouts.create(
            db,
            environment="production",
            revision="3f9c2e1ab4d5e6f708192a3b4c5d6e7f80912a3b",
            steps=[["prod-us-1"], ["prod-us-2"]],
            plan={
                "bake": 300.0,
                "timeout": 600.0,
                "analysis": "agent-health",
                "interval": 60.0,
                "count": 5,
                "failure_limit": 1,
                "metrics": METRICS,
            },
            actor="ed@example.com",
            at=start,
        )
        taken = 0
        for (step, cluster), rounds in SERIES.items():
            at = start + timedelta(minutes=10 * step)
            rollouts.mark_cluster(
                db,
                record.id,
                cluster,
                from_states=(RolloutClusterState.PENDING,),
                to=RolloutClusterState.APPLYING,
                actor="ed@example.com",
                at=at,
                previous=("agent-config-7d41c2a9", "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"),
            )
            rollouts.mark_cluster(
                db,
                record.id,
                cluster,
                from_states=(RolloutClusterState.APPLYING,),
                to=RolloutClusterState.APPLIED,
                actor="ed@example.com",
                at=at,
                configmap="agent-config-e3b0c442",
            )
            rows = []
            for index, values in enumerate(rounds):
                moment = at + timedelta(minutes=5, seconds=60 * index)
                for metric, value in zip(METRICS, values, strict=True):
                    low, high = metric["min"], metric["max"]
                    good = (low is None or value >= low) and (high is None or value <= high)
                    outcome = MeasurementOutcome.PASSED if good else MeasurementOutcome.FAILED
                    rows.append(
                        MeasurementRecord(
                            step, 0, index, cluster, str(metric["name"]), value, outcome, None, moment
                        )
                    )
            rollouts.add_measurements(db, record.id, rows)
            taken += len(rows)
        moved = rollouts.transition(
            db,
            record.id,
            from_statuses=(RolloutStatus.RUNNING,),
            to=RolloutStatus.RUNNING,
            actor="ed@example.com",
            action="rollout.step-passed",
            at=start + timedelta(minutes=10),
            phase=RolloutPhase.MEASURE,
            step=1,
        )
        assert moved
        return record.id, taken
    finally:
        db.dispose()


@pytest.fixture
def site(example_repo: Path) -> Iterator[Served]:
    browser_support.chromium_or_skip()
    with (example_repo / "lamina.toml").open("a") as fleet:
        fleet.write('\n[drift]\ninterval = "0"   # no scheduled work: the test moves the rollout itself\n')
    with browser_support.serve_dashboard(example_repo) as served:
        yield served


@pytest.fixture
def chromium() -> Iterator[Any]:
    with browser_support.browser() as launched:
        yield launched


def test_a_viewer_reads_a_rollout_and_an_editor_pauses_and_resumes_it(chromium: Any, site: Served) -> None:
    rollout_id, taken = seed_rollout(site.root)

    viewer = sign_in(chromium, site, "viewer", "/rollouts")
    row = viewer.locator(f"#rollout-{rollout_id}")
    assert "production" in row.inner_text() and "Running" in row.inner_text()
    row.get_by_role("link", name=f"Rollout {rollout_id}").click()
    viewer.wait_for_load_state()
    assert viewer.url == f"{site.base_url}/rollouts/{rollout_id}"
    assert viewer.locator(f"form[action^='/rollouts/{rollout_id}/']").count() == 0
    assert viewer.get_by_role("button", name="Pause").count() == 0
    # a chart per metric and step, one point per measurement
    charts = viewer.locator("svg.chart")
    assert charts.count() == 4
    assert viewer.locator("svg.chart circle.point").count() == taken
    latency = viewer.locator("svg.chart[data-metric='p95-latency-seconds'][data-step='2']")
    assert latency.locator("circle.point").count() == 3
    assert latency.locator("line.chart-bound").count() == 1
    assert (
        "3 measurements of 1 cluster, bound ≤ 3; 0 failed, 0 inconclusive"
        in latency.locator("desc").text_content()
        or ""
    )
    assert (
        "prod-us-2 at +120s: 2.71 (passed)"
        in latency.locator("circle.point").last.locator("title").text_content()
        or ""
    )
    assert "Applied" in viewer.locator("#step-1").inner_text()
    assert "agent-config-7d41c2a9" in viewer.locator("#step-2").inner_text()

    editor = sign_in(chromium, site, "editor", f"/rollouts/{rollout_id}")
    editor.set_viewport_size({"width": 1280, "height": 900})
    shot(editor, "rollout")  # docs/images/rollout.png in README is this picture
    assert editor.get_by_role("button", name="Resume").count() == 0
    editor.get_by_role("button", name="Pause").click()
    editor.wait_for_load_state()
    head = editor.get_by_role("heading", level=1)
    assert "Paused" in head.inner_text()
    assert "paused by ed@example.com" in editor.locator("main").inner_text()
    # the viewer's page follows without a reload (server-sent events)
    viewer.locator("h1", has_text="Paused").wait_for(timeout=10_000)
    editor.get_by_role("button", name="Resume").click()
    editor.wait_for_load_state()
    assert "Running" in editor.get_by_role("heading", level=1).inner_text()
    assert editor.get_by_role("button", name="Pause").count() == 1

    viewer.locator("h1", has_text="Running").wait_for(timeout=10_000)
    db = Database.for_repository(site.root, None)
    try:
        found = db.read(lambda session: audit.newest(session, 10))
        assert [(r.actor, r.action) for r in found[:2]] == [
            ("ed@example.com", "rollout.resumed"),
            ("ed@example.com", "rollout.paused"),
        ]
    finally:
        db.dispose()
