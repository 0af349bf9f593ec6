"""``lamina plan``: what a change does to every target, for a terminal, a script or a PR comment.

Exit 1 when the change touches any target's resolved config, 0 when it touches none.
Targets whose changes are identical are shown together (a base change to a hundred
clusters reads as one block); ``--json`` lists every touched target on its own.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import click

from lamina.cli import commands, output
from lamina.cli.diff import print_changes
from lamina.cli.session import session
from lamina.core.diffs import ABSENT
from lamina.core.paths import format_path
from lamina.errors import InputError
from lamina.plan import planning, results
from lamina.plan.flags import GUARDRAIL_LOOSENED
from lamina.plan.results import Plan, Side, TargetPlan

FILES_SHOWN = 8
TARGETS_LISTED = 20


class Format(StrEnum):
    """Output formats of plan."""

    text = "text"
    markdown = "markdown"


@click.command()
@click.option("--from", "from_rev", default="HEAD", help="Git revision to compare from.")
@click.option("--to", "to_rev", help="Git revision to compare to (default: the working tree).")
@commands.json_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(Format),
    default=Format.text,
    help="text, or markdown for a pull-request comment.",
)
@click.pass_context
def plan(ctx: click.Context, from_rev: str, to_rev: str | None, as_json: bool, fmt: Format) -> None:
    """What a change does to every target: keys changed, and flags for a changed model,
    prompt, tool endpoint or secret reference and a loosened guardrail. Exit 1 when any
    target changes."""
    if as_json and fmt is not Format.text:
        raise InputError("--json and --format markdown do not go together; choose one")
    result = planning.plan_revisions(
        session(ctx).root(),
        from_rev,
        to_rev,
        progress=lambda total: output.progress("planning", total, quiet=as_json),
    )
    if as_json:
        output.print_json(result.to_json())
    elif fmt is Format.markdown:
        sys.stdout.write(markdown(result))
    else:
        print_plan(result)
    if result.touched:
        raise click.exceptions.Exit(1)


def groups(targets: Sequence[TargetPlan]) -> list[list[TargetPlan]]:
    """Touched targets with identical changes and flags, together, in plan order."""
    grouped: dict[str, list[TargetPlan]] = {}
    for target in targets:
        key = json.dumps(
            [
                target.status,
                [change.to_json() for change in target.changes],
                [[flag.name, [format_path(p) for p in flag.paths]] for flag in target.flags],
            ],
            sort_keys=True,
            default=str,
        )
        grouped.setdefault(key, []).append(target)
    return list(grouped.values())


def _hash(value: str | None, missing: str) -> str:
    return value[:12] if value is not None else missing


def _flag_text(target: TargetPlan) -> str:
    return "; ".join(
        f"{flag.name} ({', '.join(format_path(path) for path in flag.paths)})" for flag in target.flags
    )


def _labels(group: list[TargetPlan], from_side: Side, to_side: Side) -> tuple[str, str]:
    if len(group) == 1:
        return from_side.target_label(group[0].target), to_side.target_label(group[0].target)
    return from_side.label, to_side.label


# -- text -------------------------------------------------------------------------------------------


def print_plan(result: Plan) -> None:
    """Human form: changed files, each group of touched targets with its changes, the summary."""
    out = output.out
    out.print(output.styled(f"plan: {result.from_side.describe()} -> {result.to_side.describe()}", "bold"))
    files = result.changed_files
    if files:
        shown = ", ".join(files[:FILES_SHOWN])
        if len(files) > FILES_SHOWN:
            shown += f" and {len(files) - FILES_SHOWN} more"
        out.print(output.Text(f"changed files ({len(files)}): {shown}"))
    else:
        out.print(output.Text("no files changed"))
    for group in groups(result.touched):
        out.print()
        for target in group[:TARGETS_LISTED]:
            out.print(
                output.styled(str(target.target), "bold")
                + output.Text(
                    f"  {_hash(target.from_hash, '(new)')} -> {_hash(target.to_hash, '(removed)')}", "dim"
                )
            )
        if len(group) > TARGETS_LISTED:
            out.print(
                output.Text(
                    f"... and {len(group) - TARGETS_LISTED} more with the same changes (--json lists all)"
                )
            )
        if group[0].flags:
            style = "red bold" if GUARDRAIL_LOOSENED in group[0].flag_names else "yellow bold"
            out.print(output.styled(f"  flags: {_flag_text(group[0])}", style))
        label_a, label_b = _labels(group, result.from_side, result.to_side)
        print_changes(list(group[0].changes), label_a, label_b)
    out.print()
    touched = len(result.touched)
    summary = f"{touched} of {result.total} targets touched ({result.resolved} resolved)"
    out.print(output.styled(summary, "yellow bold" if touched else "green"))
    output.print_table(
        ["ENVIRONMENT", "TARGETS", "TOUCHED"],
        [[env.environment, str(env.targets), str(env.touched)] for env in result.environments],
    )
    counts = result.flag_counts()
    if counts:
        text = ", ".join(
            f"{name} on {count} target{'s' if count != 1 else ''}" for name, count in counts.items()
        )
        out.print(output.styled(f"flags: {text}", "red" if GUARDRAIL_LOOSENED in counts else "yellow"))


# -- markdown ---------------------------------------------------------------------------------------


def markdown(result: Plan) -> str:
    """A report to paste into a pull request: summary table, then a details block per group."""
    from_side, to_side = result.from_side, result.to_side
    touched = len(result.touched)
    lines = [
        f"### lamina plan: {_side_md(from_side)} → {_side_md(to_side)}",
        "",
        f"**{touched} of {result.total} targets touched** · {result.resolved} resolved · "
        f"{len(result.changed_files)} changed file{'s' if len(result.changed_files) != 1 else ''}",
        "",
        "| Environment | Targets | Touched |",
        "|---|---:|---:|",
    ]
    lines += [f"| {env.environment} | {env.targets} | {env.touched} |" for env in result.environments]
    counts = result.flag_counts()
    if counts:
        flagged = " · ".join(
            f"`{name}` ({count} target{'s' if count != 1 else ''})" for name, count in counts.items()
        )
        lines += ["", f"**Flags:** {flagged}"]
    for group in groups(result.touched):
        lines += ["", *_group_md(group, from_side, to_side)]
    return "\n".join(lines) + "\n"


def _side_md(side: Side) -> str:
    if side.commit is None:
        return side.label
    return (
        _code(side.label)
        if side.label == side.commit[:12]
        else f"{_code(side.label)} ({_code(side.commit[:12])})"
    )


def _group_md(group: list[TargetPlan], from_side: Side, to_side: Side) -> list[str]:
    first = group[0]
    names = ", ".join(f"<code>{target.target}</code>" for target in group[:TARGETS_LISTED])
    if len(group) > TARGETS_LISTED:
        names += f" and {len(group) - TARGETS_LISTED} more"
    count = len(first.changes)
    title = f"{names} · {first.status} · {count} change{'s' if count != 1 else ''}"
    if first.flags:
        title += " · " + ", ".join(f"<b>{name}</b>" for name in first.flag_names)
    lines = ["<details>", f"<summary>{title}</summary>", ""]
    for target in group[:TARGETS_LISTED]:
        lines.append(
            f"- {_code(str(target.target))}: {_code(_hash(target.from_hash, '(new)'))} → "
            f"{_code(_hash(target.to_hash, '(removed)'))}"
        )
    if first.flags:
        lines.append("")
        for flag in first.flags:
            lines.append(f"- **{flag.name}**: " + ", ".join(_code(format_path(p)) for p in flag.paths))
    label_a, label_b = _labels(group, from_side, to_side)
    texts: list[list[str]] = []
    rows = []
    for change in first.changes:
        diff_lines = results.prompt_diff(change, label_a, label_b)
        if diff_lines:
            texts.append([format_path(change.path), *diff_lines])
            continue
        rows.append(f"| {_code(format_path(change.path))} | {_value_md(change.a)} | {_value_md(change.b)} |")
    if rows:
        lines += ["", "| Key | From | To |", "|---|---|---|", *rows]
    for path, *diff_lines in texts:
        fence = "`" * max(3, _longest_backticks("\n".join(diff_lines)) + 1)
        lines += ["", f"{_code(path)}:", "", f"{fence}diff", *diff_lines, fence]
    lines += ["", "</details>"]
    return lines


def _value_md(value: Any) -> str:
    if value is ABSENT:
        return "*(absent)*"
    return _code(output.short_value(value, 120))


def _code(text: str) -> str:
    """An inline code span that survives backticks and table pipes in text."""
    fence = "`" * (_longest_backticks(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text.replace('|', chr(92) + '|')}{pad}{fence}"


def _longest_backticks(text: str) -> int:
    longest = current = 0
    for char in text:
        current = current + 1 if char == "`" else 0
        longest = max(longest, current)
    return longest
