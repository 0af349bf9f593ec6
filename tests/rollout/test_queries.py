"""One query per metric and step where PromQL allows it, one per cluster where it does not."""

from __future__ import annotations

import pytest

from lamina.fleet.model import Cluster
from lamina.rollout import queries

CLUSTERS = [
    Cluster(name, "prod", labels={"region": region}) for name, region in (("p-1", "eu"), ("p-2", "eu"))
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            'sum(rate(calls_total{cluster="${cluster.name}",status="ok"}[5m])) / '
            'sum(rate(calls_total{cluster="${cluster.name}"}[5m]))',
            [
                (
                    'sum by (cluster)(rate(calls_total{cluster=~"p-1|p-2",status="ok"}[5m])) / '
                    'sum by (cluster)(rate(calls_total{cluster=~"p-1|p-2"}[5m]))',
                    ("p-1", "p-2"),
                    "cluster",
                )
            ],
            id="ratio-of-sums",
        ),
        pytest.param(
            'histogram_quantile(0.95, sum by (le) (rate(seconds_bucket{cluster="${cluster.name}"}[5m])))',
            [
                (
                    "histogram_quantile(0.95, sum by (le, cluster)"
                    '(rate(seconds_bucket{cluster=~"p-1|p-2"}[5m])))',
                    ("p-1", "p-2"),
                    "cluster",
                )
            ],
            id="quantile-keeps-le",
        ),
        pytest.param(
            'sum(up{env="${env.name}", region="${cluster.labels.region}"})',
            [('sum(up{env="prod", region="eu"})', ("p-1", "p-2"), None)],
            id="no-cluster-variable-one-value-for-all",
        ),
        pytest.param(
            'sum(x{cluster="${cluster.name}"}) / on() group_left sum(y)',
            [
                ('sum(x{cluster="p-1"}) / on() group_left sum(y)', ("p-1",), None),
                ('sum(x{cluster="p-2"}) / on() group_left sum(y)', ("p-2",), None),
            ],
            id="on-without-the-label-asks-each-cluster",
        ),
        pytest.param(
            'max(x{c="${cluster.name}"}) + label_replace(y, "a", "${cluster.name}", "", "")',
            [
                ('max(x{c="p-1"}) + label_replace(y, "a", "p-1", "", "")', ("p-1",), None),
                ('max(x{c="p-2"}) + label_replace(y, "a", "p-2", "", "")', ("p-2",), None),
            ],
            id="variable-outside-a-matcher-asks-each-cluster",
        ),
    ],
)
def test_queries_are_batched_by_cluster_where_promql_allows(
    query: str, expected: list[tuple[str, tuple[str, ...], str | None]]
) -> None:
    planned = queries.plan(query, "prod", CLUSTERS)
    assert [(q.text, q.clusters, q.label) for q in planned] == expected


def test_answers_are_spread_over_clusters() -> None:
    batched = queries.Query("q", ("p-1", "p-2"), "cluster")
    answer = [({"cluster": "p-1"}, 0.9), ({"cluster": "other"}, 0.1)]
    assert queries.spread(batched, answer) == {"p-1": 0.9}
    assert queries.spread(queries.Query("q", ("p-1", "p-2")), [({}, 2.0)]) == {"p-1": 2.0, "p-2": 2.0}
    assert queries.spread(queries.Query("q", ("p-1",)), []) == {}
