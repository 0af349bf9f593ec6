"""Roll out cluster by cluster: in order of the ``wave`` label, one wave at a time.

Inside a wave the clusters are independent, so they run on a bounded pool of threads (the
work is waiting on the network, not computing). A wave finishes before the next starts;
with ``halt_on_failure`` a wave with any failure stops the rollout and the later clusters
are reported as skipped, never silently dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from lamina.fleet.model import Cluster

R = TypeVar("R")


def waves(clusters: Sequence[Cluster]) -> list[list[Cluster]]:
    """Clusters grouped by wave, lowest wave first, by name inside a wave."""
    ordered = sorted(clusters, key=lambda c: (c.wave, c.name))
    return [list(group) for _, group in itertools.groupby(ordered, key=lambda c: c.wave)]


def run(
    clusters: Sequence[Cluster],
    work: Callable[[Cluster], R],
    failed: Callable[[R], bool],
    skipped: Callable[[Cluster], R],
    parallelism: int = 8,
    halt_on_failure: bool = False,
    done: Callable[[R], None] = lambda result: None,
) -> list[R]:
    """Run work on every cluster, wave by wave; results in wave order.

    Args:
        work: does one cluster; must report failures in its result, not raise.
        failed: whether a result counts as a failure (for ``halt_on_failure``).
        skipped: the result of a cluster that was not attempted because an earlier wave failed.
        done: called with each result as it arrives (progress display).
    """
    results: list[R] = []
    halted = False
    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="lamina-wave") as pool:
        for wave in waves(clusters):
            if halted:
                results.extend(skipped(cluster) for cluster in wave)
                continue
            wave_results = []
            for result in pool.map(work, wave):
                done(result)
                wave_results.append(result)
            results.extend(wave_results)
            if halt_on_failure and any(failed(r) for r in wave_results):
                halted = True
    return results
