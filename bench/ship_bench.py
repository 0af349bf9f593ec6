"""What the delivery guarantee costs: ``lamina apply`` of every directory target of a fleet with
vetting (validate's schema, policies and ordered checks plus the secrets check) and the rules,
against the same shipment without them, in the same process and run.

    .venv/bin/python bench/ship_bench.py [--clusters 1000] [--runs 3]

The unvetted peer is what apply did before the guarantee: resolve and render each target, write
it to its folder wave by wave, record it. Both start from empty cluster folders every run, so
each writes every file. Goal: vetted within 1.5x of unvetted.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
if importlib.util.find_spec("lamina") is None:
    sys.path.insert(0, str(REPO_ROOT / "src"))

import lamina  # noqa: E402
from bench import fleetgen  # noqa: E402
from bench.validate_bench import SCHEMA  # noqa: E402
from lamina.clusters import apply, connection, secrets, waves  # noqa: E402
from lamina.clusters.outcomes import ApplyOptions, ApplyOutcome  # noqa: E402
from lamina.core.states import ApplyResult  # noqa: E402
from lamina.core.targets import TargetRef  # noqa: E402
from lamina.guard.actors import Actor  # noqa: E402
from lamina.render import configmaps  # noqa: E402
from lamina.resolve.repository import Repository  # noqa: E402
from lamina.ship import records, shipping  # noqa: E402
from lamina.store.database import Database  # noqa: E402

GOAL = 1.5
HELD_SECRETS = 'secrets = ["openai/api-key", "crm/api-token"]'
# validate_bench's fleet breaks rules on purpose; a shipment must pass them, so these hold
POLICIES = """
[[policy]]
name    = "bounded-tool-calls-in-production"
when    = "env.stage == 'production'"
rule    = "config.guardrails.max_tool_calls <= 500"
message = "production agents need a tool-call bound"

[[policy]]
name    = "a-model-everywhere"
rule    = "config.agent.model != ''"
message = "every agent names its model"
"""


def prepare(root: Path, environments: int, clusters: int, keys: int) -> None:
    """A generated fleet whose folder clusters hold the secrets its configs reference."""
    fleetgen.generate(root, environments, clusters, keys, 6144, 1)
    fleet = root / "lamina.toml"
    text = re.sub(r'^(directory = "out/[^"]+")$', rf"\1\n{HELD_SECRETS}", fleet.read_text(), flags=re.M)
    text = text.replace('keys = ["guardrails.pii_redaction"]', 'keys = ["agent.provider"]')
    fleet.write_text(text)
    (root / "schema").mkdir(exist_ok=True)
    (root / "schema" / "agent.schema.json").write_text(json.dumps(SCHEMA, indent=2))
    (root / "policies").mkdir(exist_ok=True)
    (root / "policies" / "bench.toml").write_text(POLICIES)


def refs_of(repo: Repository) -> list[TargetRef]:
    return [TargetRef(c.environment, c.name) for c in repo.fleet.clusters.values()]


def unvetted(repo: Repository, db: Database, kube: connection.KubeSettings) -> list[ApplyOutcome]:
    """The shipment without vetting or rules: resolve, render, write wave by wave, record."""
    now = datetime.datetime.now(datetime.UTC)
    render = repo.fleet.settings.render
    options = ApplyOptions(workload=render.workload, keep=render.keep, resources=render.resources)
    rendered = {}
    for ref in refs_of(repo):
        config = repo.resolve(ref)
        assert config.cluster is not None
        rendered[config.cluster.name] = configmaps.render_config(config, repo.source_revision(config))
    outcomes = waves.run(
        [repo.fleet.cluster(name) for name in rendered],
        lambda cluster: apply.apply_config(rendered[cluster.name], kube, options, now),
        failed=lambda o: o.failed,
        skipped=lambda cluster: ApplyOutcome.of(rendered[cluster.name], ApplyResult.SKIPPED),
        parallelism=kube.parallelism,
    )
    records.record(db, outcomes, Actor("bench"), now, False)
    return outcomes


def vetted(repo: Repository, db: Database, kube: connection.KubeSettings) -> list[ApplyOutcome]:
    """``lamina apply`` of every target: vetting, the rules, then the same shipment."""
    with secrets.Lookups(kube) as lookups:
        shipped = shipping.ship(
            repo,
            db,
            refs_of(repo),
            actor=Actor("bench"),
            kube=kube,
            lookups=lookups,
            now=datetime.datetime.now(datetime.UTC),
        )
    return list(shipped.outcomes)


def timed(root: Path, db: Database, way: Callable[..., list[ApplyOutcome]]) -> float:
    shutil.rmtree(root / "out", ignore_errors=True)
    start = time.perf_counter()
    with lamina.Repository(root) as repo:
        kube = connection.KubeSettings.from_environment({}, repo.root, repo.fleet.settings.apply)
        outcomes = way(repo, db, kube)
    elapsed = time.perf_counter() - start
    wrote = sum(outcome.result is ApplyResult.APPLIED for outcome in outcomes)
    if wrote != len(outcomes):
        raise SystemExit(f"{way.__name__}: {len(outcomes) - wrote} of {len(outcomes)} targets not applied")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environments", type=int, default=4)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    root = REPO_ROOT / "bench" / "out" / f"ship-{args.environments}e-{args.clusters}c"
    prepare(root, args.environments, args.clusters, args.keys)
    with tempfile.TemporaryDirectory() as state:
        db = Database(f"sqlite:///{state}/state.db")
        db.ensure_schema()
        plain, guarded = [], []
        for _ in range(args.runs):  # alternate, so both see the same machine
            plain.append(timed(root, db, unvetted))
            guarded.append(timed(root, db, vetted))
        db.dispose()
    plain_s, guarded_s = statistics.median(plain), statistics.median(guarded)
    ratio = guarded_s / plain_s
    print(f"targets applied (folder clusters)            {args.clusters}")
    print(f"apply without vetting (median of {args.runs})        {plain_s:.2f} s")
    print(f"apply with vetting and rules (median of {args.runs}) {guarded_s:.2f} s")
    verdict = "ok" if ratio <= GOAL else "OVER"
    print(f"ratio                                        {ratio:.2f}x   goal <= {GOAL}x   {verdict}")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
