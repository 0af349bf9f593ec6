"""``[rollout]`` and ``[[analysis]]`` in lamina.toml: how ``apply --rollout`` moves an environment
step by step, and how each step is judged.

::

    [rollout]
    steps    = ["wave=0", "wave=1", "50%", "100%"]   # a selector, or a share of the remaining clusters
    bake     = "10m"                                   # wait after each step before analysis
    analysis = "agent-health"                          # an [[analysis]] below; none: bake only
    timeout  = "10m"                                   # for each cluster's workload to roll out

    [rollout.production]                               # per environment: overrides the keys it sets
    bake = "30m"

    [rollout.flagger]                                  # render --gitops: a Flagger Canary per workload
    interval = "1m"
    # iterations = 5                                   # blue/green (no traffic shifting) instead of weights

    [[analysis]]
    name     = "agent-health"
    provider = { type = "prometheus", url_env = "PROMETHEUS_URL" }
    interval = "1m"
    count    = 5                 # measurements per step
    failure_limit = 1            # failed measurements tolerated
    [[analysis.metrics]]
    name  = "tool-success-rate"
    query = 'sum(rate(agent_tool_calls_total{cluster="${cluster.name}",status="ok"}[5m])) / ...'
    min   = 0.95

Queries are PromQL with ``${cluster.name}``, ``${env.name}`` and ``${cluster.labels.KEY}`` filled
in per cluster; each is parsed (with its variables filled by samples) by ``promql-parser``
when lamina.toml is loaded, so a query that is not PromQL is an error at its file:line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import msgspec

from lamina.errors import InputError
from lamina.fleet.selectors import Selector
from lamina.fleet.tables import TableReader, header
from lamina.source.documents import Document

PLAN_KEYS = ("steps", "bake", "analysis", "timeout")
FLAGGER_KEYS = ("interval", "threshold", "max_weight", "step_weight", "iterations", "address", "port")
ANALYSIS_KEYS = ("name", "provider", "interval", "count", "failure_limit", "metrics")
METRIC_KEYS = ("name", "query", "min", "max")
PROVIDER_TYPES = ("prometheus",)
DEFAULT_BAKE = timedelta(minutes=10)
DEFAULT_TIMEOUT = timedelta(minutes=10)
VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LABEL_VARIABLE = re.compile(r"cluster\.labels\.[A-Za-z0-9_./-]+\Z")
_SHARE = re.compile(r"(\d+(?:\.\d+)?)%\Z")


class Step(msgspec.Struct, frozen=True):
    """One step: the clusters a selector picks, or a share of the clusters not moved yet."""

    text: str
    """As lamina.toml writes it: ``wave=0`` or ``50%``."""
    selector: Selector | None = None
    share: float | None = None
    """A fraction in (0, 1]."""


class RolloutPlan(msgspec.Struct, frozen=True):
    """How one environment rolls out (``[rollout]`` with its ``[rollout.<env>]`` over it)."""

    steps: tuple[Step, ...]
    bake: timedelta = DEFAULT_BAKE
    analysis: str | None = None
    """The ``[[analysis]]`` judging each step; None: bake only."""
    timeout: timedelta = DEFAULT_TIMEOUT
    """For each cluster's workload to roll out after its apply."""


class FlaggerSettings(msgspec.Struct, frozen=True):
    """``[rollout.flagger]``: the Flagger ``Canary`` rendered for the workload by ``render --gitops``."""

    interval: str = "1m"
    threshold: int = 5
    """Failed checks before Flagger rolls the canary back."""
    max_weight: int = 50
    step_weight: int = 10
    iterations: int | None = None
    """Blue/green: analysis runs against the new version before it is promoted, without shifting
    traffic (Flagger's ``kubernetes`` provider); None: canary weights (``max_weight``, ``step_weight``)."""
    address: str = "http://prometheus.monitoring:9090"
    """Where Flagger's MetricTemplates reach Prometheus (inside the cluster)."""
    port: int = 8080
    """The workload's service port."""


