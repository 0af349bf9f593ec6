"""The fleet at a glance, and one target in full.

The overview is the environment x cluster matrix: config hash, pin, drift status and last
apply of every cluster. A target's page lists every value with the layer that set it, its
file:line and reason (provenance, read from the resolver), and can diff against another target.
Secret values never show: configs hold references, and anything credential-like is masked.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from lamina.core.paths import KeyPath, format_path
from lamina.errors import LaminaError
from lamina.reports import presenting, views
from lamina.resolve import values
from lamina.resolve.repository import Repository
from lamina.resolve.resolved import ResolvedConfig
from lamina.server import auth, context
from lamina.server.guards import plain_name, plain_target
from lamina.server.pages import actions as page_actions
from lamina.server.pages import rendering
from lamina.store import summary

router = APIRouter(include_in_schema=False, dependencies=[Depends(auth.page_viewer)])


def _display(value: Any) -> dict[str, Any]:
    """How a config value is shown: a secret reference, a long text, or one line of TOML-ish text."""
    if values.is_secret_ref(value):
        return {"kind": "secret", "text": value[values.SECRET_KEY]}
    if isinstance(value, str):
        first = value.splitlines()[0] if value else ""
        if "\n" in value.rstrip("\n") or len(value) > 120:
            return {"kind": "long", "text": value, "summary": first[:100]}
        return {"kind": "value", "text": json.dumps(value, ensure_ascii=False)}
    return {"kind": "value", "text": json.dumps(value, ensure_ascii=False, default=str)}


def _leaves(node: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    # a secret reference, a scalar, an empty table or a list of scalars is one row
    if isinstance(node, dict) and node and not values.is_secret_ref(node):
        for key, item in node.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(node, list) and any(isinstance(item, dict | list) for item in node):
        for index, item in enumerate(node):
            yield from _leaves(item, (*path, index))
    else:
        yield path, node


def config_rows(resolved: ResolvedConfig) -> list[dict[str, Any]]:
    """Every value of a target with the layer that set it, its file:line and reason (masked)."""
    rows = []
    for path, value in _leaves(presenting.shown(resolved.plain())):
        leaf = next((p for p in reversed(path) if isinstance(p, str)), None)
        settings = [
            {
                "layer": s.layer,
                "kind": s.kind,
                "place": f"{s.file}:{s.line}" if s.line else s.file,
                "value": _display(presenting.shown(s.value, leaf)),
                "reason": s.reason,
            }
            for s in resolved.settings(path)
        ]
        rows.append(
            {
                "key": format_path(path),
                "value": _display(value),
                "winner": settings[-1] if settings else None,
                "overridden": list(reversed(settings[:-1])),
            }
        )
    return rows


def layout(repo: Repository, shared: context.Context) -> dict[str, Any]:
    """The fleet as the repository describes it: one row per environment (promotion order)
    with its pin, one cell per cluster with its labels and config hash (or why it does not
    resolve)."""
    hashes = shared.target_hashes(repo)
    rows: list[dict[str, Any]] = []
    for name in repo.fleet.ordered_environments():
        pin = repo.pins.get(name)
        cells = []
        for cluster in repo.fleet.clusters_of(name):
            cell: dict[str, Any] = {
                "name": cluster.name,
                "env": name,
                "labels": dict(cluster.labels),
                "suspended": cluster.suspended,
            }
            found_hash = hashes.get(f"{name}/{cluster.name}", "not resolved")
            if isinstance(found_hash, str):
                cell["error"] = found_hash
            else:
                cell["hash"], cell["full_hash"] = found_hash
            cells.append(cell)
        rows.append(
            {"env": repo.fleet.environments[name], "pin": pin.revision if pin else None, "cells": cells}
        )
    labels = sorted({f"{k}={v}" for row in rows for cell in row["cells"] for k, v in cell["labels"].items()})
    return {"rows": rows, "fleet_name": repo.fleet.name, "labels": labels}


def with_state(
    described: dict[str, Any], drift: dict[str, summary.DriftRow], applies: dict[str, summary.LastApply]
) -> dict[str, Any]:
    """The fleet's layout with each cluster's recorded state: drift status (or suspended, or
    not checked), when it was checked, and its last apply."""
    rows = []
    for row in described["rows"]:
        cells = []
        for static in row["cells"]:
            cell = dict(static)
            found = drift.get(cell["name"])
            cell["status"] = found.status if found else ("suspended" if cell["suspended"] else "unchecked")
            if found is not None:
                cell["fields"], cell["checked"], cell["since"] = found.fields, found.checked_at, found.since
            last = applies.get(cell["name"])
            if last is not None:
                cell["apply"] = last
                cell["applied_other"] = last.config_hash != cell.get("full_hash")
            cells.append(cell)
        rows.append({**row, "cells": cells})
    every = [cell for row in rows for cell in row["cells"]]
    counts: dict[str, int] = {}
    for cell in every:
        counts[cell["status"]] = counts.get(cell["status"], 0) + 1
    return {**described, "rows": rows, "cells": every, "counts": counts}


PAGE_SIZE = 50
"""Clusters per page of the overview."""
_CHECKING = threading.Lock()
_BUILDING = threading.Lock()
_RENDERING = threading.Lock()
_KEEPING = threading.Lock()
RECHECK_SECONDS = 2.0
"""How often the overview looks at the repository's files for a change (a stat of each);
between two looks it serves what it built (the drift and apply state is checked every time)."""
KEPT_FRAGMENTS = 256
"""Rendered pages of clusters kept for the current state (filters and pages most recently asked)."""
_MARKER = secrets.token_hex(16)
"""Stands for a session's CSRF token in a kept fragment (put in per request: never shared)."""


