"""Canonical parts of a config and the plan's encoder: the same bytes and hash as the core."""

from __future__ import annotations

import pytest

import lamina
from lamina.plan.encoding import CanonicalParts, Encoder


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="empty"),
        pytest.param({"b": [1, 2.5, True, None], "a": {"z": "ü", "y": {"x": "\n"}}}, id="nested"),
        pytest.param({"ключ": "значение", "a b": {'"q"': "'"}}, id="unicode-and-quotes"),
    ],
)
def test_canonical_parts_hash_like_the_core(data: dict[str, object]) -> None:
    assert CanonicalParts.of(data).config_hash() == lamina.config_hash(data)


def test_canonical_parts_with_an_encoder_hash_like_without() -> None:
    shared = {"model": "large", "tools": [{"name": "search"}]}
    encoder = Encoder()
    first = CanonicalParts.of({"agent": shared, "region": "eu"}, encoder)
    second = CanonicalParts.of({"agent": shared, "region": "us"}, encoder)
    assert first.config_hash() == lamina.config_hash({"agent": shared, "region": "eu"})
    assert second.config_hash() == lamina.config_hash({"agent": shared, "region": "us"})
    assert first.differing_keys(second) == ["region"]


def test_an_encoder_encodes_a_shared_table_once_and_only_for_itself() -> None:
    table = {"b": 1, "a": [2, 3]}
    encoder = Encoder()
    encoded = encoder.encode(table)
    assert encoded == b'{"a":[2,3],"b":1}'
    assert encoder.encode(table) is encoded
    assert Encoder().encode(table) is not encoded
