"""YAML text for Kubernetes objects: block style, keys in the order given, literal blocks for texts."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any


def _prepare(node: Any) -> Any:
    from ruamel.yaml.scalarstring import LiteralScalarString

    if isinstance(node, dict):
        return {key: _prepare(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_prepare(item) for item in node]
    if (
        isinstance(node, str)
        and "\n" in node
        and not any(c in node for c in "\r\t")
        and (not node.endswith(("\n\n", " \n")) and node.endswith("\n"))
    ):
        return LiteralScalarString(node)
    if isinstance(node, str):
        return str(node)
    return node


def dump(data: Any) -> str:
    """One YAML document."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 4096
    stream = io.StringIO()
    yaml.dump(_prepare(data), stream)
    return stream.getvalue()


def dump_all(documents: Iterable[Any]) -> str:
    """A YAML stream, documents separated by ``---``."""
    return "".join("---\n" + dump(doc) for doc in documents)
