"""The ``[promotion]`` table of lamina.toml, read once and checked, with file:line in its errors.

```toml
[promotion]
checks             = ["pytest -q evals/"]     # run without a shell, in the repository folder
check_timeout      = "10m"
soak               = "2h"                     # the revision must have run that long upstream
required_approvals = { production = 2 }      # default 1
backfill_deadline  = "24h"                    # after an emergency promotion

[promotion.approvers]
production = ["alice@example.com", "bob@example.com"]

[[promotion.freeze]]
start        = "0 18 * * 5"                   # cron: minute hour day-of-month month day-of-week (UTC)
duration     = "62h"
environments = ["production", "production-eu"]
reason       = "weekend"
```
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from lamina.errors import FleetError
from lamina.fleet.model import Fleet

_DURATION = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")


def parse_duration(text: str) -> timedelta:
    """``"2h"``, ``"1d12h"``, ``"90m"``, ``"30s"`` as a timedelta.

    Raises:
        ValueError: text is not such a duration.
    """
    match = _DURATION.match(text)
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like '2h', '90m' or '1d12h'")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """A duration as ``1d2h3m`` (seconds dropped when longer than a minute)."""
    total = int(delta.total_seconds())
    if total < 60:
        return f"{max(total, 0)}s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return "".join(parts) or "0m"


@dataclass(frozen=True)
class FreezeWindow:
    """A recurring freeze: from each cron-matching minute, for duration."""

    start: str
    duration: timedelta
    environments: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class PromotionSettings:
    """What ``[promotion]`` says, with defaults."""

    checks: tuple[tuple[str, ...], ...] = ()
    check_timeout: timedelta = timedelta(minutes=10)
    soak: timedelta | None = None
    required_approvals: Mapping[str, int] = field(default_factory=dict)
    approvers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    backfill_deadline: timedelta = timedelta(hours=24)
    freezes: tuple[FreezeWindow, ...] = ()

    def required(self, environment: str, emergency: bool) -> int:
        """Approvals a request into environment needs (an emergency needs at least two)."""
        needed = self.required_approvals.get(environment, 1)
        return max(needed, 2) if emergency else needed


def load(fleet: Fleet) -> PromotionSettings:
    """Read and check ``[promotion]``.

    Raises:
        FleetError: a value has the wrong type or names an unknown environment.
    """
    section = fleet.section("promotion")
    place = fleet.document.place

    def duration(key: str, default: timedelta | None) -> timedelta | None:
        value = section.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise FleetError(f"[promotion] {key} must be a duration like '2h'", place(("promotion", key)))
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise FleetError(f"[promotion] {key}: {exc}", place(("promotion", key))) from None

    checks = section.get("checks", [])
    if not isinstance(checks, list):
        raise FleetError("[promotion] checks must be a list of commands", place(("promotion", "checks")))
    commands: list[tuple[str, ...]] = []
    for index, check in enumerate(checks):
        where = place(("promotion", "checks", index))
        if isinstance(check, str):
            try:
                argv = tuple(shlex.split(check))
            except ValueError as exc:
                raise FleetError(f"[promotion] checks: {exc}", where) from None
        elif isinstance(check, list) and all(isinstance(a, str) for a in check):
            argv = tuple(check)
        else:
            raise FleetError("[promotion] checks: each command is a string or a list of strings", where)
        if not argv:
            raise FleetError("[promotion] checks: empty command", where)
        commands.append(argv)

    required = _env_table(fleet, section, "required_approvals", int)
    for env, count in required.items():
        if count < 1:
            raise FleetError(
                "[promotion] required_approvals must be at least 1",
                place(("promotion", "required_approvals", env)),
            )
    approvers = {env: tuple(people) for env, people in _env_table(fleet, section, "approvers", list).items()}
    for env, people in approvers.items():
        if not all(isinstance(p, str) for p in people):
            raise FleetError("[promotion.approvers] lists user names", place(("promotion", "approvers", env)))
    timeout = duration("check_timeout", timedelta(minutes=10))
    deadline = duration("backfill_deadline", timedelta(hours=24))
    assert timeout is not None and deadline is not None
    return PromotionSettings(
        checks=tuple(commands),
        check_timeout=timeout,
        soak=duration("soak", None),
        required_approvals=required,
        approvers=approvers,
        backfill_deadline=deadline,
        freezes=_freezes(fleet, section.get("freeze", [])),
    )


def _env_table(fleet: Fleet, section: Mapping[str, Any], key: str, kind: type) -> dict[str, Any]:
    table = section.get(key, {})
    where = fleet.document.place(("promotion", key))
    if not isinstance(table, Mapping):
        raise FleetError(f"[promotion] {key} must be a table by environment", where)
    out: dict[str, Any] = {}
    for env, value in table.items():
        here = fleet.document.place(("promotion", key, env))
        if env not in fleet.environments:
            raise FleetError(f"[promotion] {key} names unknown environment {env!r}", here)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise FleetError(f"[promotion] {key}.{env} must be a {kind.__name__}", here)
        out[env] = value
    return out


def _freezes(fleet: Fleet, raw: Any) -> tuple[FreezeWindow, ...]:
    from lamina.promote import freezes  # the cron grammar lives with the freezes

    if not isinstance(raw, list):
        raise FleetError(
            "[[promotion.freeze]] must be an array of tables", fleet.document.place(("promotion",))
        )
    windows = []
    for index, entry in enumerate(raw):
        where = fleet.document.place(("promotion", "freeze", index))
        if not isinstance(entry, Mapping):
            raise FleetError("[[promotion.freeze]] entries are tables", where)
        start, length, envs = entry.get("start"), entry.get("duration"), entry.get("environments")
        reason = entry.get("reason", "scheduled freeze")
        if not isinstance(start, str):
            raise FleetError("[[promotion.freeze]] start must be a cron expression", where)
        try:
            freezes.parse_cron(start)
        except ValueError as exc:
            raise FleetError(f"[[promotion.freeze]] start: {exc}", where) from None
        if not isinstance(length, str):
            raise FleetError("[[promotion.freeze]] duration must be a duration like '62h'", where)
        try:
            span = parse_duration(length)
        except ValueError as exc:
            raise FleetError(f"[[promotion.freeze]] duration: {exc}", where) from None
        if span > timedelta(days=31):
            raise FleetError("[[promotion.freeze]] duration may be at most 31 days", where)
        if not isinstance(envs, list) or not all(isinstance(e, str) for e in envs):
            raise FleetError("[[promotion.freeze]] environments must be a list of names", where)
        for env in envs:
            if env not in fleet.environments:
                raise FleetError(f"[[promotion.freeze]] names unknown environment {env!r}", where)
        if not isinstance(reason, str):
            raise FleetError("[[promotion.freeze]] reason must be a string", where)
        windows.append(FreezeWindow(start, span, tuple(envs), reason))
    return tuple(windows)
