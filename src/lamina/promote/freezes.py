"""Freezes: times when an environment takes no promotions except emergency ones.

Two kinds: recurring windows declared in lamina.toml (``[[promotion.freeze]]``, a cron start
in the window's time zone and a duration; see :mod:`lamina.promote.cron`) and manual freezes
(``lamina freeze ENV --until T --reason R``), kept in the state database. A frozen
environment refuses a request and says why and until when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lamina.errors import InputError, RuleRefused
from lamina.fleet import durations
from lamina.fleet.promotion_settings import FreezeWindow
from lamina.promote import cron
from lamina.store import promotions as store
from lamina.store.database import Database


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
            end = cron.window_end(window, now)
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
        return now + durations.parse_duration(text)
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
