"""``lamina drift``: what runs against what git says, per cluster; heal it or adopt it."""

from __future__ import annotations

import datetime
import os
from typing import TYPE_CHECKING, Any

import click

from lamina.cli import commands, completing, lazy, output, remote
from lamina.cli.apply import forced, kube_settings, print_overridden
from lamina.cli.session import session
from lamina.clusters import secrets
from lamina.clusters.outcomes import ApplyOutcome
from lamina.core.states import DriftStatus
from lamina.core.targets import TargetRef
from lamina.drift import adopt as adopting
from lamina.drift.status import DriftReport
from lamina.errors import InputError
from lamina.fleet.selectors import Selector

if TYPE_CHECKING:
    from lamina.drift import checking
    from lamina.ship import healing
else:
    checking = lazy.module("lamina.drift.checking")
    healing = lazy.module("lamina.ship.healing")

_STYLES = {
    DriftStatus.IN_SYNC: "green",
    DriftStatus.OUT_OF_SYNC: "yellow",
    DriftStatus.DRIFTED: "red bold",
    DriftStatus.MISSING: "red",
    DriftStatus.UNREACHABLE: "red",
    DriftStatus.SUSPENDED: "dim",
}


@click.command()
@commands.names_argument("environments", "Environments (default: all).", completing.targets)
@click.option("--selector", "-l", "selector", help="Only clusters whose labels match k=v,...")
@click.option(
    "--heal", "heal", is_flag=True, help="Re-apply git's config to drifted and out-of-sync clusters."
)
@click.option("--adopt", "adopt", help="ENV/CLUSTER: write its live values into its cluster layer.")
@click.option(
    "--force",
    "force",
    is_flag=True,
    help="With --heal: ship although validation, a freeze or protection refuses.",
)
@click.option(
    "--reason", "reason", help="Why the live values are accepted (--adopt), or why --force is needed."
)
@commands.json_option
@click.pass_context
def drift(
    ctx: click.Context,
    environments: list[str] | None,
    selector: str | None,
    heal: bool,
    adopt: str | None,
    force: bool,
    reason: str | None,
    as_json: bool,
) -> None:
    """Drift status per cluster with field-level differences; exit 1 when any cluster is not in sync."""
    if adopt is not None:
        remote.refuse_without_endpoint("lamina drift --adopt")
    if heal and remote.server() is not None:
        if selector:
            raise InputError(
                "through the server (LAMINA_SERVER), drift --heal takes environments, not --selector"
            )
        _heal_remotely(environments or [], forced(force, reason), as_json)
        return
    state = session(ctx)
    repo = state.repository()
    settings = kube_settings(repo)
    options = checking.DriftOptions.from_fleet(repo.fleet.settings)
    if adopt is not None:
        if heal:
            raise InputError(
                "--adopt and --heal do not go together: adopt keeps the live values, heal undoes them"
            )
        if force:
            raise InputError("--force goes with --heal")
        _adopt(state, adopt, reason, settings, options, as_json)
        return
    if force and not heal:
        raise InputError("--force goes with --heal")
    if reason is not None and not force:
        raise InputError("--reason goes with --adopt or --heal --force")
    force_reason = forced(force, reason)
    refs = repo.targets(environments or (), Selector.parse(selector))
    now = datetime.datetime.now(datetime.UTC)
    label = "healing" if heal else "checking drift"
    with output.progress(label, len(refs), quiet=as_json) as progress:

        def done(report: DriftReport) -> None:
            progress.item(
                f"{report.environment}/{report.cluster}",
                report.status.value,
                style=_STYLES.get(report.status, ""),
            )  # no wave sections: drift checks every cluster at once, reports come as they finish

        if heal:
            with secrets.Lookups.from_environment(os.environ, settings) as lookups:
                healing_done = healing.heal(
                    repo,
                    state.database(),
                    refs,
                    actor=state.actor_identity(),
                    kube=settings,
                    lookups=lookups,
                    now=now,
                    force=force_reason,
                    done=done,
                )
            reports = list(healing_done.reports)
            healed, overridden = healing_done.outcomes, healing_done.overridden
        else:
            reports = checking.run(repo, state.database(), refs, settings, now, done=done)
            healed, overridden = (), ()
    if as_json:
        _print_json(reports, healed, now)
    else:
        _print_text(reports, healed, now)
        print_overridden(overridden, force_reason)
    if any(not r.in_sync for r in reports):
        raise click.exceptions.Exit(1)


