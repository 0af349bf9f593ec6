"""When a recurring freeze window holds: its cron expression read by ``croniter``, in the
window's time zone, so "Friday 18:00 in Berlin" stays 18:00 across daylight saving time."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

from lamina.fleet.promotion_settings import FreezeWindow


def window_end(window: FreezeWindow, now: datetime) -> datetime | None:
    """When the window's occurrence holding now ends (UTC), or None when now is outside it."""
    from croniter import croniter  # loads only for fleets that declare freeze windows

    zone = zoneinfo.ZoneInfo(window.timezone)
    local = now.astimezone(zone)
    # the newest start at or before now: step back from the next minute, since a start that
    # falls exactly on now counts
    starts = croniter(window.start, local.replace(second=0, microsecond=0) + timedelta(minutes=1))
    start: datetime = starts.get_prev(datetime)
    end = start.astimezone(UTC) + window.duration
    return end if start <= local and end > now else None