def _repository_stamp(shared: context.Context) -> str:
    """A digest of every config file and of git's refs, looked at once per RECHECK_SECONDS."""
    from lamina.render import cache

    now = time.monotonic()
    hit = shared.cache.get("repository-stamp")
    if hit is not None and now - hit[0][0] < RECHECK_SECONDS:
        found: str = hit[1]
        return found
    if hit is not None and not _CHECKING.acquire(blocking=False):
        return str(hit[1])  # another request is looking; serve what was seen last meanwhile
    if hit is None:
        _CHECKING.acquire()
    try:
        root = shared.settings.repo_root
        refs = [".git/HEAD", ".git/packed-refs"]
        heads = root / ".git" / "refs" / "heads"
        if heads.is_dir():
            refs.extend(str(p.relative_to(root)) for p in sorted(heads.rglob("*")) if p.is_file())
        stamp = cache.fingerprint(root, {}, refs)
        shared.cache["repository-stamp"] = ((time.monotonic(),), stamp)
    finally:
        _CHECKING.release()
    return stamp


def _described(shared: context.Context, stamp: str) -> dict[str, Any]:
    """The layout of the repository whose stamp is stamp (read again only when it changes);
    call with _BUILDING held."""
    hit = shared.cache.get("fleet-layout")
    if hit is not None and hit[0] == stamp:
        found: dict[str, Any] = hit[1]
        return found
    with shared.repository() as repo:
        built = layout(repo, shared)
    shared.cache["fleet-layout"] = (stamp, built)
    return built


def snapshot(shared: context.Context) -> dict[str, Any]:
    """The whole fleet's overview (every cell, the environments, the labels, the count per
    status). The layout is read again only when the repository changed; the recorded state
    (drift results, applies) is merged in again whenever the state stamp moved."""
    key = (_repository_stamp(shared), shared.database.read(page_actions.state_stamp))
    hit = shared.cache.get("fleet-page")
    if hit is not None and hit[0] == key:
        found: dict[str, Any] = hit[1]
        return found
    with _BUILDING:  # one request builds; the others wait for it instead of building too
        hit = shared.cache.get("fleet-page")
        if hit is not None and hit[0] == key:
            done: dict[str, Any] = hit[1]
            return done
        described = _described(shared, key[0])
        drift, applies, open_count = shared.database.read(
            lambda session: (
                {row.cluster: row for row in summary.drift_rows(session)},
                summary.last_applies(session),
                rendering.open_promotions(session),
            )
        )
        built = {**with_state(described, drift, applies), "key": key, "open_count": open_count}
        shared.cache["fleet-page"] = (key, built)
        return built


def _matches(cell: dict[str, Any], status: str, label: str, needle: str) -> bool:
    if status and cell["status"] != status:
        return False
    if label:
        name, _, value = label.partition("=")
        if cell["labels"].get(name) != value:
            return False
    return not needle or needle in cell["name"].lower()


