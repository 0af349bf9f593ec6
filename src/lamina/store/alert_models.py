"""The tables of the alerts (migration 0002): what each cluster's alerts last said."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from lamina.store.models import Base


class AlertState(Base):
    """One cluster's alert state: the condition last told, and a newer one waiting to hold."""

    __tablename__ = "alert_states"

    cluster: Mapped[str] = mapped_column(String(63), primary_key=True)
    environment: Mapped[str] = mapped_column(String(63))
    notified: Mapped[str | None] = mapped_column(String(16))
    pending: Mapped[str | None] = mapped_column(String(16))
    pending_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
