"""Malformed and hostile config files fail with one message that names file:line[:col]."""

from __future__ import annotations

import time

import pytest

from lamina.errors import InputError, ParseError
from lamina.source import documents, scalars


def alias_bomb(levels: int = 9, width: int = 9, *, one_line: bool = False) -> bytes:
    """The "billion laughs": each anchor repeats the one before width times."""
    entries = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        entries.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    if one_line:
        return ("{" + ", ".join(entries) + "}\n").encode()
    return ("\n".join(entries) + "\n").encode()


def nested_toml(depth: int) -> bytes:
    return ("a = " + "{ a = " * depth + "1" + " }" * depth + "\n").encode()


def nested_yaml(depth: int) -> bytes:
    return ("".join("  " * level + "a:\n" for level in range(depth)) + "  " * depth + "1\n").encode()


def nested_json(depth: int) -> bytes:
    return ('{"a": ' * depth + "1" + "}" * depth + "\n").encode()


DEPTH = "nested deeper than 64 levels ([limits] max_depth)"
LONG = b"9" * 5000
TOO_MANY_DIGITS = "an integer has more than 4300 digits"

MALFORMED = [
    # -- truncated files -------------------------------------------------------------------
    pytest.param(
        "agent.toml",
        b'[agent\nmodel = "x"\n',
        "agent.toml:1:7: invalid TOML: Expected ']' at the end of a table declaration",
        id="toml-truncated-table-header",
    ),
    pytest.param(
        "agent.toml",
        b'[agent]\nname = "support\n',
        "agent.toml:2:16: invalid TOML: Illegal character '\\n'",
        id="toml-truncated-string",
    ),
    pytest.param(
        "agent.toml",
        b'[agent]\ntools = ["search",\n',
        "agent.toml:3:1: invalid TOML: Invalid value",
        id="toml-truncated-array-names-the-end-of-the-file",
    ),
    pytest.param(
        "agent.toml",
        b'[agent]\nprompt = """You are\n',
        "agent.toml:3:1: invalid TOML: Unterminated string",
        id="toml-truncated-multi-line-string-names-the-end-of-the-file",
    ),
    pytest.param(
        "agent.yaml",
        b"agent:\n  tools: [search, crm\n",
        "agent.yaml:3:1: invalid YAML: expected ',' or ']', but got '<stream end>'",
        id="yaml-truncated-flow-sequence",
    ),
    pytest.param(
        "agent.yaml",
        b'agent:\n  name: "support\n',
        "agent.yaml:3:1: invalid YAML: found unexpected end of stream",
        id="yaml-truncated-string",
    ),
    pytest.param(
        "agent.json",
        b'{"agent": {"model": "x",\n',
        "agent.json:2:1: invalid JSON: Expecting property name enclosed in double quotes",
        id="json-truncated-object",
    ),
    pytest.param(
        "agent.json",
        b'{"agent": {"model": \n',
        "agent.json:2:1: invalid JSON: Expecting value",
        id="json-truncated-value",
    ),
    pytest.param(
        "agent.json",
        b"",
        "agent.json:1:1: invalid JSON: Expecting value",
        id="json-empty-file",
    ),
    pytest.param(
        "agent.json",
        b'{"agent": {"model": "x"}}\n{"b": 1}\n',
        "agent.json:2:1: invalid JSON: Extra data",
        id="json-two-values",
    ),
    pytest.param(
        "agent.json",
        b'{\n  "temperature": NaN\n}\n',
        "agent.json:2:18: invalid JSON: NaN is not valid JSON",
        id="json-nan-names-its-line",
    ),
    # -- duplicate keys --------------------------------------------------------------------
    pytest.param(
        "agent.toml",
        b'[agent]\nmodel = "a"\nmodel = "b"\n',
        "agent.toml:3:12: invalid TOML: Cannot overwrite a value",
        id="toml-duplicate-key",
    ),
    pytest.param(
        "agent.toml",
        b"[agent]\nx = 1\n[agent]\ny = 2\n",
        "agent.toml:3:7: invalid TOML: Cannot declare ('agent',) twice",
        id="toml-duplicate-table",
    ),
    pytest.param(
        "agent.toml",
        b"limits = { tokens = 1, tokens = 2 }\n",
        "agent.toml:1:34: invalid TOML: Duplicate inline table key 'tokens'",
        id="toml-duplicate-inline-table-key",
    ),
    pytest.param(
        "agent.yaml",
        b"agent:\n  model: a\n  model: b\n",
        'agent.yaml:3:3: invalid YAML: duplicate key "model"',
        id="yaml-duplicate-key",
    ),
    pytest.param(
        "agent.yaml",
        b"agent: {}\ntools: []\nagent: {}\n",
        'agent.yaml:3:1: invalid YAML: duplicate key "agent"',
        id="yaml-duplicate-top-level-key",
    ),
    pytest.param(
        "agent.json",
        b'{"agent": {"model": "a",\n  "model": "b"}}\n',
        "agent.json:2: duplicate key 'model'",
        id="json-duplicate-key",
    ),
    pytest.param(
        "agent.json",
        b'{"model": "a",\n "m\\u006fdel": "b"}\n',
        "agent.json:2: duplicate key 'model'",
        id="json-duplicate-key-spelled-with-an-escape",
    ),
    # -- encoding --------------------------------------------------------------------------
    pytest.param(
        "agent.toml",
        b'[agent]\nname = "caf\xe9"\n',
        "agent.toml:2:12: not valid UTF-8 (byte 0xe9)",
        id="toml-invalid-utf8",
    ),
    pytest.param(
        "agent.yaml",
        b"agent:\n  name: \xff\n",
        "agent.yaml:2:9: not valid UTF-8 (byte 0xff)",
        id="yaml-invalid-utf8",
    ),
    pytest.param(
        "agent.json",
        b'{"name": "\xc3\x28"}\n',
        "agent.json:1:11: not valid UTF-8 (byte 0xc3)",
        id="json-invalid-utf8",
    ),
    pytest.param(
        "agent.toml",
        b"\xef\xbb\xbf[agent]\n",
        "agent.toml:1:1: file starts with a UTF-8 byte-order mark; save it as UTF-8 without BOM",
        id="toml-bom",
    ),
    pytest.param(
        "agent.yaml",
        b"\xef\xbb\xbfagent: {}\n",
        "agent.yaml:1:1: file starts with a UTF-8 byte-order mark; save it as UTF-8 without BOM",
        id="yaml-bom",
    ),
    pytest.param(
        "agent.json",
        b'\xef\xbb\xbf{"agent": {}}\n',
        "agent.json:1:1: file starts with a UTF-8 byte-order mark; save it as UTF-8 without BOM",
        id="json-bom",
    ),
    # -- YAML hazards ----------------------------------------------------------------------
    pytest.param(
        "agent.yaml",
        b"agent:\n\tmodel: x\n",
        "agent.yaml:2:1: invalid YAML: found character '\\t' that cannot start any token",
        id="yaml-tab-indentation",
    ),
    pytest.param(
        "agent.yaml",
        b"agent:\n  model: x\n\tname: y\n",
        "agent.yaml:3:1: invalid YAML: found character '\\t' that cannot start any token",
        id="yaml-tab-indentation-after-spaces",
    ),
    pytest.param(
        "bomb.yaml",
        alias_bomb(one_line=True),
        "bomb.yaml:1: YAML expands to more than 200000 values (an alias bomb?) ([limits] max_nodes)",
        id="yaml-alias-bomb",
    ),
    pytest.param(
        "agent.yaml",
        b"agent: !!python/object:os.system\n  x: 1\n",
        "agent.yaml:1: custom YAML tag !!python/object:os.system is not allowed",
        id="yaml-tag-python-object",
    ),
    pytest.param(
        "agent.yaml",
        b'agent:\n  model: !!python/object/apply:os.system ["echo pwned"]\n',
        "agent.yaml:2: custom YAML tag !!python/object/apply:os.system is not allowed",
        id="yaml-tag-python-object-apply",
    ),
    pytest.param(
        "agent.yaml",
        b"tools:\n  - !!python/name:os.system\n",
        "agent.yaml:2: custom YAML tag !!python/name:os.system is not allowed",
        id="yaml-tag-python-name-in-a-sequence",
    ),
    pytest.param(
        "agent.yaml",
        b"!!python/object:os.system\nx: 1\n",
        "agent.yaml:1: custom YAML tag !!python/object:os.system is not allowed",
        id="yaml-tag-on-the-top-level",
    ),
    pytest.param(
        "agent.yaml",
        b"agent:\n  model: !vault secret/openai\n",
        "agent.yaml:2: custom YAML tag !vault is not allowed",
        id="yaml-local-tag",
    ),
    pytest.param(
        "agent.yaml",
        b"a: 1\n---\nb: 2\n",
        "agent.yaml:2: holds several YAML documents; lamina reads one per file",
        id="yaml-several-documents",
    ),
    pytest.param(
        "agent.yaml",
        b"---\na: 1\n...\n---\nb: 2\n",
        "agent.yaml:4: holds several YAML documents; lamina reads one per file",
        id="yaml-several-documents-with-markers",
    ),
    pytest.param(
        "agent.yaml",
        b"agent:\n  loop: &a [1, *a]\n",
        "agent.yaml:2: recursive YAML alias *a",
        id="yaml-alias-inside-its-own-anchor",
    ),
    pytest.param(
        "agent.yaml",
        b"agent: &a\n  x: 1\n  <<: *a\n",
        "agent.yaml:3: recursive YAML alias *a",
        id="yaml-merge-key-inside-its-own-anchor",
    ),
    pytest.param(
        "agent.yaml",
        b"agent: &a\n  tools:\n    - name: x\n      more:\n        - *a\n",
        "agent.yaml:5: recursive YAML alias *a",
        id="yaml-alias-deep-inside-its-own-anchor",
    ),
    # -- integers Python will not read -----------------------------------------------------
    pytest.param(
        "agent.toml",
        b"# " + LONG + b"\n[agent]\ntokens = [1, " + LONG + b"]\n",
        f"agent.toml:3: {TOO_MANY_DIGITS}",
        id="toml-long-integer-names-its-line-not-a-comment-before-it",
    ),
    pytest.param(
        "agent.json",
        b'{"note": "' + LONG + b'",\n "tokens": ' + LONG + b"}",
        f"agent.json:2: {TOO_MANY_DIGITS}",
        id="json-long-integer-names-its-line-not-a-string-before-it",
    ),
    pytest.param(
        "agent.yaml",
        b"agent:\n  note: '" + LONG + b"'\n  tokens: -" + LONG + b"\n",
        f"agent.yaml:3: {TOO_MANY_DIGITS}",
        id="yaml-long-integer-names-its-line-not-a-string-before-it",
    ),
    pytest.param(
        "agent.yaml",
        b"agent:\n  ? " + LONG + b"\n  : x\n",
        f"agent.yaml:2: {TOO_MANY_DIGITS}",
        id="yaml-long-integer-key",
    ),
    # -- shape -----------------------------------------------------------------------------
    pytest.param(
        "agent.yaml",
        b"- search\n- crm\n",
        "agent.yaml:1: the top level must be a mapping",
        id="yaml-top-level-sequence",
    ),
    pytest.param(
        "agent.yaml",
        b"just text\n",
        "agent.yaml:1: the top level must be a mapping",
        id="yaml-top-level-scalar",
    ),
    pytest.param(
        "agent.json",
        b'["search", "crm"]\n',
        "agent.json:1: the top level must be an object",
        id="json-top-level-array",
    ),
    pytest.param(
        "agent.json",
        b'"text"\n',
        "agent.json:1: the top level must be an object",
        id="json-top-level-string",
    ),
    pytest.param("deep.toml", nested_toml(70), f"deep.toml:1: {DEPTH}", id="toml-nested-too-deep"),
    pytest.param("deep.yaml", nested_yaml(70), f"deep.yaml:65: {DEPTH}", id="yaml-nested-too-deep"),
    pytest.param("deep.json", nested_json(70), f"deep.json:1: {DEPTH}", id="json-nested-too-deep"),
    pytest.param(
        "deep.toml",
        b"a = " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
        f"deep.toml:1: {DEPTH}",
        id="toml-nested-past-the-recursion-limit",
    ),
    pytest.param(
        "deep.yaml",
        b"a: " + b"[" * 1_200 + b"]" * 1_200 + b"\n",
        f"deep.yaml:1: {DEPTH}",
        id="yaml-nested-past-the-recursion-limit",
    ),
    pytest.param(
        "deep.json",
        b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
        f"deep.json:1: {DEPTH}",
        id="json-nested-past-the-recursion-limit",
    ),
]


