"""Freezes: times when an environment takes no promotions except emergency ones.

Two kinds: recurring windows declared in lamina.toml (``[[promotion.freeze]]``, a cron-style
start in UTC and a duration) and manual freezes (``lamina freeze ENV --until T --reason R``),
kept in the state database. A frozen environment refuses a request and says why and until when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lamina.errors import InputError, RuleRefused
from lamina.promote import settings as promotion_settings
from lamina.promote.settings import FreezeWindow
from lamina.store import promotions as store
from lamina.store.database import Database

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)

CronFields = tuple[frozenset[int], frozenset[int], frozenset[int], frozenset[int], frozenset[int], bool, bool]


def parse_cron(expression: str) -> CronFields:
    """Parse ``minute hour day-of-month month day-of-week`` (``*``, ``a-b``, ``a,b``, ``*/n``).

    Returns:
        the allowed values of each field, then whether day-of-month and day-of-week were
        restricted (when both are, a day matching either one matches, as in cron).

    Raises:
        ValueError: the expression is malformed.
    """
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(f"{expression!r} needs five fields: minute hour day-of-month month day-of-week")
    sets = [_field(part, name, low, high) for part, (name, low, high) in zip(parts, _FIELDS, strict=True)]
    dow = frozenset(0 if day == 7 else day for day in sets[4])
    return sets[0], sets[1], sets[2], sets[3], dow, parts[2] != "*", parts[4] != "*"


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        body, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, end = low, high
            elif "-" in body:
                first, _, last = body.partition("-")
                start, end = int(first), int(last)
            else:
                start = end = int(body)
                if step_text:
                    end = high
        except ValueError:
            raise ValueError(f"{name} field {text!r} is not a number, range, list or */step") from None
        if step < 1 or start < low or end > high or start > end:
            raise ValueError(f"{name} field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def cron_matches(fields: CronFields, moment: datetime) -> bool:
    """True when the minute of moment (UTC) matches the cron fields."""
    minutes, hours, doms, months, dows, dom_set, dow_set = fields
    moment = moment.astimezone(UTC)
    if moment.minute not in minutes or moment.hour not in hours or moment.month not in months:
        return False
    dom_ok = moment.day in doms
    dow_ok = (moment.isoweekday() % 7) in dows
    if dom_set and dow_set:
        return dom_ok or dow_ok
    return dom_ok and dow_ok


def window_end(window: FreezeWindow, now: datetime) -> datetime | None:
    """When the window's current occurrence ends, or None when now is outside it."""
    fields = parse_cron(window.start)
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    steps = int(window.duration.total_seconds() // 60)
    for back in range(steps + 1):
        start = minute - timedelta(minutes=back)
        if start + window.duration > now and cron_matches(fields, start):
            return start + window.duration
    return None


@dataclass(frozen=True)
class Frozen:
    """Why and until when an environment is frozen."""

    environment: str
    until: datetime
    reason: str
    by: str  # "lamina.toml" for a window, else who froze it

    def message(self) -> str:
        """The refusal a request into a frozen environment gets."""
        return (
            f"{self.environment} is frozen until {self.until.strftime('%Y-%m-%dT%H:%M:%SZ')} "
            f"({self.reason}; set by {self.by}); only --emergency promotions go through"
        )


def active_freeze(
    windows: Sequence[FreezeWindow], db: Database, environment: str, now: datetime
) -> Frozen | None:
    """The freeze holding environment at now (the one lasting longest), or None."""
    found: list[Frozen] = []
    for window in windows:
        if environment in window.environments:
            end = window_end(window, now)
            if end is not None:
                found.append(Frozen(environment, end, window.reason, "lamina.toml"))
    for manual in store.freezes(db):
        if manual.environment == environment and manual.until > now:
            found.append(Frozen(environment, manual.until, manual.reason, manual.actor))
    return max(found, key=lambda f: f.until) if found else None


def refuse_if_frozen(
    windows: Sequence[FreezeWindow], db: Database, environment: str, now: datetime, emergency: bool
) -> None:
    """Raise Refused when environment is frozen and the promotion is not an emergency."""
    frozen = active_freeze(windows, db, environment, now)
    if frozen is not None and not emergency:
        raise RuleRefused(frozen.message())


def parse_until(text: str, now: datetime) -> datetime:
    """``--until``: an ISO 8601 time (UTC when it has no zone) or a duration from now (``4h``).

    Raises:
        InputError: neither.
    """
    try:
        return now + promotion_settings.parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--until {text!r} is neither an ISO time nor a duration like '4h'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment <= now:
        raise InputError(f"--until {text!r} is in the past")
    return moment


def freeze(
    db: Database, environment: str, *, until: datetime, reason: str, actor: str, now: datetime
) -> None:
    """Freeze environment until a moment (audited)."""
    if not reason.strip():
        raise InputError("a freeze needs a --reason")
    store.set_freeze(db, environment=environment, until=until, reason=reason, actor=actor, at=now)


def unfreeze(db: Database, environment: str, *, actor: str, now: datetime) -> bool:
    """Lift environment's manual freeze (audited); False when it had none."""
    return store.clear_freeze(db, environment=environment, actor=actor, at=now)
