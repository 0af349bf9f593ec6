"""The dashboard's rollout page for a large rollout: 200 clusters in 4 steps, 3 measurements of
2 metrics each (1,200 measurements, 8 charts of 50 lines and 150 points each), drawn on the
server as SVG.

Prints the median time to answer ``GET /rollouts/ID`` (goal: under 500 ms) and the page's size.
Run: ``.venv/bin/python bench/rollout_page_bench.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from lamina.core.states import MeasurementOutcome, RolloutClusterState, RolloutPhase, RolloutStatus
from lamina.fleet import scaffold
from lamina.server import auth, tokens
from lamina.server.app import create_app
from lamina.server.settings import ServerSettings
from lamina.store import rollouts
from lamina.store.database import Database
from lamina.store.rollouts import MeasurementRecord

GOAL_MS = 500.0
CLUSTERS = 200
STEPS = 4
ROUNDS = 3
METRICS = [
    {"name": "tool-success-rate", "min": 0.95, "max": None},
    {"name": "p95-latency", "min": None, "max": 3.0},
]


def seed(root: Path) -> tuple[int, int]:
    """A rollout in its last step with every measurement taken; its id and measurement count."""
    db = Database.for_repository(root, None)
    names = [f"c{index:03d}" for index in range(CLUSTERS)]
    size = CLUSTERS // STEPS
    steps = [names[i : i + size] for i in range(0, CLUSTERS, size)]
    start = datetime.now(UTC) - timedelta(hours=1)
    plan = {"bake": 60.0, "analysis": "agent-health", "interval": 60.0, "count": ROUNDS, "metrics": METRICS}
    record = rollouts.create(
        db, environment="production", revision="a" * 40, steps=steps, plan=plan, actor="bench", at=start
    )
    taken = 0
    for index, members in enumerate(steps):
        for name in members:
            for to in (RolloutClusterState.APPLYING, RolloutClusterState.APPLIED):
                rollouts.mark_cluster(
                    db,
                    record.id,
                    name,
                    from_states=(RolloutClusterState.PENDING, RolloutClusterState.APPLYING),
                    to=to,
                    actor="bench",
                    at=start,
                    previous=("agent-config-old", "b" * 40) if to is RolloutClusterState.APPLYING else None,
                    configmap="agent-config-new" if to is RolloutClusterState.APPLIED else None,
                )
        rows = [
            MeasurementRecord(
                index,
                0,
                round_,
                name,
                str(metric["name"]),
                0.97 + 0.001 * (number % 20) if metric["min"] else 1.0 + 0.01 * (number % 50),
                MeasurementOutcome.PASSED,
                None,
                start + timedelta(minutes=10 * index + round_),
            )
            for number, name in enumerate(members)
            for round_ in range(ROUNDS)
            for metric in METRICS
        ]
        rollouts.add_measurements(db, record.id, rows)
        taken += len(rows)
    rollouts.transition(
        db,
        record.id,
        from_statuses=(RolloutStatus.RUNNING,),
        to=RolloutStatus.RUNNING,
        actor="bench",
        action="rollout.step-passed",
        at=start,
        phase=RolloutPhase.MEASURE,
        step=STEPS - 1,
    )
    db.dispose()
    return record.id, taken


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "fleet"
        scaffold.write_example(root, git=True)
        rollout_id, taken = seed(root)
        path = root / ".lamina" / "tokens.toml"
        token = tokens.create(path, "vera@example.com", ["viewer"])
        app = create_app(ServerSettings(repo_root=root, tokens_file=path, rollout_interval=0))
        client = TestClient(app)
        client.cookies.set(auth.COOKIE, token)
        times = []
        body = ""
        for _ in range(7):
            began = time.perf_counter()
            response = client.get(f"/rollouts/{rollout_id}")
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.text[:300]
            body = response.text
        points = body.count('<circle class="point')
        assert points == taken, (points, taken)
        median = statistics.median(times)
        verdict = "ok" if median <= GOAL_MS else "SLOWER THAN THE GOAL"
        print(
            f"rollout page: {CLUSTERS} clusters, {STEPS} steps, {taken} measurements, {points} points drawn"
        )
        print(
            f"GET /rollouts/{rollout_id}: median {median:.0f} ms (goal < {GOAL_MS:.0f} ms: {verdict}), "
            f"{len(body) / 1024:.0f} KiB"
        )


if __name__ == "__main__":
    main()
