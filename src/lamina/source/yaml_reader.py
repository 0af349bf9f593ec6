"""YAML files through ruamel.yaml, refusing what makes YAML dangerous.

Round-trip loading keeps the line of every key. Custom tags (``!!python/object``...) are
refused rather than constructed, and aliases are expanded under a node budget so an
alias bomb ("billion laughs") fails fast instead of eating memory. An alias inside its own
anchor is refused where ruamel would read it as null (or fail on a merge key).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, StreamMark, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import Node, ScalarNode

from lamina.core.paths import KeyPath
from lamina.errors import ParseError, Place
from lamina.source import scalars

_STANDARD_TAGS = {
    None,
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:omap",
    "tag:yaml.org,2002:value",  # ruamel's YAML 1.1 reading of a plain "=": a string in YAML 1.2
}
_VALUE_TAG = "tag:yaml.org,2002:value"
_STR_TAG = "tag:yaml.org,2002:str"


def read(
    path: str, text: str, limits: scalars.Limits
) -> tuple[dict[str, Any], dict[KeyPath, int], list[scalars.TextSpan]]:
    """Parse one YAML document into plain values, key lines and the spans of multi-line strings."""
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    yaml.Composer = _Composer
    yaml.Constructor = _Constructor
    try:
        loaded = list(yaml.load_all(text))
    except _Refusal as exc:
        raise ParseError(exc.message, Place(path, exc.mark.line + 1)) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        place = Place(path, mark.line + 1, mark.column + 1) if mark else Place(path)
        problem = (exc.problem or exc.context or "malformed YAML").strip()
        if "duplicate key" in str(exc):
            problem = "duplicate key " + _duplicate_key(str(exc))
        raise ParseError(f"invalid YAML: {problem}", place) from None
    except YAMLError as exc:
        raise ParseError(f"invalid YAML: {str(exc).splitlines()[0]}", Place(path)) from None
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        # ruamel.yaml itself fails on a few odd scalars (a key "._" read as a float, say)
        raise ParseError(f"invalid YAML: cannot read a value ({exc})", Place(path)) from None
    if len(loaded) > 1:
        raise ParseError(
            "holds several YAML documents; lamina reads one per file",
            Place(path, _second_document_line(text)),
        )
    root = loaded[0] if loaded else None
    strings = yaml.composer.strings
    if root is None:
        return {}, {}, strings
    converter = _Converter(path, limits)
    if not isinstance(root, dict):
        raise ParseError("the top level must be a mapping", Place(path, 1))
    data = converter.convert(root, (), 1)
    return data, converter.lines, strings


class _Refusal(Exception):
    """What lamina refuses while ruamel reads: ``message`` at ``mark``, its place in the text."""

    def __init__(self, message: str, mark: StreamMark) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _Composer(Composer):
    """ruamel's composer, refusing recursive aliases and noting where multi-line strings lie."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        # YAML lets a later anchor reuse a name; ruamel's warning about it would reach stderr
        self.warn_double_anchors = False
        self.finished: set[Node] = set()
        self.strings: list[scalars.TextSpan] = []

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and target not in self.finished:
                # the anchored node is still being read: the alias is inside it
                raise _Refusal(f"recursive YAML alias *{event.anchor}", event.start_mark)
            return super().compose_node(parent, index)
        node = super().compose_node(parent, index)
        if event.anchor is not None:
            self.finished.add(node)
        if isinstance(node, ScalarNode):
            self._note_span(node)
        return node

    def _note_span(self, node: ScalarNode) -> None:
        # marks are 0-based; a scalar that ends at column 0 ends on the line before
        start, end = node.start_mark, node.end_mark
        last = end.line if end.column else end.line - 1
        if last <= start.line:
            return
        if node.style in ("|", ">"):  # the text starts on the line after the | or > header
            self.strings.append(scalars.TextSpan(start.line + 2, 0, last + 1))
        else:
            self.strings.append(scalars.TextSpan(start.line + 1, start.column, last + 1))


