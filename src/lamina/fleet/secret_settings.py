"""``[secrets.<env>]``: where an environment's clusters get their secrets from (External Secrets).

::

    [secrets.production]
    store      = "vault-backend"          # a SecretStore of the External Secrets Operator
    store_kind = "ClusterSecretStore"     # default; or "SecretStore"
    refresh    = "1h"                     # how often ESO syncs (default 1h)

With a store, every ``vault:`` and ``name/key`` reference of the environment's targets renders
as an ``ExternalSecret`` (see :mod:`lamina.render.external`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import msgspec

from lamina.fleet.tables import TableReader
from lamina.source.documents import Document

STORE_KINDS = ("ClusterSecretStore", "SecretStore")


class SecretStore(msgspec.Struct, frozen=True):
    """The External Secrets store of one environment."""

    store: str
    kind: str = "ClusterSecretStore"
    refresh: str = "1h"


def load(doc: Document, environments: Collection[str]) -> Mapping[str, SecretStore]:
    """The stores lamina.toml declares, by environment.

    Raises:
        FleetError: an unknown environment, key or store kind, or a bad refresh duration.
    """
    section = TableReader(doc, ("secrets",))
    stores: dict[str, SecretStore] = {}
    for env in section.table:
        if env not in environments:
            known = ", ".join(sorted(environments))
            raise section.fail(f"[secrets.{env}]: unknown environment {env!r} (known: {known})", (env,))
        table = section.sub(env, ("store", "store_kind", "refresh"))
        store = table.string("store")
        if not store:
            raise table.fail(f"[secrets.{env}] store: the name of an External Secrets store is required")
        kind = table.text("store_kind", "ClusterSecretStore")
        if kind not in STORE_KINDS:
            raise table.fail(
                f"[secrets.{env}] store_kind must be one of {', '.join(STORE_KINDS)}", ("store_kind",)
            )
        refresh = table.text("refresh", "1h")
        table.duration("refresh", None)  # refused at file:line when it is not a duration
        stores[env] = SecretStore(store, kind, refresh)
    return stores