def _heal_remotely(environments: list[str], force_reason: str | None, as_json: bool) -> None:
    """``drift --heal`` by the server (``POST /api/v1/drift/heal``): its rules, clusters and record."""
    answer = remote.call("POST", "/drift/heal", {"targets": environments, "force": force_reason})
    if as_json:
        output.print_json(answer)
    else:
        output.print_table(
            ["CLUSTER", "ENVIRONMENT", "STATUS"],
            [
                [
                    output.styled(c["cluster"], "bold"),
                    c["environment"],
                    output.styled(c["status"], _STYLES.get(DriftStatus(c["status"]), "")),
                ]
                for c in answer.get("clusters", [])
            ],
        )
        for o in answer.get("outcomes", []):
            failed = o["result"] in ("failed", "unreachable")
            line = f"healed {o['environment']}/{o['cluster']}: {o['result']}" + (
                f" ({o['detail']})" if o.get("detail") else ""
            )
            output.out.print(output.styled(line, "red" if failed else "green"))
        print_overridden(tuple(answer.get("overridden", ())), force_reason)
    if any(c["status"] != DriftStatus.IN_SYNC.value for c in answer.get("clusters", [])):
        raise click.exceptions.Exit(1)


def _print_json(reports: list[DriftReport], healed: tuple[ApplyOutcome, ...], now: datetime.datetime) -> None:
    """The SPEC ``drift --json`` list, each item with its drift group and what heal did."""
    by_cluster = {c: g for g in checking.group(reports) for c in g.clusters}
    items = [r.to_json(now) for r in reports]
    for item in items:
        group = by_cluster.get(f"{item['environment']}/{item['cluster']}")
        item["drift_group"] = group.key if group else None
        healed_here = [o for o in healed if o.cluster == item["cluster"]]
        if healed_here:
            item["healed"] = healed_here[0].to_json()
    output.print_json(items)


def _print_text(reports: list[DriftReport], healed: tuple[ApplyOutcome, ...], now: datetime.datetime) -> None:
    """The status table, what heal did, and drift shared by several clusters."""
    print_reports(reports, now)
    for outcome in healed:
        line = f"healed {outcome.environment}/{outcome.cluster}: {outcome.result}"
        if outcome.detail:
            line += f" ({outcome.detail})"
        output.out.print(output.styled(line, "green" if not outcome.failed else "red"))
    for group in checking.group(reports):
        if len(group.clusters) > 1:
            paths = ", ".join(f.path for f in group.fields)
            output.out.print(
                output.styled(f"same drift on {len(group.clusters)} clusters", "bold")
                + f" ({', '.join(group.clusters)}): {paths}"
            )


def _adopt(
    state: Any, target: str, reason: str | None, settings: Any, options: checking.DriftOptions, as_json: bool
) -> None:
    repo = state.repository()
    ref = TargetRef.parse(target)
    if ref.cluster is None or ref.revision is not None:
        raise InputError(f"--adopt takes one ENV/CLUSTER target, not {target!r}")
    if not reason:
        raise InputError("--adopt needs --reason: it becomes the override's comment in git")
    repo.fleet.cluster(ref.cluster)
    result = checking.check(
        repo, [TargetRef(repo.fleet.environment(ref.environment).name, ref.cluster)], settings, options
    )
    report = result.reports[0]
    adoption = adopting.adopt(repo.root, report, reason)
    if as_json:
        output.print_json(
            {
                "target": report.target,
                "file": adoption.file,
                "paths": list(adoption.paths),
                "skipped": list(adoption.skipped),
                "reason": reason,
            }
        )
        return
    output.out.print(f"adopted into {adoption.file}: {', '.join(adoption.paths)}")
    if adoption.skipped:
        output.out.print(
            output.styled(f"not adopted (edit by hand): {', '.join(adoption.skipped)}", "yellow")
        )
    output.out.print("review and commit the change, then `lamina apply` it")


def _age(report: DriftReport, now: datetime.datetime) -> str:
    if report.since is None or report.status is DriftStatus.IN_SYNC:
        return "-"
    seconds = int((now - report.since).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def print_reports(reports: list[DriftReport], now: datetime.datetime) -> None:
    """A table of statuses, then each cluster's differing fields."""
    output.print_table(
        ["CLUSTER", "ENVIRONMENT", "STATUS", "FOR", "CHANGED BY", "DETAIL"],
        [
            [
                output.styled(r.cluster, "bold"),
                r.environment,
                output.styled(r.status.value, _STYLES[r.status]),
                _age(r, now),
                (r.changed_by or "unknown") if r.status is DriftStatus.DRIFTED else "-",
                r.detail or "-",
            ]
            for r in reports
        ],
    )
    for report in reports:
        if not report.fields:
            continue
        output.out.print(output.styled(f"{report.target} ({report.status.value}):", "bold"))
        for item in report.fields:
            if item.to_json().get("diff"):
                output.out.print(output.styled(f"  ~ {item.path}:", "yellow"))
                for line in item.text_diff()[2:]:
                    output.out.print("      " + line)
            else:
                expected = "absent" if "expected" not in item.to_json() else output.short_value(item.expected)
                actual = "absent" if "actual" not in item.to_json() else output.short_value(item.actual)
                output.out.print(f"  ~ {item.path}: git {expected}, live {actual}")
