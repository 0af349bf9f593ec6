"""The pretty JSON writer a fleet render reuses: the same text as ``pretty_json``, every time."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from lamina.core import hashing


class Text(str):
    """A str subclass, as the text of a referenced file is."""


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
    | _text.map(Text)
    | st.sampled_from(["\u2028", "a\x7fb", "\u0085", "\ufffe", 'q"\\'])
)
_values = st.recursive(
    _scalars,
    lambda inner: st.dictionaries(_text, inner, max_size=4) | st.lists(inner, max_size=4),
    max_leaves=30,
)


@given(data=st.dictionaries(_text, _values, max_size=5), other=st.dictionaries(_text, _values, max_size=3))
def test_a_reused_writer_writes_what_pretty_json_writes(data: dict[str, Any], other: dict[str, Any]) -> None:
    writer = hashing.PrettyJson()
    shared = {"first": data, "second": {**other, "again": data}}  # one table in two places
    for value in (data, shared, data, other):
        assert writer.dumps(value) == hashing.pretty_json(value)


def test_nesting_deeper_than_the_prepared_indents() -> None:
    value: dict[str, Any] = {}
    node = value
    for _ in range(80):
        node["k"] = {"list": [1, {"s": "x"}]}
        node = node["k"]
    assert hashing.PrettyJson().dumps(value) == hashing.pretty_json(value)
