"""Path and query parameters that name environments or clusters: plain DNS labels or 400.

Checked before anything else uses them, so no parameter can reach the file system.
"""

from __future__ import annotations

from fastapi import HTTPException

from lamina.core.names import is_dns_label


def plain_name(text: str) -> str:
    """text, when it is an environment or cluster name; 400 otherwise."""
    if not is_dns_label(text):
        raise HTTPException(400, f"{text[:70]!r} is not an environment or cluster name")
    return text


def plain_target(text: str) -> str:
    """``ENV`` or ``ENV/CLUSTER`` of plain names; 400 otherwise."""
    env, _, cluster = text.partition("/")
    return f"{plain_name(env)}/{plain_name(cluster)}" if cluster else plain_name(env)