class RolloutSettings(msgspec.Struct, frozen=True):
    """``[rollout]``: the default plan, per-environment overrides and Flagger."""

    default: RolloutPlan | None = None
    environments: Mapping[str, RolloutPlan] = msgspec.field(default_factory=dict)
    flagger: FlaggerSettings | None = None

    def plan(self, environment: str) -> RolloutPlan | None:
        """The plan for environment (None: no ``[rollout]`` applies to it)."""
        return self.environments.get(environment, self.default)


class Metric(msgspec.Struct, frozen=True):
    """One metric of an analysis: a PromQL query and its bounds."""

    name: str
    query: str
    min: float | None = None
    max: float | None = None

    def judge(self, value: float) -> bool:
        """True when value is within the bounds."""
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    @property
    def bound(self) -> str:
        """``>= 0.95``, ``<= 3``, or ``0.9..1``."""
        if self.min is not None and self.max is not None:
            return f"{self.min:g}..{self.max:g}"
        if self.min is not None:
            return f">= {self.min:g}"
        return f"<= {self.max:g}"


class Provider(msgspec.Struct, frozen=True):
    """Where metrics come from: the provider type and the variable holding its URL."""

    type: str
    url_env: str


class Analysis(msgspec.Struct, frozen=True):
    """An ``[[analysis]]``: measurements taken ``count`` times, ``interval`` apart."""

    name: str
    provider: Provider
    interval: timedelta
    count: int
    failure_limit: int
    metrics: tuple[Metric, ...]


def load(doc: Document, environments: Collection[str]) -> tuple[RolloutSettings, tuple[Analysis, ...]]:
    """Read ``[rollout]`` and ``[[analysis]]``.

    Raises:
        FleetError: a malformed table, a bad duration or share, an unknown analysis or
            environment, or a query that is not PromQL, at its file:line.
    """
    analyses = _analyses(doc)
    names = {analysis.name for analysis in analyses}
    table = TableReader(doc, ("rollout",))
    for key in table.table:
        if key not in PLAN_KEYS and key != "flagger" and key not in environments:
            known = ", ".join([*PLAN_KEYS, "flagger", *sorted(environments)])
            raise table.fail(f"unknown key {key!r} in [rollout] (known: {known})", (key,))
    if not table.table:
        return RolloutSettings(), analyses
    default = _plan(table, names, None) if table.has("steps") else None
    if default is None and any(table.has(key) for key in PLAN_KEYS):
        raise table.fail('[rollout] steps is required: a list of selectors or shares like "50%"')
    per_env = {}
    for env in environments:
        if env in table.table:
            sub = table.sub(env, PLAN_KEYS)
            if default is None and not sub.has("steps"):
                raise sub.fail(f"{header(sub.path)} steps is required (no [rollout] steps to inherit)")
            per_env[env] = _plan(sub, names, default)
    flagger = None
    if table.has("flagger"):
        sub = table.sub("flagger", FLAGGER_KEYS)
        interval = sub.text("interval", "1m")
        sub.duration("interval", None)  # checked, kept as written for Flagger
        flagger = FlaggerSettings(
            interval=interval,
            threshold=sub.integer("threshold", 5, minimum=1),
            max_weight=sub.integer("max_weight", 50, minimum=1),
            step_weight=sub.integer("step_weight", 10, minimum=1),
            iterations=sub.integer("iterations", 1, minimum=1) if sub.has("iterations") else None,
            address=sub.text("address", "http://prometheus.monitoring:9090"),
            port=sub.integer("port", 8080, minimum=1),
        )
        if flagger.iterations is not None and (sub.has("max_weight") or sub.has("step_weight")):
            weight = "max_weight" if sub.has("max_weight") else "step_weight"
            raise sub.fail(
                f"[rollout.flagger] {weight} shifts traffic step by step and iterations runs blue/green: "
                "set one or the other",
                (weight,),
            )
        if flagger.max_weight > 100 or flagger.step_weight > flagger.max_weight:
            raise sub.fail("[rollout.flagger] needs step_weight <= max_weight <= 100", ("step_weight",))
    return RolloutSettings(default, per_env, flagger), analyses


