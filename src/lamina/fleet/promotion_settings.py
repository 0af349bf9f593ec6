"""``[promotion]`` in lamina.toml: gates, approvals, emergencies and freeze windows.

::

    [promotion]
    protect            = ["production", "production-eu"]  # ship only configs a request covers
    allowed_signers    = ".lamina/allowed_signers"     # SSH keys that may sign decisions
    checks             = ["./scripts/smoke-test.sh"]   # commands; each must exit 0
    check_timeout      = "10m"
    soak               = "2h"                          # minimum time in the source environment
    backfill_deadline  = "24h"                         # after an emergency promotion
    verify             = "agent-health"                # an [[analysis]] run after each promotion
    auto               = ["staging"]                   # no approval once gates pass and the source verified

    [promotion.required_approvals]
    production = 2

    [promotion.approvers]
    production = ["alice@example.com", "bob@example.com"]

    [[promotion.freeze]]
    start        = "0 18 * * FRI"                  # cron: minute hour day-of-month month day-of-week
    duration     = "62h"
    timezone     = "Europe/Berlin"                 # optional; UTC by default
    environments = ["production", "production-eu"]
    reason       = "weekend"

Cron expressions are read by ``croniter``: day and month names, ``@weekly`` and friends, and
``L`` (the last day of the month) all work.
"""

from __future__ import annotations

import shlex
from collections.abc import Collection, Mapping
from datetime import timedelta

import msgspec

from lamina.fleet.tables import TableReader
from lamina.source.documents import Document

_KEYS = (
    "protect",
    "allowed_signers",
    "checks",
    "check_timeout",
    "soak",
    "backfill_deadline",
    "required_approvals",
    "approvers",
    "freeze",
    "verify",
    "auto",
)
_FREEZE_KEYS = ("start", "duration", "environments", "reason", "timezone")
MAX_FREEZE = timedelta(days=31)


class FreezeWindow(msgspec.Struct, frozen=True):
    """A recurring freeze: from each time the cron expression matches, for duration.

    Attributes:
        start: the cron expression (five fields or a ``@weekly``-style nickname).
        timezone: the IANA zone the expression is read in (``UTC`` by default).
    """

    start: str
    duration: timedelta
    environments: tuple[str, ...]
    reason: str
    timezone: str = "UTC"


