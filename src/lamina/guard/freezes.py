"""Whether an environment is frozen now, and why: recurring windows of ``[[promotion.freeze]]``
(a cron start in the window's time zone and a duration; see :mod:`lamina.guard.cron`) and manual
freezes kept in the state database (``lamina freeze ENV --until T --reason R``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lamina.fleet.promotion_settings import FreezeWindow
from lamina.guard import cron
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
        """The refusal a write into a frozen environment gets."""
        return (
            f"{self.environment} is frozen until {self.until.strftime('%Y-%m-%dT%H:%M:%SZ')} "
            f"({self.reason}; set by {self.by}); only --emergency requests and --force go through"
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
