"""Does a Secret with a given key exist in a cluster — without ever looking at its values.

The API has no "key names only" read, so the Secret is fetched as raw bytes, only
``data``/``stringData`` key names are taken, and the bytes are dropped at once: they are
never turned into a client object (whose repr would show them), logged, or returned.
"""

from __future__ import annotations

import json
from typing import Any

from lamina.clusters import connection, faults


def secret_key_names(conn: connection.Connection, name: str) -> set[str] | None:
    """The key names of Secret name in the cluster's namespace, or None when it does not exist."""
    try:
        response = conn.call(conn.core.read_namespaced_secret, name, conn.namespace, _preload_content=False)
    except faults.ClusterFault as exc:
        if exc.kind is faults.FaultKind.NOT_FOUND:
            return None
        raise
    body: Any = json.loads(response.data)
    keys = set((body.get("data") or {}).keys()) | set((body.get("stringData") or {}).keys())
    del body, response  # values go no further than this frame
    return keys


def secret_annotations(conn: connection.Connection, name: str) -> dict[str, str] | None:
    """The annotations of Secret name (never its values), or None when it does not exist."""
    try:
        response = conn.call(conn.core.read_namespaced_secret, name, conn.namespace, _preload_content=False)
    except faults.ClusterFault as exc:
        if exc.kind is faults.FaultKind.NOT_FOUND:
            return None
        raise
    body: Any = json.loads(response.data)
    annotations = dict((body.get("metadata") or {}).get("annotations") or {})
    del body, response  # values go no further than this frame
    return annotations
