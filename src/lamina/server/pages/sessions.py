"""Signing in and out of the dashboard, and the two static files the sign-in page needs.

These are the dashboard's only routes a stranger may reach: the sign-in form and its CSS and
JavaScript. Signing in checks the token and sets the session cookie; signing out is a form
with a CSRF token (:func:`lamina.server.pages.rendering.refuse_forgery`), so another site
cannot sign anyone out.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from lamina.server import auth, context
from lamina.server.pages import rendering

SESSION_SECONDS = 12 * 3600
STATIC = {"lamina.css": "text/css", "lamina.js": "text/javascript"}

router = APIRouter(include_in_schema=False)


def safe_next(text: str | None) -> str:
    """text, when it is a path on this site; "/" otherwise (no scheme, no host, no //evil.example)."""
    if not text or not text.startswith("/") or text.startswith(("//", "/\\")):
        return "/"
    return text


@router.get("/static/{name}")
def static(name: str) -> Response:
    """One of the dashboard's two static files; 404 for any other name."""
    if name not in STATIC:
        raise HTTPException(404, "no such file")
    return FileResponse(
        rendering.SERVER / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "max-age=300"}
    )


@router.get("/login")
def login_form(request: Request, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    """The sign-in form; someone already signed in goes straight on to next."""
    if auth.allows(auth.signed_in(request), auth.Permission.READ):
        return RedirectResponse(safe_next(next), 303)
    return rendering.page(
        request, None, "login.html", {"title": "Sign in", "next": safe_next(next), "error": None}
    )


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Check the token, set the session cookie and go on to next; the form again, saying why, if not."""
    who = context.of(request).tokens().identify(token.strip()) if token.strip() else None
    error = None
    if not rendering.same_origin(request):
        error = "This sign-in form did not come from this dashboard."
    elif who is None:
        error = "That token is not valid. Tokens start with lam_; ask an admin for one."
    elif not auth.allows(who, auth.Permission.READ):
        error = "That token has no role, so it cannot see anything. Ask an admin for a role."
    if error is not None:
        data = {"title": "Sign in", "next": safe_next(next), "error": error}
        return rendering.page(request, None, "login.html", data, 401)
    response = RedirectResponse(safe_next(next), 303)
    response.set_cookie(
        auth.COOKIE,
        token.strip(),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.get("/logout")
def logout_form(request: Request, who: auth.Viewer) -> Response:
    """The sign-out form (a button, so a link from another site cannot sign anyone out)."""
    return rendering.page(request, who, "logout.html", {"title": "Sign out"})


@router.post("/logout")
def logout(request: Request, who: auth.Viewer, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Clear the session cookie and go to the sign-in page."""
    refused = rendering.refuse_forgery(request, who, "logout", csrf)
    if refused is not None:
        return refused
    response = RedirectResponse("/login", 303)
    response.delete_cookie(auth.COOKIE, path="/", httponly=True, samesite="strict")
    return response