def _plan(table: TableReader, analyses: Collection[str], inherit: RolloutPlan | None) -> RolloutPlan:
    steps = inherit.steps if inherit is not None and not table.has("steps") else _steps(table)
    bake = table.duration("bake", inherit.bake if inherit else DEFAULT_BAKE)
    timeout = table.duration("timeout", inherit.timeout if inherit else DEFAULT_TIMEOUT)
    assert bake is not None and timeout is not None
    if timeout <= timedelta(0):
        raise table.fail(f"{table.name('timeout')} must be longer than 0", ("timeout",))
    analysis = table.string("analysis", inherit.analysis if inherit else None)
    if analysis is not None and analysis != "none" and analysis not in analyses:
        known = ", ".join(sorted(analyses)) or "none declared"
        raise table.fail(
            f"{table.name('analysis')} names unknown analysis {analysis!r} (known: {known})", ("analysis",)
        )
    return RolloutPlan(steps, bake, None if analysis == "none" else analysis, timeout)


def _steps(table: TableReader) -> tuple[Step, ...]:
    texts = table.strings("steps", what='selectors or shares like "50%"')
    if not texts:
        raise table.fail(f"{table.name('steps')} must list at least one step", ("steps",))
    steps = []
    for index, text in enumerate(texts):
        share = _SHARE.match(text.strip())
        if share is not None:
            percent = float(share.group(1))
            if not 0 < percent <= 100:
                raise table.fail(
                    f"{table.name('steps')}: share {text!r} must be more than 0% and at most 100%",
                    ("steps", index),
                )
            steps.append(Step(text, share=percent / 100))
            continue
        if text.strip().endswith("%"):
            raise table.fail(f'{table.name("steps")}: {text!r} is not a share like "50%"', ("steps", index))
        try:
            selector = Selector.parse(text)
        except InputError as exc:
            raise table.fail(f"{table.name('steps')}: {exc.message}", ("steps", index)) from None
        steps.append(Step(text, selector=selector))
    return tuple(steps)


