"""YAML text for Kubernetes objects: block style, keys in the order given.

``dump`` (for people: ``render --print``) goes through ruamel.yaml and writes texts as literal
blocks; ``dump_simple`` (for the files of a thousand rendered folders) is a small, fast writer
of the plain shapes a kustomization has, quoting every string that YAML could read otherwise.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable
from typing import Any

_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_PLAIN = re.compile(r"^[A-Za-z_/.][-A-Za-z0-9_./]*\Z")
_KEYWORDS = re.compile(
    r"^(?:[yY]|yes|Yes|YES|[nN]|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|null|Null|NULL|\.inf|\.Inf|\.INF|\.nan|\.NaN|\.NAN)$"
)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if value is None:
        return "null"
    text = str(value)
    if _PLAIN.fullmatch(text) and not _KEYWORDS.fullmatch(text) and not text.startswith("..."):
        return text
    # JSON's quoting is YAML's double-quoted style, except for characters YAML forbids raw
    quoted = json.dumps(text, ensure_ascii=False)
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _float(value: float) -> str:
    """A float as both YAML 1.1 and 1.2 read it back (a dot in the mantissa: ``1.0e-05``)."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text


def _lines(value: Any, indent: str, out: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                out.append(f"{indent}{_scalar(key)}:")
                _lines(item, indent + ("  " if isinstance(item, dict) else ""), out)
            else:
                empty = "{}" if isinstance(item, dict) else "[]" if isinstance(item, list) else None
                out.append(f"{indent}{_scalar(key)}: {empty or _scalar(item)}")
    else:
        for item in value:
            if isinstance(item, dict) and item:
                sub: list[str] = []
                _lines(item, indent + "  ", sub)
                out.append(f"{indent}- {sub[0][len(indent) + 2 :]}")
                out.extend(sub[1:])
            elif isinstance(item, list) and item:
                raise ValueError("nested lists are not written by dump_simple")
            else:
                out.append(f"{indent}- {_scalar(item) if not isinstance(item, dict | list) else '{}'}")


def dump_simple(data: dict[str, Any]) -> str:
    """One YAML document of tables, lists of scalars or tables, and scalars."""
    out: list[str] = []
    _lines(data, "", out)
    return "\n".join(out) + "\n"


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
