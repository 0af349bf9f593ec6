"""``[rollout]`` and ``[[analysis]]``: typed, parsed once, every mistake at its file:line."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from conftest import WriteRepo
from lamina.errors import FleetError
from lamina.fleet import loading, rollout_settings
from lamina.fleet.settings import FleetSettings
from lamina.source.trees import WorkingTree

FLEET = '[fleet]\nname = "demo"\npromotion = ["dev", "prod"]\n'

ANALYSIS = """
[[analysis]]
name     = "agent-health"
provider = { type = "prometheus", url_env = "PROMETHEUS_URL" }
interval = "1m"
count    = 5
failure_limit = 1
[[analysis.metrics]]
name  = "tool-success-rate"
query = 'sum(rate(agent_tool_calls_total{cluster="${cluster.name}",status="ok"}[5m])) / \
sum(rate(agent_tool_calls_total{cluster="${cluster.name}"}[5m]))'
min   = 0.95
[[analysis.metrics]]
name  = "p95-latency-seconds"
query = 'histogram_quantile(0.95, sum by (le) (\
rate(agent_request_seconds_bucket{cluster="${cluster.name}"}[5m])))'
max   = 3.0
"""

ROLLOUT = """
[rollout]
steps    = ["wave=0", "wave=1", "50%", "100%"]
bake     = "10m"
analysis = "agent-health"

[rollout.prod]
bake = "30m"
timeout = "2m"

[rollout.flagger]
interval = "30s"

