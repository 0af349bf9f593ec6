"""Protected environments (``[promotion] protect``): they run only configs a request covers.

A target of a protected environment may ship a config hash only when the newest applied
request (promotion, rollback, change, emergency) that recorded a hash for that target recorded
this very hash. An overlay edit committed after the request changes the hash, so it needs a
change request of its own; reverting git to an older config needs a rollback request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lamina.core.states import PromotionStatus, RequestKind
from lamina.fleet.model import Fleet
from lamina.store import promotions as store
from lamina.store.database import Database


@dataclass(frozen=True)
class Uncovered:
    """A target of a protected environment whose config no applied request covers."""

    target: str
    config_hash: str
    covered_hash: str | None
    """The hash the newest applied request recorded for the target, if any."""
    covered_by: str | None
    """That request (``PR-7``)."""

    def message(self) -> str:
        """Why it may not ship, and what to do."""
        env = self.target.split("/", 1)[0]
        if self.covered_by is None:
            why = "no approved request covers it"
        else:
            why = f"{self.covered_by} covers {self.covered_hash[:12] if self.covered_hash else '-'}"
        return (
            f"{self.target}: config {self.config_hash[:12]} is not approved ({why}); "
            f"run `lamina change request {env}` (or promote) and have it approved and applied"
        )


def covered(db: Database, environments: Sequence[str]) -> dict[str, tuple[str, str]]:
    """For each target of environments: the hash its newest applied request recorded, and that request."""
    found: dict[str, tuple[str, str]] = {}
    wanted = set(environments)
    for record in store.list_requests(db, statuses=PromotionStatus.landed_statuses()):  # newest first
        if record.target not in wanted:
            continue
        for target, digest in record.config_hashes.items():
            found.setdefault(target, (digest, f"PR-{record.id}"))
    return found


def uncovered(fleet: Fleet, db: Database, hashes: Mapping[str, str]) -> list[Uncovered]:
    """The targets (``ENV/CLUSTER`` -> hash) of protected environments whose hash is not covered."""
    protected = set(fleet.settings.promotion.protect)
    wanted = sorted({target.split("/", 1)[0] for target in hashes} & protected)
    if not wanted:
        return []
    known = covered(db, wanted)
    out = []
    for target, digest in sorted(hashes.items()):
        if target.split("/", 1)[0] not in protected:
            continue
        found = known.get(target)
        if found is None or found[0] != digest:
            out.append(Uncovered(target, digest, found[0] if found else None, found[1] if found else None))
    return out


def covered_revision(db: Database, environment: str) -> str | None:
    """The commit whose configs of environment its newest applied request covers, or None.

    An applied promotion or rollback covers its pin commit; a change request the commit it was
    made at.
    """
    for record in store.list_requests(db, statuses=PromotionStatus.landed_statuses(), target=environment):
        if record.kind is RequestKind.CHANGE:
            return record.head or record.revision
        if record.commit is not None:
            return record.commit
    return None
