"""``lamina promote``: request, list, show, approve, reject and apply promotions.

Requests are shown as ``PR-<n>``; every command that takes an ID also accepts the bare number.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from lamina.cli import commands, completing, lazy, output, remote
from lamina.cli.secrets import secret_lookups
from lamina.cli.session import session
from lamina.errors import InputError

if TYPE_CHECKING:
    from lamina.promote import applying, approvals, backfill, requests
    from lamina.store import promotions as store
    from lamina.store.promotions import PromotionRecord
else:
    applying = lazy.module("lamina.promote.applying")
    approvals = lazy.module("lamina.promote.approvals")
    backfill = lazy.module("lamina.promote.backfill")
    requests = lazy.module("lamina.promote.requests")
    store = lazy.module("lamina.store.promotions")


@click.group(cls=commands.Group, no_args_is_help=True)
def app() -> None:
    """Move an environment's pin through the promotion path, with gates and approvals."""


_STATUS_STYLE = {
    "promoted": "green",
    "verified": "green bold",
    "verification-failed": "red bold",
    "approved": "green",
    "testing": "cyan",
    "pending": "cyan",
    "failed": "red",
    "rejected": "red",
    "stale": "yellow",
}


def now() -> datetime:
    """The clock, read at the edge and passed down."""
    return datetime.now(UTC)


def print_request(record: PromotionRecord, as_json: bool, backfill_state: str | None = None) -> None:
    """One request: the SPEC ``promote show`` JSON, or a readable summary."""
    data = requests.to_json(record, backfill_state)
    if as_json:
        output.print_json(data)
        return
    flag = output.styled(" EMERGENCY", "red bold") if record.emergency else ""
    head = output.Text(f"{data['id']} ")
    head.append(f"{record.kind} ")
    # rollbacks and change requests have no source environment: they name the target alone
    head.append(f"{record.source} -> {record.target} " if record.source else f"{record.target} ")
    head.append(f"at {record.revision[:12]} ")
    head.append(output.styled(record.status, _STATUS_STYLE.get(record.status, "")))
    head.append(flag)
    output.out.print(head)
    output.out.print(f"  requested by {record.requested_by} at {output.moment(record.requested_at)}")
    if record.reason:
        output.out.print(f"  reason: {record.reason}")
    for target, digest in sorted(record.config_hashes.items()):
        output.out.print(f"  {target}: {digest[:12]}")
    for gate in record.gates:
        style = {"passed": "green", "failed": "red", "errored": "red", "waiting": "yellow"}.get(
            gate.status, ""
        )
        line = output.styled(f"  gate {gate.name}: {gate.status}", style)
        line.append(f" - {gate.detail}")
        output.out.print(line)
        if gate.status.blocks and gate.output:
            for text in gate.output.rstrip().splitlines()[-10:]:
                output.out.print(f"    | {text}")
    print_plan(record.plan)
    for decision in record.decisions:
        output.out.print(f"  {decision.decision}d by {decision.actor} at {output.moment(decision.at)}")
    if record.commit:
        output.out.print(f"  commit {record.commit[:12]}")
    if backfill_state:
        output.out.print(
            output.styled(f"  backfill {backfill_state}", "red" if backfill_state == "overdue" else "")
        )


def print_opened(answer: Mapping[str, Any], as_json: bool) -> None:
    """A request the server opened; exit 1 when a gate said no, 3 when one could not run."""
    print_answer(answer, as_json)
    if answer.get("status") == "failed":
        said_no = any(g.get("status") == "failed" for g in answer.get("gates", []))
        raise click.exceptions.Exit(1 if said_no else 3)


def print_answer(data: Mapping[str, Any], as_json: bool) -> None:
    """A request as the server answered it (the ``promote show`` JSON), or its one-line summary."""
    if as_json:
        output.print_json(dict(data))
        return
    status = str(data.get("status", ""))
    line = output.Text(
        f"{data.get('id')} {data.get('kind', 'promotion')} {data.get('source')} -> {data.get('target')}: "
    )
    line.append(status, style=_STATUS_STYLE.get(status, ""))
    if data.get("commit"):
        line.append(f" (commit {str(data['commit'])[:12]})")
    output.out.print(line)


def print_plan(plan: Mapping[str, Any] | None) -> None:
    """What the request's move changes: per target, its flags and changed keys (prompts as diffs)."""
    if not plan:
        return
    summary = plan.get("summary", {})
    flags = output.Text(
        f"  plan: {summary.get('touched', 0)} of {summary.get('targets', 0)} target(s) change"
    )
    for name in summary.get("flags", {}):
        flags.append(" ")
        flags.append(f"[{name}]", "red bold" if name in _LOUD_FLAGS else "yellow")
    output.out.print(flags)
    for target in plan.get("targets", []):
        line = output.styled(f"    {target['target']}", "bold")
        if target.get("flags"):
            line.append("  " + " ".join(target["flags"]), "yellow")
        output.out.print(line)
        for change in target.get("changes", []):
            path = change["path"]
            if change.get("diff"):
                output.out.print(output.styled(f"      ~ {path}:", "yellow"))
                for text in change["diff"][2:]:
                    output.out.print("          " + text)
            elif "a" not in change:
                output.out.print(output.styled(f"      + {path}: {output.short_value(change['b'])}", "green"))
            elif "b" not in change:
                output.out.print(output.styled(f"      - {path}: {output.short_value(change['a'])}", "red"))
            else:
                output.out.print(
                    f"      ~ {path}: {output.short_value(change['a'])} -> {output.short_value(change['b'])}"
                )


_LOUD_FLAGS = ("guardrail-loosened", "model-changed", "secret-ref-changed")