class PromotionSettings(msgspec.Struct, frozen=True):
    """What ``[promotion]`` says, with defaults."""

    protect: tuple[str, ...] = ()
    """Environments that ship only config hashes an applied request covers."""
    allowed_signers: str | None = None
    """A file in git's allowed-signers format: who may sign decisions with which SSH key."""
    checks: tuple[tuple[str, ...], ...] = ()
    check_timeout: timedelta = timedelta(minutes=10)
    soak: timedelta | None = None
    required_approvals: Mapping[str, int] = msgspec.field(default_factory=dict)
    approvers: Mapping[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    backfill_deadline: timedelta = timedelta(hours=24)
    freezes: tuple[FreezeWindow, ...] = ()
    verify: str | None = None
    """The ``[[analysis]]`` run on the target environment once a promoted config runs there."""
    auto: tuple[str, ...] = ()
    """Unprotected environments whose requests need no approval once their gates pass and their
    source environment is verified."""

    def required(self, environment: str, emergency: bool) -> int:
        """Approvals a request into environment needs (an emergency needs at least two)."""
        needed = self.required_approvals.get(environment, 1)
        return max(needed, 2) if emergency else needed


def load(doc: Document, environments: Collection[str]) -> PromotionSettings:
    """Read and check ``[promotion]``.

    Raises:
        FleetError: a value has the wrong type or names an unknown environment.
    """
    table = TableReader(doc, ("promotion",), _KEYS)
    required = {}
    for env, count in table.environments("required_approvals", environments).items():
        if isinstance(count, bool) or not isinstance(count, int):
            raise table.fail(
                f"[promotion] required_approvals.{env} must be a int", ("required_approvals", env)
            )
        if count < 1:
            raise table.fail("[promotion] required_approvals must be at least 1", ("required_approvals", env))
        required[env] = count
    approvers = {}
    for env, people in table.environments("approvers", environments).items():
        if not isinstance(people, list) or not all(isinstance(p, str) for p in people):
            raise table.fail("[promotion.approvers] lists user names", ("approvers", env))
        approvers[env] = tuple(people)
    timeout = table.duration("check_timeout", timedelta(minutes=10))
    deadline = table.duration("backfill_deadline", timedelta(hours=24))
    assert timeout is not None and deadline is not None
    protect = table.strings("protect", what="environment names")
    for index, env in enumerate(protect):
        if env not in environments:
            raise table.fail(f"[promotion] protect names unknown environment {env!r}", ("protect", index))
    return PromotionSettings(
        protect=protect,
        allowed_signers=table.string("allowed_signers"),
        checks=_checks(table),
        check_timeout=timeout,
        soak=table.duration("soak", None),
        required_approvals=required,
        approvers=approvers,
        backfill_deadline=deadline,
        freezes=_freezes(table, environments),
        verify=table.string("verify"),
        auto=_auto(table, environments, protect),
    )


def _auto(table: TableReader, environments: Collection[str], protect: Collection[str]) -> tuple[str, ...]:
    auto = table.strings("auto", what="environment names")
    for index, env in enumerate(auto):
        if env not in environments:
            raise table.fail(f"[promotion] auto names unknown environment {env!r}", ("auto", index))
        if env in protect:
            raise table.fail(
                f"[promotion] auto names protected environment {env!r}: its requests always need approval",
                ("auto", index),
            )
    return auto


def _checks(table: TableReader) -> tuple[tuple[str, ...], ...]:
    checks = table.table.get("checks", [])
    if not isinstance(checks, list):
        raise table.fail("[promotion] checks must be a list of commands", ("checks",))
    commands: list[tuple[str, ...]] = []
    for index, check in enumerate(checks):
        if isinstance(check, str):
            try:
                argv = tuple(shlex.split(check))
            except ValueError as exc:
                raise table.fail(f"[promotion] checks: {exc}", ("checks", index)) from None
        elif isinstance(check, list) and all(isinstance(a, str) for a in check):
            argv = tuple(check)
        else:
            raise table.fail(
                "[promotion] checks: each command is a string or a list of strings", ("checks", index)
            )
        if not argv:
            raise table.fail("[promotion] checks: empty command", ("checks", index))
        commands.append(argv)
    return tuple(commands)


def _freezes(table: TableReader, environments: Collection[str]) -> tuple[FreezeWindow, ...]:
    raw = table.table.get("freeze", [])
    if not isinstance(raw, list):
        raise table.fail("[[promotion.freeze]] must be an array of tables")
    windows = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise table.fail("[[promotion.freeze]] entries are tables", ("freeze", index))
        window = TableReader(table.doc, ("promotion", "freeze", index), _FREEZE_KEYS)

        def fail(message: str, window: TableReader = window) -> Exception:
            return window.fail(f"[[promotion.freeze]] {message}")

        start, length, envs = entry.get("start"), entry.get("duration"), entry.get("environments")
        reason = entry.get("reason", "scheduled freeze")
        zone = entry.get("timezone", "UTC")
        if not isinstance(start, str):
            raise fail("start must be a cron expression")
        problem = cron_problem(start)
        if problem is not None:
            raise fail(f"start: {problem}")
        if not isinstance(length, str):
            raise fail("duration must be a duration like '62h'")
        span = window.duration("duration", None)
        assert span is not None
        if span > MAX_FREEZE:
            raise fail("duration may be at most 31 days")
        if not isinstance(envs, list) or not all(isinstance(e, str) for e in envs):
            raise fail("environments must be a list of names")
        for env in envs:
            if env not in environments:
                raise fail(f"names unknown environment {env!r}")
        if not isinstance(reason, str):
            raise fail("reason must be a string")
        if not isinstance(zone, str) or not _known_zone(zone):
            raise fail(f"timezone {zone!r} is not an IANA time zone like 'Europe/Berlin'")
        windows.append(FreezeWindow(start, span, tuple(envs), reason, zone))
    return tuple(windows)


def cron_problem(expression: str) -> str | None:
    """Why expression is not a cron expression lamina reads, or None when it is one."""
    from croniter import croniter  # loads only for fleets that declare freeze windows

    fields = expression.split()
    if not (len(fields) == 5 or (len(fields) == 1 and expression.strip().startswith("@"))):
        return f"{expression!r} needs five fields: minute hour day-of-month month day-of-week (or @weekly...)"
    if not croniter.is_valid(expression):
        return f"{expression!r} is not a valid cron expression"
    return None


def _known_zone(name: str) -> bool:
    import zoneinfo  # on first use: only windows with a timezone need it

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