def clusters_fragment(
    found: dict[str, Any], filters: dict[str, str], page: int, can: dict[str, Any]
) -> dict[str, Any]:
    """What the page of clusters shows: the rows of the clusters that match filters, page of
    them, with the filter form's choices and the pager."""
    env, status, label, q = filters["env"], filters["status"], filters["label"], filters["q"]
    needle = q.strip().lower()
    chosen_rows = [row for row in found["rows"] if not env or row["env"].name == env]
    picked = [
        (row, cell) for row in chosen_rows for cell in row["cells"] if _matches(cell, status, label, needle)
    ]
    pages = max(1, -(-len(picked) // PAGE_SIZE))
    page = min(page, pages)
    shown = picked[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    rows = []
    for row in chosen_rows:
        cells = [cell for owner, cell in shown if owner is row]
        if cells or (not picked and not (status or label or needle)):
            rows.append({**row, "cells": cells})
    kept = {name: value for name, value in filters.items() if value}
    return {
        "rows": rows,
        "environments": [row["env"].name for row in found["rows"]],
        "labels": found["labels"],
        "filters": filters,
        "matched": len(picked),
        "total": len(found["cells"]),
        "page": page,
        "pages": pages,
        "previous": urlencode({**kept, "page": page - 1}) if page > 1 else None,
        "next": urlencode({**kept, "page": page + 1}) if page < pages else None,
        "can": can,
        "forms": {action: f"{_MARKER}-{action}" for action in page_actions.FORMS},
    }


def _clusters_html(
    request: Request,
    shared: context.Context,
    found: dict[str, Any],
    filters: dict[str, str],
    page: int,
    can: dict[str, Any],
) -> str:
    """The page of clusters rendered, with this session's CSRF tokens in its forms.

    Kept per (snapshot, filters, page, rights) until the snapshot changes or a relative time
    it shows ("4 min ago") would read differently; the kept text holds markers where the
    tokens go, so no session's token is ever served to another. A new state waits for its
    render; when only a relative time moved on, one request renders it again while the
    others are served the text of the same state meanwhile (a render takes milliseconds)."""
    key = (json.dumps(filters, sort_keys=True), page, json.dumps(can, sort_keys=True))
    now = shared.clock()
    hit = _kept(shared, found["key"], key, now)
    if hit is not None and (hit[1] or not _RENDERING.acquire(blocking=False)):
        html = hit[0]
    else:
        if hit is None:
            _RENDERING.acquire()  # one request renders a new state's fragment; the others wait for it
        try:
            again = _kept(shared, found["key"], key, now)
            if again is not None and again[1]:
                html = again[0]
            else:
                html = _render(request, shared, found, key, clusters_fragment(found, filters, page, can), now)
        finally:
            _RENDERING.release()
    for action, token in page_actions.csrf_tokens(request).items():
        html = html.replace(f"{_MARKER}-{action}", token)
    return html


def _render(
    request: Request,
    shared: context.Context,
    found: dict[str, Any],
    key: Any,
    data: dict[str, Any],
    now: datetime,
) -> str:
    """data rendered, kept under key until a relative time it shows would read differently."""
    template = request.app.state.templates.get_template("_fleet_clusters.html")
    with rendering.times_shown(now) as changes:
        html: str = template.render(data)
    holds = min(changes, default=datetime.max.replace(tzinfo=UTC))
    with _KEEPING:
        kept = _fragments(shared, found["key"])
        kept[key] = (holds, html)
        while len(kept) > KEPT_FRAGMENTS:
            kept.popitem(last=False)
    return html


def _kept(shared: context.Context, state: Any, key: Any, now: datetime) -> tuple[str, bool] | None:
    """The fragment kept for key in the snapshot state, and whether it still reads right at now."""
    with _KEEPING:
        kept = _fragments(shared, state)
        hit = kept.get(key)
        if hit is None:
            return None
        kept.move_to_end(key)
        return hit[1], now < hit[0]


def _fragments(shared: context.Context, state: Any) -> OrderedDict[Any, tuple[datetime, str]]:
    """The fragments kept for the snapshot state (those of an older state are dropped)."""
    hit = shared.cache.get("fleet-fragments")
    if hit is not None and hit[0] == state:
        kept: OrderedDict[Any, tuple[datetime, str]] = hit[1]
        return kept
    fresh: OrderedDict[Any, tuple[datetime, str]] = OrderedDict()
    shared.cache["fleet-fragments"] = (state, fresh)
    return fresh


Filter = Annotated[str, Query(max_length=100)]


@router.get("/")
def overview(
    request: Request,
    shared: context.Shared,
    who: auth.Viewer,
    env: Filter = "",
    status: Filter = "",
    label: Filter = "",
    q: Filter = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The environment x cluster matrix, filtered by environment, drift status, label and a
    search of cluster names, a page of clusters at a time; with a count per drift status."""
    if env:
        plain_name(env)
    try:
        found = snapshot(shared)
    except LaminaError as exc:
        return rendering.failure(request, who, str(exc), exc.http_status)
    filters = {"env": env, "status": status, "label": label, "q": q}
    can = page_actions.rights(who, [row["env"].name for row in found["rows"]])
    data = {
        "title": "Fleet",
        "counts": found["counts"],
        "fleet_name": found["fleet_name"],
        "open_count": found["open_count"],  # a request's every change is in the audit log
        "clusters": Markup(_clusters_html(request, shared, found, filters, page, can)),
    }
    return rendering.page(request, who, "matrix.html", data)


@router.get("/targets/{environment}/{cluster}")
def target(
    request: Request,
    environment: str,
    cluster: str,
    shared: context.Shared,
    who: auth.Viewer,
    against: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """A target's every value with its provenance, and its differences from against."""
    name = f"{plain_name(environment)}/{plain_name(cluster)}"
    other = plain_target(against) if against else None
    try:
        with shared.repository() as repo:
            resolved = repo.resolve(name)
            rows = config_rows(resolved)
            choices = [
                t
                for env in repo.fleet.ordered_environments()
                for t in (env, *(f"{env}/{c.name}" for c in repo.fleet.clusters_of(env)))
                if t != name
            ]
            changes = None
            if other is not None:
                changes = views.diff(resolved, repo.resolve(other), name, other)["changes"]
                for change in changes:
                    for side in ("a", "b"):
                        if side in change:
                            change[side] = _display(change[side])
            data = {
                "title": name,
                "name": name,
                "environment": resolved.environment,
                "resolved": resolved,
                "pin": repo.pins.get(environment),
                "rows": rows,
                "choices": choices,
                "against": other,
                "changes": changes,
            }
    except LaminaError as exc:
        return rendering.failure(request, who, str(exc), exc.http_status)
    return rendering.page(request, who, "target.html", data)