def _analyses(doc: Document) -> tuple[Analysis, ...]:
    raw = doc.data.get("analysis", [])
    if not isinstance(raw, list):
        raise TableReader(doc, ()).fail("[[analysis]] must be an array of tables", ("analysis",))
    out: list[Analysis] = []
    for index in range(len(raw)):
        table = TableReader(doc, ("analysis", index), ANALYSIS_KEYS)
        name = table.string("name")
        if name is None:
            raise table.fail("[[analysis]] name is required")
        if any(seen.name == name for seen in out):
            raise table.fail(f"[[analysis]] {name!r} is declared twice", ("name",))
        provider = table.sub("provider", ("type", "url_env"))
        kind = provider.text("type", "prometheus")
        if kind not in PROVIDER_TYPES:
            raise provider.fail(
                f"[[analysis]] {name}: provider type must be one of {', '.join(PROVIDER_TYPES)}, "
                f"not {kind!r}",
                ("type",),
            )
        url_env = provider.table.get("url_env")
        if not isinstance(url_env, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", url_env):
            raise provider.fail(
                f"[[analysis]] {name}: provider url_env must name the environment variable holding the "
                'URL, like "PROMETHEUS_URL"',
                ("url_env",),
            )
        interval = table.duration("interval", timedelta(minutes=1))
        assert interval is not None
        count = table.integer("count", 1, minimum=1)
        limit = table.integer("failure_limit", 0, minimum=0)
        out.append(
            Analysis(
                name=name,
                provider=Provider(kind, url_env),
                interval=interval,
                count=count,
                failure_limit=limit,
                metrics=_metrics(table, name),
            )
        )
    return tuple(out)


def _metrics(table: TableReader, analysis: str) -> tuple[Metric, ...]:
    raw = table.table.get("metrics", [])
    if not isinstance(raw, list) or not raw:
        raise table.fail(f"[[analysis]] {analysis}: [[analysis.metrics]] must list at least one metric")
    metrics: list[Metric] = []
    for index in range(len(raw)):
        sub = TableReader(table.doc, (*table.path, "metrics", index), METRIC_KEYS)
        name = sub.string("name")
        query = sub.string("query")
        if name is None or query is None:
            raise sub.fail(f"[[analysis.metrics]] of {analysis}: name and query are required")
        if any(seen.name == name for seen in metrics):
            raise sub.fail(f"[[analysis.metrics]] {name!r} of {analysis} is declared twice", ("name",))
        low = sub.number("min", math.nan) if sub.has("min") else None
        high = sub.number("max", math.nan) if sub.has("max") else None
        if low is None and high is None:
            raise sub.fail(f"[[analysis.metrics]] {name}: set min, max or both")
        if low is not None and high is not None and low > high:
            raise sub.fail(f"[[analysis.metrics]] {name}: min {low:g} is above max {high:g}", ("min",))
        problem = query_problem(query)
        if problem is not None:
            raise sub.fail(f"[[analysis.metrics]] {name}: query {problem}", ("query",))
        metrics.append(Metric(name, query, low, high))
    return tuple(metrics)


def check_flagger_queries(
    doc: Document, rollout: RolloutSettings, analyses: Sequence[Analysis], clusters: Iterable[Any]
) -> None:
    """With ``[rollout.flagger]``, each cluster folder gets its queries filled in (its
    MetricTemplates), so every ``${cluster.labels.KEY}`` a cluster's analysis uses must be a label
    of that cluster. Clusters need ``name``, ``environment`` and ``labels``.

    Raises:
        FleetError: a cluster lacks a label its analysis uses, at the query's file:line.
    """
    if rollout.flagger is None:
        return
    names = [analysis.name for analysis in analyses]
    for cluster in clusters:
        plan = rollout.plan(cluster.environment)
        if plan is None or plan.analysis is None:
            continue
        index = names.index(plan.analysis)
        for number, metric in enumerate(analyses[index].metrics):
            try:
                fill(metric.query, cluster_values(cluster, cluster.environment))
            except KeyError as missing:
                raise TableReader(doc, ("analysis", index, "metrics", number)).fail(
                    f"[[analysis.metrics]] {metric.name}: the query uses ${{{missing.args[0]}}} and cluster "
                    f"{cluster.name} has no such label ([rollout.flagger] fills it in for each cluster)",
                    ("query",),
                ) from None


def variables(query: str) -> list[str]:
    """The ``${...}`` variables a query uses."""
    return VARIABLE.findall(query)


def cluster_values(cluster: Any, environment: str) -> dict[str, str]:
    """The variables of a query for one cluster (anything with ``name`` and ``labels``)."""
    out = {"cluster.name": cluster.name, "env.name": environment}
    out.update({f"cluster.labels.{key}": value for key, value in cluster.labels.items()})
    return out


def fill(query: str, values: Mapping[str, str]) -> str:
    """query with each ``${name}`` replaced by values[name] (quotes and backslashes escaped).

    Raises:
        KeyError: a variable has no value.
    """

    def one(match: re.Match[str]) -> str:
        return values[match.group(1)].replace("\\", "\\\\").replace('"', '\\"')

    return VARIABLE.sub(one, query)


def query_problem(query: str) -> str | None:
    """Why query (its variables filled with samples) is not PromQL, or None."""
    import promql_parser  # loads only for fleets that declare analyses

    samples: dict[str, Any] = {}
    for name in variables(query):
        if name not in ("cluster.name", "env.name") and not _LABEL_VARIABLE.match(name):
            return (
                f"uses unknown variable ${{{name}}} "
                "(known: ${cluster.name}, ${env.name}, ${cluster.labels.KEY})"
            )
        samples[name] = "sample"
    try:
        promql_parser.parse(fill(query, samples))
    except ValueError as exc:
        return f"is not valid PromQL: {str(exc).splitlines()[0] if str(exc) else 'parse error'}"
    return None


def pick(steps: Sequence[Step], clusters: Sequence[Any]) -> list[list[Any]]:
    """The clusters of each step, in order; a cluster moves in the first step that picks it, and
    clusters no step picked move in a last step of their own. Clusters need ``labels``."""
    remaining = list(clusters)
    out: list[list[Any]] = []
    for step in steps:
        if step.selector is not None:
            chosen = [c for c in remaining if step.selector.matches(c.labels)]
        else:
            assert step.share is not None
            chosen = remaining[: math.ceil(step.share * len(remaining) - 1e-9)] if remaining else []
        remaining = [c for c in remaining if c not in chosen]
        out.append(chosen)
    if remaining:
        out.append(remaining)
    return out