[render]
workload = "deployment/support-agent"
"""


def settings(write_repo: WriteRepo, extra: str) -> FleetSettings:
    root = write_repo({"lamina.toml": FLEET + extra})
    return loading.load_fleet(WorkingTree(root)).settings


def test_the_spec_example_reads_typed(write_repo: WriteRepo) -> None:
    found = settings(write_repo, ROLLOUT + ANALYSIS)
    dev = found.rollout.plan("dev")
    prod = found.rollout.plan("prod")
    assert dev is not None and prod is not None
    assert [step.text for step in dev.steps] == ["wave=0", "wave=1", "50%", "100%"]
    assert [step.share for step in dev.steps] == [None, None, 0.5, 1.0]
    assert (dev.bake, dev.analysis, dev.timeout) == (
        timedelta(minutes=10),
        "agent-health",
        timedelta(minutes=10),
    )
    assert (prod.bake, prod.analysis, prod.timeout) == (
        timedelta(minutes=30),
        "agent-health",
        timedelta(minutes=2),
    )
    assert prod.steps == dev.steps
    assert found.rollout.flagger == rollout_settings.FlaggerSettings(interval="30s")
    analysis = found.analysis("agent-health")
    assert (analysis.interval, analysis.count, analysis.failure_limit) == (timedelta(minutes=1), 5, 1)
    assert analysis.provider == rollout_settings.Provider("prometheus", "PROMETHEUS_URL")
    assert [(m.name, m.min, m.max) for m in analysis.metrics] == [
        ("tool-success-rate", 0.95, None),
        ("p95-latency-seconds", None, 3.0),
    ]


def test_no_rollout_table_means_no_plan(write_repo: WriteRepo) -> None:
    found = settings(write_repo, "")
    assert found.rollout.plan("prod") is None
    assert found.analyses == ()


def test_steps_pick_clusters_in_order_and_the_rest_moves_last() -> None:
    clusters = [SimpleNamespace(name=f"c{i}", labels={"wave": str(i % 3)}) for i in range(7)]
    steps = (
        rollout_settings.Step("wave=0", selector=rollout_settings.Selector.parse("wave=0")),
        rollout_settings.Step("50%", share=0.5),
    )
    picked = rollout_settings.pick(steps, clusters)
    assert [[c.name for c in step] for step in picked] == [["c0", "c3", "c6"], ["c1", "c2"], ["c4", "c5"]]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(
            '[rollout]\nsteps = ["50%"]\nanalysis = "agent-helth"\n' + ANALYSIS,
            "lamina.toml:7: [rollout] analysis names unknown analysis 'agent-helth' (known: agent-health)",
            id="unknown-analysis",
        ),
        pytest.param(
            '[rollout]\nsteps = ["50%"]\nbake = "ten minutes"\n',
            "lamina.toml:7: [rollout] bake: 'ten minutes' is not a duration like '10m', '1h30m', '1d12h', "
            "'30s' or '0'",
            id="bad-duration",
        ),
        pytest.param(
            '[rollout]\nsteps = ["wave=0", "150%"]\n',
            "lamina.toml:6: [rollout] steps: share '150%' must be more than 0% and at most 100%",
            id="share-over-100",
        ),
        pytest.param(
            '[rollout]\nsteps = ["wave=0,,x"]\n',
            "lamina.toml:6: [rollout] steps: selector 'wave=0,,x' has an empty clause",
            id="bad-selector",
        ),
        pytest.param(
            "[rollout]\nsteps = []\n",
            "lamina.toml:6: [rollout] steps must list at least one step",
            id="no-steps",
        ),
        pytest.param(
            '[rollout]\nbake = "1m"\n',
            'lamina.toml:5: [rollout] steps is required: a list of selectors or shares like "50%"',
            id="steps-required",
        ),
        pytest.param(
            '[rollout]\nsteps = ["50%"]\nspeed = 3\n',
            "lamina.toml:7: unknown key 'speed' in [rollout] (known: steps, bake, analysis, timeout, "
            "flagger, dev, prod)",
            id="unknown-key",
        ),
        pytest.param(
            '[rollout.prod]\nsteps = ["50%"]\nwait = "1m"\n',
            "lamina.toml:7: unknown key 'wait' in [rollout.prod] (known: analysis, bake, steps, timeout)",
            id="unknown-env-key",
        ),
        pytest.param(
            '[rollout]\nsteps = ["50%"]\n[rollout.flagger]\nstep_weight = 60\n',
            "lamina.toml:8: [rollout.flagger] needs step_weight <= max_weight <= 100",
            id="flagger-weights",
        ),
        pytest.param(
            '[rollout]\nsteps = ["50%"]\n[rollout.flagger]\nweight = 5\n',
            "lamina.toml:8: unknown key 'weight' in [rollout.flagger] (known: address, interval, iterations, "
            "max_weight, port, step_weight, threshold)",
            id="flagger-unknown-key",
        ),
        pytest.param(
            '[rollout]\nsteps = ["50%"]\n[rollout.flagger]\niterations = 5\nstep_weight = 5\n',
            "lamina.toml:9: [rollout.flagger] step_weight shifts traffic step by step and iterations runs "
            "blue/green: set one or the other",
            id="flagger-iterations-and-weights",
        ),
        pytest.param(
            '[rollout]\nsteps = ["50%"]\n[rollout.flagger]\ninterval = "often"\n',
            "lamina.toml:8: [rollout.flagger] interval: 'often' is not a duration like '10m', '1h30m', "
            "'1d12h', '30s' or '0'",
            id="flagger-bad-interval",
        ),
        pytest.param(
            '[rollout]\nsteps = ["50%"]\n[rollout.flagger]\ninterval = "1m"\n',
            'lamina.toml:7: [rollout.flagger] needs [render] workload = "deployment/NAME" or '
            '"daemonset/NAME": the workload Flagger\'s Canary moves',
            id="flagger-without-workload",
        ),
        pytest.param(
            '[render]\nworkload = "statefulset/agent"\n[rollout]\nsteps = ["50%"]\n[rollout.flagger]\n',
            'lamina.toml:9: [rollout.flagger] needs [render] workload = "deployment/NAME" or '
            '"daemonset/NAME": the workload Flagger\'s Canary moves',
            id="flagger-statefulset",
        ),
        pytest.param(
            ANALYSIS.replace("[5m])))'", "[5m]))'"),
            "lamina.toml:18: [[analysis.metrics]] p95-latency-seconds: query is not valid PromQL: "
            "unclosed left parenthesis",
            id="invalid-promql",
        ),
        pytest.param(
            ANALYSIS.replace('${cluster.name}"}[5m])))', '${cluster.nam}"}[5m])))'),
            "lamina.toml:18: [[analysis.metrics]] p95-latency-seconds: query uses unknown variable "
            "${cluster.nam} (known: ${cluster.name}, ${env.name}, ${cluster.labels.KEY})",
            id="unknown-variable",
        ),
        pytest.param(
            ANALYSIS.replace("max   = 3.0", ""),
            "lamina.toml:16: [[analysis.metrics]] p95-latency-seconds: set min, max or both",
            id="no-bound",
        ),
        pytest.param(
            ANALYSIS.replace('url_env = "PROMETHEUS_URL"', 'url_env = "http://x"'),
            "lamina.toml:8: [[analysis]] agent-health: provider url_env must name the environment variable "
            'holding the URL, like "PROMETHEUS_URL"',
            id="url-env",
        ),
        pytest.param(
            ANALYSIS.replace('type = "prometheus"', 'type = "datadog"'),
            "lamina.toml:8: [[analysis]] agent-health: provider type must be one of prometheus, "
            "not 'datadog'",
            id="provider-type",
        ),
    ],
)
def test_bad_rollout_tables_name_their_line(write_repo: WriteRepo, extra: str, message: str) -> None:
    with pytest.raises(FleetError) as caught:
        settings(write_repo, "\n" + extra)
    assert str(caught.value) == message