@pytest.mark.parametrize(("path", "raw", "message"), MALFORMED)
def test_malformed_file(path: str, raw: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        documents.parse_document(path, raw)
    assert str(caught.value) == message
    assert caught.value.__cause__ is None  # the parser's own exception stays out of the message


def test_errors_are_input_errors_with_exit_code_2() -> None:
    with pytest.raises(InputError) as caught:
        documents.parse_document("agent.toml", b"[agent\n")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("limit", [1_000, 200_000])
def test_alias_bomb_fails_fast_and_bounded_by_the_node_limit(limit: int) -> None:
    # 9**12 (~280 billion) values if expanded: only the node budget can stop it in time
    bomb = alias_bomb(levels=12)
    started = time.monotonic()
    with pytest.raises(ParseError) as caught:
        documents.parse_document("bomb.yaml", bomb, scalars.Limits(max_nodes=limit))
    assert time.monotonic() - started < 5
    assert caught.value.message == (
        f"YAML expands to more than {limit} values (an alias bomb?) ([limits] max_nodes)"
    )
    assert caught.value.place is not None
    assert caught.value.place.file == "bomb.yaml"
    assert caught.value.place.line is not None


def test_aliases_within_the_node_limit_are_expanded() -> None:
    doc = documents.parse_document("ok.yaml", alias_bomb(levels=2, width=3))
    assert doc.data["a1"] == [["lol"] * 3] * 3


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        pytest.param("limit.toml", b"a = { b = { c = 1 } }\n", id="toml"),
        pytest.param("limit.yaml", b"a:\n  b:\n    c: 1\n", id="yaml"),
        pytest.param("limit.json", b'{"a": {"b": {"c": 1}}}', id="json"),
    ],
)
def test_nesting_limit_is_configurable_and_inclusive(path: str, raw: bytes) -> None:
    assert documents.parse_document(path, raw, scalars.Limits(max_depth=3)).data == {"a": {"b": {"c": 1}}}
    with pytest.raises(ParseError, match=r"nested deeper than 2 levels \(\[limits\] max_depth\)$"):
        documents.parse_document(path, raw, scalars.Limits(max_depth=2))


