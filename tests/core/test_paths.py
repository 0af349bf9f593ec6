"""Key paths: ``tools[0].timeout`` as text and as a tuple."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamina.core.paths import KeyPath, format_path, get_path, parse_path


@pytest.mark.parametrize(
    ("path", "text"),
    [
        pytest.param(("agent",), "agent", id="one-key"),
        pytest.param(("agent", "model"), "agent.model", id="dotted"),
        pytest.param(("tools", 0, "timeout_seconds"), "tools[0].timeout_seconds", id="index"),
        pytest.param(("matrix", 1, 2), "matrix[1][2]", id="two-indexes"),
        pytest.param((3,), "[3]", id="index-first"),
        pytest.param(("x-y_Z9",), "x-y_Z9", id="bare-characters"),
        pytest.param(("a.b",), '"a.b"', id="dot-in-key"),
        pytest.param(("with space", "k"), '"with space".k', id="space-in-key"),
        pytest.param(('say "hi"',), '"say \\"hi\\""', id="quote-in-key"),
        pytest.param(("",), '""', id="empty-key"),
        pytest.param(("ü",), '"ü"', id="non-ascii-key"),
        pytest.param(("a[0]",), '"a[0]"', id="brackets-in-key"),
    ],
)
def test_format_and_parse(path: KeyPath, text: str) -> None:
    assert format_path(path) == text
    assert parse_path(text) == path


def test_format_empty_path() -> None:
    assert format_path(()) == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty key", id="empty"),
        pytest.param("agent.", "key 'agent.' ends with a dot", id="trailing-dot"),
        pytest.param(".agent", "cannot read key '.agent' at position 1", id="leading-dot"),
        pytest.param("a..b", "cannot read key 'a..b' at position 3", id="double-dot"),
        pytest.param("tools[a b]", "cannot read key 'tools[a b]' at position 6", id="item-name-with-a-space"),
        pytest.param("tools[-1]", "cannot read key 'tools[-1]' at position 6", id="negative-index"),
        pytest.param("tools[0]x", "unexpected 'x' at position 9 of 'tools[0]x'", id="junk-after-index"),
        pytest.param("a]", "unexpected ']' at position 2 of 'a]'", id="stray-bracket"),
        pytest.param('"open', "cannot read key '\"open' at position 1", id="unterminated-quote"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_path(text)
    assert str(info.value) == message


CONFIG: dict[str, Any] = {"agent": {"model": "gpt"}, "tools": [{"name": "a"}, {"name": "b"}], "flag": False}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("agent", "model"), "gpt", id="nested"),
        pytest.param(("tools", 1, "name"), "b", id="through-array"),
        pytest.param(("tools", -1, "name"), "b", id="negative-index"),
        pytest.param(("flag",), False, id="falsy-value"),
        pytest.param((), CONFIG, id="root"),
    ],
)
def test_get_path(path: KeyPath, value: Any) -> None:
    assert get_path(CONFIG, path) == value


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(("agent", "temperature"), id="absent-key"),
        pytest.param(("tools", 2), id="index-past-end"),
        pytest.param(("tools", -3), id="negative-index-past-start"),
        pytest.param(("tools", "name"), id="key-into-array"),
        pytest.param(("agent", 0), id="index-into-table"),
        pytest.param(("agent", "model", "x"), id="key-into-string"),
    ],
)
def test_get_path_absent_raises_key_error(path: KeyPath) -> None:
    with pytest.raises(KeyError):
        get_path(CONFIG, path)


# keys made of the characters that mean something in the path syntax, and any text
KEYS = st.one_of(st.text(st.sampled_from(list('ab.[]"\\ ')), max_size=5), st.text(max_size=8))
PATHS = st.lists(st.one_of(KEYS, st.integers(min_value=0, max_value=10**6)), min_size=1, max_size=6).map(
    tuple
)


@settings(max_examples=300, deadline=None)
@given(PATHS)
def test_format_then_parse_round_trips(path: KeyPath) -> None:
    assert parse_path(format_path(path)) == path


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(("ends with \\",), id="trailing-backslash"),
        pytest.param(('\\"',), id="backslash-quote"),
        pytest.param(("a\\b",), id="inner-backslash"),
    ],
)
def test_backslashes_in_keys_round_trip(path: KeyPath) -> None:
    assert parse_path(format_path(path)) == path
