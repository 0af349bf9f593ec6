"""Time for rollouts: what time it is and how to wait, injectable so tests never wait needlessly."""

from __future__ import annotations

import datetime
import time
from typing import Protocol


class Clock(Protocol):
    """Now, and waiting."""

    def now(self) -> datetime.datetime:
        """The current time (UTC)."""

    def sleep(self, seconds: float) -> None:
        """Wait seconds."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime.datetime:
        """The current time (UTC)."""
        return datetime.datetime.now(datetime.UTC)

    def sleep(self, seconds: float) -> None:
        """Wait seconds."""
        time.sleep(max(seconds, 0.0))