class _Constructor(RoundTripConstructor):
    """ruamel's round-trip constructor, naming the place of an integer too long to read."""

    def construct_yaml_int(self, node: Any) -> Any:
        try:
            return super().construct_yaml_int(node)
        except ValueError as exc:
            if not scalars.is_digit_limit(exc):
                raise
            raise _Refusal(scalars.too_many_digits(), node.start_mark) from None


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)


def _second_document_line(text: str) -> int | None:
    markers = [n for n, line in enumerate(text.splitlines(), 1) if re.match(r"---(\s|$)", line)]
    content = next(
        (
            n
            for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith(("#", "%", "---"))
        ),
        None,
    )
    if not markers or content is None:
        return None
    after = [n for n in markers if n > content]
    return after[0] if after else None


def _duplicate_key(message: str) -> str:
    for line in message.splitlines():
        if "found duplicate key" in line:
            return line.split("found duplicate key", 1)[1].split(" with value")[0].strip()
    return ""


class _Converter:
    def __init__(self, path: str, limits: scalars.Limits) -> None:
        self.path = path
        self.limits = limits
        self.lines: dict[KeyPath, int] = {}
        self.nodes = 0

    def _check(self, node: Any, at: KeyPath, line: int) -> None:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise ParseError(
                f"YAML expands to more than {self.limits.max_nodes} values "
                "(an alias bomb?) ([limits] max_nodes)",
                Place(self.path, line),
            )
        if len(at) > self.limits.max_depth:
            raise ParseError(
                f"nested deeper than {self.limits.max_depth} levels ([limits] max_depth)",
                Place(self.path, line),
            )
        tag = getattr(node, "tag", None)
        value = getattr(tag, "value", tag) if tag is not None else None
        if isinstance(value, str) and value not in _STANDARD_TAGS:
            raise ParseError(f"custom YAML tag {_short(value)} is not allowed", Place(self.path, line))

    def convert(self, node: Any, at: KeyPath, line: int) -> Any:
        self._check(node, at, line)
        if isinstance(node, TaggedScalar) and node.tag.value in (_VALUE_TAG, _STR_TAG):
            return str(node.value)
        if isinstance(node, TaggedScalar):
            raise ParseError(
                f"custom YAML tag {_short(node.tag.value)} is not allowed", Place(self.path, line)
            )
        if isinstance(node, CommentedMap):
            out: dict[str, Any] = {}
            for key, value in node.items():
                key_line = _key_line(node, key, line)
                if not isinstance(key, str):
                    if isinstance(key, bool | int | float):
                        key = str(key).lower() if isinstance(key, bool) else str(key)
                    else:
                        raise ParseError("keys must be strings", Place(self.path, key_line))
                path = (*at, key)
                self.lines.setdefault(path, key_line)
                out[key] = self.convert(value, path, key_line)
            return out
        if isinstance(node, CommentedSeq):
            items = []
            for index, value in enumerate(node):
                item_line = _item_line(node, index, line)
                path = (*at, index)
                self.lines.setdefault(path, item_line)
                items.append(self.convert(value, path, item_line))
            return items
        if isinstance(node, dict | list):  # plain containers from a merge key
            raise ParseError("unsupported YAML construct", Place(self.path, line))
        return _scalar(node, self.path, line)


def _short(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _key_line(node: Any, key: Any, default: int) -> int:
    try:
        return int(node.lc.key(key)[0]) + 1
    except (KeyError, TypeError, AttributeError):
        return default  # a key that came in through a merge key (<<)


def _item_line(node: Any, index: int, default: int) -> int:
    try:
        return int(node.lc.item(index)[0]) + 1
    except (KeyError, TypeError, AttributeError):
        return default


def _scalar(value: Any, path: str, line: int) -> Any:
    import datetime as dt

    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        text = str(value)
        if any("\ud800" <= char <= "\udfff" for char in text):
            # YAML's \u escapes are 16-bit: join surrogate pairs into the character they spell
            # (a lone one stays, and check_shape refuses it)
            with contextlib.suppress(UnicodeDecodeError):
                text = text.encode("utf-16", "surrogatepass").decode("utf-16")
        return text
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise ParseError(f"unsupported YAML value of type {type(value).__name__}", Place(path, line))