def test_aliases_to_anchors_read_before_are_expanded_and_anchors_may_be_reused() -> None:
    text = b"a: &x [1]\nb: [&x 2, *x]\nc: &y {k: 1}\nd: {<<: *y, l: *y}\n"
    assert documents.parse_document("ok.yaml", text).data == {
        "a": [1],
        "b": [2, 2],
        "c": {"k": 1},
        "d": {"k": 1, "l": {"k": 1}},
    }


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        pytest.param("ok.toml", b"n = " + b"9" * 4300 + b"\n", id="toml"),
        pytest.param("ok.json", b'{"n": ' + b"9" * 4300 + b"}", id="json"),
        pytest.param("ok.yaml", b"n: " + b"9" * 4300 + b"\n", id="yaml"),
    ],
)
def test_integers_up_to_the_digit_limit_are_read(path: str, raw: bytes) -> None:
    assert documents.parse_document(path, raw).data == {"n": int("9" * 4300)}


def test_a_single_yaml_document_with_markers_is_fine() -> None:
    assert documents.parse_document("one.yaml", b"---\na: 1\n...\n").data == {"a": 1}


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        pytest.param(b"version: !!str 1.10\n", "1.10", id="str"),
        pytest.param(b'version: !!int "2"\n', 2, id="int"),
        pytest.param(b'version: !!float "1.5"\n', 1.5, id="float"),
        pytest.param(b'version: !!bool "true"\n', True, id="bool"),
        pytest.param(b"version: !!map {x: 1}\n", {"x": 1}, id="map"),
        pytest.param(b"version: !!seq [1]\n", [1], id="seq"),
        pytest.param(b"version: !<tag:yaml.org,2002:str> 5\n", "5", id="verbatim-str"),
    ],
)
def test_standard_yaml_tags_are_allowed(raw: bytes, value: object) -> None:
    assert documents.parse_document("tags.yaml", raw).data == {"version": value}


def test_unknown_suffix_is_refused() -> None:
    with pytest.raises(ParseError) as caught:
        documents.parse_document("notes.ini", b"a = 1\n")
    assert str(caught.value) == "notes.ini: not a config file (expected .toml, .yaml, .yml or .json)"
