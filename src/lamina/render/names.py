"""Kustomize's configMapGenerator name suffix, computed byte for byte as Kustomize v5 does.

Kustomize (``sigs.k8s.io/kustomize/api/hasher``) serialises
``{"data": <data>, "kind": "ConfigMap", "name": ""}`` the way Go's ``json.Marshal`` does,
takes the SHA-256 hex digest, keeps 10 characters and maps some of them to letters so the
suffix never looks like a number or a word. lamina and ``kubectl kustomize`` must agree on
the name, or a workload would point at a ConfigMap that GitOps never creates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

# Go's json.Marshal escapes these for safe embedding in HTML; Python's json does not.
_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_ENCODE = str.maketrans("013ae", "ghkmt")


def go_json(value: object) -> str:
    """Encode like Go's json.Marshal: sorted keys, no spaces, HTML-safe escapes, raw UTF-8."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in _GO_ESCAPES.items():
        if char in text:
            text = text.replace(char, escape)
    return text


def configmap_suffix(data: Mapping[str, str], binary_data: Mapping[str, str] | None = None) -> str:
    """The 10-character suffix Kustomize appends to a generated ConfigMap's name."""
    body: dict[str, object] = {"data": dict(data), "kind": "ConfigMap", "name": ""}
    if binary_data:
        body["binaryData"] = dict(binary_data)
    digest = hashlib.sha256(go_json(body).encode("utf-8")).hexdigest()
    return digest[:10].translate(_ENCODE)