@click.argument("source", help="The environment to promote from.", shell_complete=completing.environments)
@click.argument("target", help="The environment to promote to.", shell_complete=completing.environments)
@click.option("--reason", "reason", help="Why (recorded and committed).")
@click.option(
    "--emergency", "emergency", is_flag=True, help="Skip the path; needs two approvers; opens a backfill."
)
@commands.json_option
def request(
    ctx: click.Context, source: str, target: str, reason: str | None, emergency: bool, as_json: bool
) -> None:
    """Request moving TARGET's pin to what SOURCE runs, and run the gates (exit 1 if one fails)."""
    if remote.server() is not None:
        body = {"source": source, "target": target, "reason": reason, "emergency": emergency}
        print_opened(remote.call("POST", "/promotions", body), as_json)
        return
    state = session(ctx)
    with secret_lookups(state.repository()) as lookups:
        record = requests.request(
            state.repository(),
            state.database(),
            source=source,
            target=target,
            actor=state.actor_identity(),
            now=now,
            reason=reason,
            emergency=emergency,
            lookups=lookups,
        )
    print_request(record, as_json)
    if record.status == requests.Status.FAILED:
        # a gate that said no is a finding (1); gates that only could not run are an outside failure (3)
        said_no = any(g.status == "failed" for g in record.gates)
        raise click.exceptions.Exit(1 if said_no else 3)


@click.option(
    "--status",
    "status",
    multiple=True,
    callback=commands.listed,
    help="Only requests in this status (repeatable).",
)
@commands.json_option
def list_requests(ctx: click.Context, status: list[str] | None, as_json: bool) -> None:
    """List requests, newest first, with emergencies and their backfill flagged."""
    state = session(ctx)
    known = {s.value for s in requests.Status}
    for value in status or []:
        if value not in known:
            raise InputError(f"unknown status {value!r} (one of {', '.join(sorted(known))})")
    db = state.database()
    records = store.list_requests(db, statuses=[requests.Status(s) for s in status or ()])
    states = (
        backfill.refresh(state.repository(), db, records, now()) if any(r.emergency for r in records) else {}
    )
    if as_json:
        output.print_json([requests.to_json(r, states.get(r.id)) for r in records])
        return
    rows: list[list[Any]] = []
    for r in records:
        flags = output.Text()
        if r.emergency:
            flags.append("EMERGENCY", "red bold")
            if r.id in states:
                flags.append(f" backfill {states[r.id]}", "red" if states[r.id] == "overdue" else "")
        rows.append(
            [
                requests.format_id(r.id),
                r.kind,
                r.source or "-",
                r.target,
                r.revision[:12],
                output.styled(r.status, _STATUS_STYLE.get(r.status, "")),
                r.requested_by,
                ", ".join(r.approvers) or "-",
                flags,
            ]
        )
    output.print_table(
        ["ID", "KIND", "SOURCE", "TARGET", "REVISION", "STATUS", "REQUESTED BY", "APPROVED BY", "FLAGS"], rows
    )


@click.argument("request_id", help="PR-7 or 7.", metavar="ID", shell_complete=completing.request_ids)
@commands.json_option
def show(ctx: click.Context, request_id: str, as_json: bool) -> None:
    """Show one request: revision, hashes, gates (with check output), decisions."""
    state = session(ctx)
    db = state.database()
    record = store.get_request(db, requests.parse_id(request_id))
    states = backfill.refresh(state.repository(), db, [record], now()) if record.emergency else {}
    print_request(record, as_json, states.get(record.id))


def _decide(ctx: click.Context, request_id: str, approve: bool, comment: str | None, as_json: bool) -> None:
    if remote.server() is not None:
        verb = "approve" if approve else "reject"
        answer = remote.call(
            "POST", f"/promotions/{remote.request_id(request_id)}/{verb}", {"comment": comment}
        )
        print_answer(answer, as_json)
        return
    state = session(ctx)
    record = approvals.decide(
        state.repository(),
        state.database(),
        requests.parse_id(request_id),
        actor=state.actor_identity(),
        approve=approve,
        now=now(),
        comment=comment,
    )
    print_request(record, as_json)


@click.argument("request_id", help="PR-7 or 7.", metavar="ID", shell_complete=completing.request_ids)
@click.option("--comment", "comment", help="A note kept with the approval.")
@commands.json_option
def approve(ctx: click.Context, request_id: str, comment: str | None, as_json: bool) -> None:
    """Approve a request (not your own); it becomes approved when it has enough approvals."""
    _decide(ctx, request_id, True, comment, as_json)


@click.argument("request_id", help="PR-7 or 7.", metavar="ID", shell_complete=completing.request_ids)
@click.option("--comment", "comment", help="Why.")
@commands.json_option
def reject(ctx: click.Context, request_id: str, comment: str | None, as_json: bool) -> None:
    """Reject a request."""
    _decide(ctx, request_id, False, comment, as_json)


@click.argument("request_id", help="PR-7 or 7.", metavar="ID", shell_complete=completing.request_ids)
@commands.json_option
def apply(ctx: click.Context, request_id: str, as_json: bool) -> None:
    """Commit the approved request's pin to lamina.lock and record it (safe to run again)."""
    if remote.server() is not None:
        print_answer(remote.call("POST", f"/promotions/{remote.request_id(request_id)}/apply"), as_json)
        return
    state = session(ctx)
    record = applying.apply(
        state.repository(),
        state.database(),
        requests.parse_id(request_id),
        actor=state.actor_identity(),
        now=now(),
    )
    print_request(record, as_json)


app.command("request")(click.pass_context(request))
app.command("list")(click.pass_context(list_requests))
app.command("show")(click.pass_context(show))
app.command("approve")(click.pass_context(approve))
app.command("reject")(click.pass_context(reject))
app.command("apply")(click.pass_context(apply))
