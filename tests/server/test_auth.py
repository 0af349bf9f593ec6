"""Who may do what: :func:`lamina.server.auth.authorize` for every role, and how a request's
token is read (the bearer header, else the session cookie)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from lamina.errors import RuleRefused
from lamina.server import auth
from lamina.server.auth import Permission
from lamina.server.tokens import Identity

READ, EDIT, DECIDE, APPLY = Permission.READ, Permission.EDIT, Permission.DECIDE, Permission.APPLY
NO_ROLE = "this token has no role"
NOT_EDITOR = "this needs the editor or admin role"
NOT_DECIDER = (
    "ana@example.com lacks the role approver:production (or admin) to decide on promotions into production"
)
NOT_APPLIER = "applying into production needs approver:production or admin"


@pytest.mark.parametrize(
    "roles, permission, refusal",
    [
        pytest.param([], READ, NO_ROLE, id="no-role-may-not-read"),
        pytest.param([], EDIT, NOT_EDITOR, id="no-role-may-not-edit"),
        pytest.param([], DECIDE, NOT_DECIDER, id="no-role-may-not-decide"),
        pytest.param(["viewer"], READ, None, id="viewer-reads"),
        pytest.param(["viewer"], EDIT, NOT_EDITOR, id="viewer-may-not-edit"),
        pytest.param(["viewer"], DECIDE, NOT_DECIDER, id="viewer-may-not-decide"),
        pytest.param(["viewer"], APPLY, NOT_APPLIER, id="viewer-may-not-apply"),
        pytest.param(["auditor"], READ, None, id="any-role-reads"),
        pytest.param(["editor"], READ, None, id="editor-reads"),
        pytest.param(["editor"], EDIT, None, id="editor-edits"),
        pytest.param(["editor"], DECIDE, NOT_DECIDER, id="editor-may-not-decide"),
        pytest.param(["approver:production"], READ, None, id="approver-reads"),
        pytest.param(["approver:production"], EDIT, NOT_EDITOR, id="approver-may-not-edit"),
        pytest.param(["approver:production"], DECIDE, None, id="approver-decides-in-its-environment"),
        pytest.param(["approver:production"], APPLY, None, id="approver-applies-in-its-environment"),
        pytest.param(["approver:staging"], DECIDE, NOT_DECIDER, id="approver-elsewhere-may-not-decide"),
        pytest.param(["approver:staging"], APPLY, NOT_APPLIER, id="approver-elsewhere-may-not-apply"),
        pytest.param(["admin"], READ, None, id="admin-reads"),
        pytest.param(["admin"], EDIT, None, id="admin-edits"),
        pytest.param(["admin"], DECIDE, None, id="admin-decides"),
        pytest.param(["admin"], APPLY, None, id="admin-applies"),
    ],
)
def test_authorize(roles: list[str], permission: Permission, refusal: str | None) -> None:
    who = Identity("ana@example.com", frozenset(roles))
    environment = "production" if permission in (DECIDE, APPLY) else None
    if refusal is None:
        auth.authorize(who, permission, environment)
        assert auth.allows(who, permission, environment)
    else:
        with pytest.raises(RuleRefused) as refused:
            auth.authorize(who, permission, environment)
        assert str(refused.value) == refusal
        assert refused.value.http_status == 403
        assert not auth.allows(who, permission, environment)


@pytest.mark.parametrize("permission", [DECIDE, APPLY])
def test_deciding_and_applying_are_granted_per_environment(permission: Permission) -> None:
    with pytest.raises(ValueError, match="granted per environment"):
        auth.authorize(Identity("root@example.com", frozenset({"admin"})), permission)


def test_nobody_is_allowed_nothing() -> None:
    assert not auth.allows(None, READ)


def request(method: str, headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "method": method, "path": "/", "headers": raw, "query_string": b""})


COOKIE = {"Cookie": f"{auth.COOKIE}=lam_from-cookie"}


@pytest.mark.parametrize(
    "headers, token",
    [
        pytest.param({"Authorization": "Bearer lam_from-header"}, "lam_from-header", id="header"),
        pytest.param({"Authorization": "bearer  lam_from-header "}, "lam_from-header", id="header-any-case"),
        pytest.param(
            {"Authorization": "Bearer lam_from-header", **COOKIE}, "lam_from-header", id="header-beats-cookie"
        ),
        pytest.param(COOKIE, "lam_from-cookie", id="cookie"),
        pytest.param({"Authorization": "Basic dmVyYQ==", **COOKIE}, "lam_from-cookie", id="other-scheme"),
        pytest.param({"Authorization": "Bearer", **COOKIE}, "lam_from-cookie", id="empty-bearer"),
        pytest.param({"Authorization": "Bearer   ", **COOKIE}, "", id="blank-bearer"),
        pytest.param({}, "", id="none"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_presented_token(headers: dict[str, str], token: str, method: str) -> None:
    # the dashboard takes the cookie for any method: its forms carry a CSRF token as well
    assert auth.presented_token(request(method, headers)) == token
