"""Parsed config files know the line of every key and the comment that explains it."""

from __future__ import annotations

import textwrap

import pytest

from lamina.core.paths import KeyPath
from lamina.errors import Place
from lamina.source import documents


def parse(path: str, text: str) -> documents.Document:
    return documents.parse_document(path, textwrap.dedent(text).lstrip("\n").encode())


# Line numbers are written next to each line on purpose: the tests below assert them.
TOML_TEXT = """\
title = "fleet"
                                                   # 2
[agent]
model.name = "gpt-4o"
model."quoted.key" = 1
limits = { tokens = 5, nested = { deep = true } }
                                                   # 7
[agent.memory.redis]
url = "redis://x"
                                                   # 10
[[tools]]
name = "search"
[tools.options]
retries = 3
                                                   # 15
[[tools]]
name = "crm"
[[tools.steps]]
run = "a"
[[tools.steps]]
run = "b"
                                                   # 22
[prompts]
system = \"\"\"
You are helpful. [not.a.table]
key = "not a key"
\"\"\"
after = 'x'
literal = '''
] [ = "
'''
topics = [
  "one",   # first
  # a comment inside the array
  "two",
  { name = "three" },
]
last = true
"""

TOML_LINES = [
    pytest.param(("title",), 1, id="top-level-key"),
    pytest.param(("agent",), 3, id="table-header"),
    pytest.param(("agent", "model"), 4, id="dotted-key-parent"),
    pytest.param(("agent", "model", "name"), 4, id="dotted-key"),
    pytest.param(("agent", "model", "quoted.key"), 5, id="dotted-key-quoted-part"),
    pytest.param(("agent", "limits"), 6, id="inline-table"),
    pytest.param(("agent", "limits", "tokens"), 6, id="inline-table-key"),
    pytest.param(("agent", "limits", "nested", "deep"), 6, id="nested-inline-table-key"),
    pytest.param(("agent", "memory"), 8, id="implicit-super-table-of-header"),
    pytest.param(("agent", "memory", "redis"), 8, id="dotted-table-header"),
    pytest.param(("agent", "memory", "redis", "url"), 9, id="key-under-dotted-header"),
    pytest.param(("tools",), 11, id="array-of-tables"),
    pytest.param(("tools", 0), 11, id="array-of-tables-first-entry"),
    pytest.param(("tools", 0, "name"), 12, id="array-of-tables-first-entry-key"),
    pytest.param(("tools", 0, "options"), 13, id="sub-table-of-array-entry"),
    pytest.param(("tools", 0, "options", "retries"), 14, id="key-in-sub-table-of-array-entry"),
    pytest.param(("tools", 1), 16, id="array-of-tables-second-entry"),
    pytest.param(("tools", 1, "name"), 17, id="array-of-tables-second-entry-key"),
    pytest.param(("tools", 1, "steps", 0), 18, id="nested-array-of-tables-first"),
    pytest.param(("tools", 1, "steps", 1), 20, id="nested-array-of-tables-second"),
    pytest.param(("tools", 1, "steps", 1, "run"), 21, id="nested-array-of-tables-key"),
    pytest.param(("prompts", "system"), 24, id="multi-line-basic-string"),
    pytest.param(("prompts", "after"), 28, id="key-after-multi-line-string"),
    pytest.param(("prompts", "literal"), 29, id="multi-line-literal-string"),
    pytest.param(("prompts", "topics"), 32, id="multi-line-array"),
    pytest.param(("prompts", "topics", 0), 33, id="multi-line-array-first-item"),
    pytest.param(("prompts", "topics", 1), 35, id="multi-line-array-item-after-comment"),
    pytest.param(("prompts", "topics", 2), 36, id="multi-line-array-inline-table-item"),
    pytest.param(("prompts", "topics", 2, "name"), 36, id="multi-line-array-inline-table-key"),
    pytest.param(("prompts", "last"), 38, id="key-after-multi-line-array"),
]


@pytest.mark.parametrize(("path", "line"), TOML_LINES)
def test_toml_key_lines(path: KeyPath, line: int) -> None:
    doc = documents.parse_document("agent.toml", TOML_TEXT.encode())
    assert doc.lines.get(path) == line


def test_toml_key_lines_do_not_change_the_values() -> None:
    doc = documents.parse_document("agent.toml", TOML_TEXT.encode())
    assert doc.data["agent"]["model"] == {"name": "gpt-4o", "quoted.key": 1}
    assert doc.data["prompts"]["system"] == 'You are helpful. [not.a.table]\nkey = "not a key"\n'
    assert doc.data["prompts"]["literal"] == '] [ = "\n'
    assert doc.data["prompts"]["topics"] == ["one", "two", {"name": "three"}]
    assert [tool["name"] for tool in doc.data["tools"]] == ["search", "crm"]
    assert "key" not in doc.data["prompts"]


def test_toml_key_lines_with_crlf_line_endings() -> None:
    text = 'a = 1\r\n# why\r\nb = """x\r\ny"""\r\nc = 3   # trailing\r\n'
    doc = documents.parse_document("crlf.toml", text.encode())
    assert doc.lines == {("a",): 1, ("b",): 3, ("c",): 5}
    assert doc.reason(3) == "why"
    assert doc.reason(5) == "trailing"


def test_toml_strings_that_look_like_syntax_do_not_shift_lines() -> None:
    text = (
        'a = "x \\" [y] # z"\n'  # an escaped quote, brackets and a hash inside a string
        'b = """q\\""" still\n'
        'inside"""\n'
        'c = """ends with quotes"""""\n'
        '["we]ird" . "k#y"]\n'
        "d = 2024-01-02T03:04:05Z\n"
    )
    doc = documents.parse_document("odd.toml", text.encode())
    assert doc.lines[("a",)] == 1
    assert doc.lines[("b",)] == 2
    assert doc.lines[("c",)] == 4
    assert doc.lines[("we]ird", "k#y")] == 5
    assert doc.lines[("we]ird", "k#y", "d")] == 6
    assert doc.data["we]ird"]["k#y"]["d"] == "2024-01-02T03:04:05+00:00"


YAML_TEXT = """\
# top of the file
agent:
  # why the model
  model: gpt   # the trailing comment
  name: "x # not a comment"
  prompt: |
    line one
    line two
  flow: {a: 1, b: [1, 2]}
tools:
  - name: search
    timeout: 5
  - name: crm
    url: x
  - plain
empty:
"quoted key": 1
"""

YAML_LINES = [
    pytest.param(("agent",), 2, id="mapping"),
    pytest.param(("agent", "model"), 4, id="nested-key"),
    pytest.param(("agent", "name"), 5, id="key-with-hash-in-string"),
    pytest.param(("agent", "prompt"), 6, id="block-scalar"),
    pytest.param(("agent", "flow"), 9, id="flow-mapping"),
    pytest.param(("agent", "flow", "b"), 9, id="flow-mapping-key"),
    pytest.param(("agent", "flow", "b", 1), 9, id="flow-sequence-item"),
    pytest.param(("tools",), 10, id="sequence"),
    pytest.param(("tools", 0), 11, id="sequence-first-item"),
    pytest.param(("tools", 0, "timeout"), 12, id="key-in-sequence-item"),
    pytest.param(("tools", 1), 13, id="sequence-second-item"),
    pytest.param(("tools", 1, "url"), 14, id="second-key-in-second-item"),
    pytest.param(("tools", 2), 15, id="scalar-item"),
    pytest.param(("empty",), 16, id="null-value"),
    pytest.param(("quoted key",), 17, id="quoted-key"),
]


@pytest.mark.parametrize(("path", "line"), YAML_LINES)
def test_yaml_key_lines(path: KeyPath, line: int) -> None:
    doc = documents.parse_document("agent.yaml", YAML_TEXT.encode())
    assert doc.lines.get(path) == line


def test_yaml_values_are_plain_and_null_stays_none() -> None:
    doc = documents.parse_document("agent.yaml", YAML_TEXT.encode())
    assert doc.data == {
        "agent": {
            "model": "gpt",
            "name": "x # not a comment",
            "prompt": "line one\nline two\n",
            "flow": {"a": 1, "b": [1, 2]},
        },
        "tools": [{"name": "search", "timeout": 5}, {"name": "crm", "url": "x"}, "plain"],
        "empty": None,
        "quoted key": 1,
    }
    assert type(doc.data["agent"]) is dict
    assert type(doc.data["tools"]) is list


JSON_TEXT = """\
{
  "a": {"b": 1, "c": [1,
     2, {"d": "x{\\"y\\"}"}]},
  "e\\u0066": "}",
  "g": -1.5e3, "h": null,
  "i": [],
  "j": {}
}
"""

JSON_LINES = [
    pytest.param(("a",), 2, id="object"),
    pytest.param(("a", "b"), 2, id="key-on-same-line"),
    pytest.param(("a", "c"), 2, id="array"),
    pytest.param(("a", "c", 0), 2, id="array-first-item"),
    pytest.param(("a", "c", 1), 3, id="array-item-on-next-line"),
    pytest.param(("a", "c", 2, "d"), 3, id="key-in-object-in-array"),
    pytest.param(("ef",), 4, id="escaped-key"),
    pytest.param(("g",), 5, id="number"),
    pytest.param(("h",), 5, id="second-key-on-line"),
    pytest.param(("i",), 6, id="empty-array"),
    pytest.param(("j",), 7, id="empty-object"),
]


@pytest.mark.parametrize(("path", "line"), JSON_LINES)
def test_json_key_lines(path: KeyPath, line: int) -> None:
    doc = documents.parse_document("agent.json", JSON_TEXT.encode())
    assert doc.lines.get(path) == line


def test_json_values() -> None:
    doc = documents.parse_document("agent.json", JSON_TEXT.encode())
    assert doc.data == {
        "a": {"b": 1, "c": [1, 2, {"d": 'x{"y"}'}]},
        "ef": "}",
        "g": -1500.0,
        "h": None,
        "i": [],
        "j": {},
    }


def test_line_of_falls_back_to_the_nearest_written_parent() -> None:
    doc = documents.parse_document("agent.toml", TOML_TEXT.encode())
    assert doc.line_of(("agent", "limits", "tokens")) == 6
    assert doc.line_of(("agent", "limits", "absent", "deeper")) == 6
    assert doc.line_of(("nowhere",)) is None
    assert doc.place(("tools", 1, "name")) == Place("agent.toml", 17)
    assert str(doc.place(("tools", 1, "name"))) == "agent.toml:17"
    assert str(doc.place()) == "agent.toml"


def test_empty_files_are_empty_tables() -> None:
    assert documents.parse_document("a.toml", b"").data == {}
    assert documents.parse_document("a.yaml", b"").data == {}
    assert documents.parse_document("a.yaml", b"# only a comment\n").data == {}
    assert documents.parse_document("a.yml", b"---\nx: 1\n").data == {"x": 1}


# -- reasons -------------------------------------------------------------------------------


REASONS = [
    pytest.param(
        "agent.toml",
        """
        [agent]
        model = "gpt-4o"   # the model the quality bar was measured on
        """,
        ("agent", "model"),
        "the model the quality bar was measured on",
        id="toml-trailing-comment",
    ),
    pytest.param(
        "agent.toml",
        """
        [agent]
        # EU data residency:
        # the model is served from an EU region
        provider = "azure-openai"
        """,
        ("agent", "provider"),
        "EU data residency: the model is served from an EU region",
        id="toml-comment-lines-directly-above",
    ),
    pytest.param(
        "agent.toml",
        """
        [agent]
        # the comment above loses
        model = "gpt-4o"   # the trailing comment wins
        """,
        ("agent", "model"),
        "the trailing comment wins",
        id="toml-trailing-comment-beats-comment-above",
    ),
    pytest.param(
        "agent.toml",
        """
        [agent]
        # a comment about the section, not about the key

        model = "gpt-4o"
        """,
        ("agent", "model"),
        None,
        id="toml-no-reason-after-a-blank-line",
    ),
    pytest.param(
        "agent.toml",
        """
        [agent]   # about the table
        model = "gpt-4o"
        """,
        ("agent", "model"),
        None,
        id="toml-comment-on-the-header-is-not-the-key-reason",
    ),
    pytest.param(
        "agent.toml",
        """
        # EU customer data lives in the EU CRM.
        [tools]
        "$merge_by" = "name"
        "$items" = [{ name = "crm" }]
        """,
        ("tools",),
        "EU customer data lives in the EU CRM.",
        id="toml-comment-above-a-table-header",
    ),
    pytest.param(
        "agent.toml",
        """
        [agent]
        model = "gpt-4o"
        """,
        ("agent", "model"),
        None,
        id="toml-no-comment",
    ),
    pytest.param(
        "agent.toml",
        """
        [memory]
        url = "redis://host/#fragment"
        """,
        ("memory", "url"),
        None,
        id="toml-hash-inside-a-string-is-not-a-comment",
    ),
    pytest.param(
        "agent.toml",
        """
        [memory]
        url = 'redis://host/ #0'   # the real reason
        """,
        ("memory", "url"),
        "the real reason",
        id="toml-comment-after-a-string-holding-a-hash",
    ),
    pytest.param(
        "agent.toml",
        """
        [memory]
        url = "a \\" # still inside"   # escaped quote then the reason
        """,
        ("memory", "url"),
        "escaped quote then the reason",
        id="toml-escaped-quote-does-not-end-the-string",
    ),
    pytest.param(
        "agent.toml",
        """
        [prompts]
        system = \"\"\"
        # Role
        You are helpful.
        # Rules\"\"\"
        after = 1
        """,
        ("prompts", "after"),
        None,
        id="toml-hash-line-inside-a-multi-line-string-is-not-a-comment",
    ),
    pytest.param(
        "agent.toml",
        """
        [prompts]
        system = '''
        # Role'''
        after = 1
        """,
        ("prompts", "after"),
        None,
        id="toml-hash-line-inside-a-multi-line-literal-string-is-not-a-comment",
    ),
    pytest.param(
        "agent.toml",
        """
        [prompts]
        system = '''it's # text, not a comment
        more text'''
        """,
        ("prompts", "system"),
        None,
        id="toml-hash-on-the-opening-line-of-a-multi-line-string-is-not-a-comment",
    ),
    pytest.param(
        "agent.toml",
        """
        [prompts]
        system = \"\"\"
        You are helpful.
        \"\"\"
        # the comment directly above still counts
        after = 1
        """,
        ("prompts", "after"),
        "the comment directly above still counts",
        id="toml-comment-after-a-multi-line-string-is-a-reason",
    ),
    pytest.param(
        "agent.toml",
        """
        [prompts]
        system = "a\u2028b"
        after = 1   # why after
        """,
        ("prompts", "after"),
        "why after",
        id="toml-line-separator-inside-a-string-does-not-shift-reasons",
    ),
    pytest.param(
        "agent.toml",
        """
        [tools]
        list = [
          "one",   # the first tool
          "two",
        ]
        """,
        ("tools", "list", 0),
        "the first tool",
        id="toml-trailing-comment-on-an-array-item",
    ),
    pytest.param(
        "auth.toml",
        """
        [auth]
        token = "test-token"   # lamina: allow-plaintext
        """,
        ("auth", "token"),
        None,
        id="toml-allow-plaintext-alone-is-no-reason",
    ),
    pytest.param(
        "auth.toml",
        """
        [auth]
        token = "test-token"   # lamina: allow-plaintext; a fixture for the eval suite
        """,
        ("auth", "token"),
        "a fixture for the eval suite",
        id="toml-allow-plaintext-is-stripped-from-the-reason",
    ),
    pytest.param(
        "auth.toml",
        """
        [auth]
        token = "test-token"   # a fixture for the eval suite - lamina: allow-plaintext
        """,
        ("auth", "token"),
        "a fixture for the eval suite",
        id="toml-allow-plaintext-after-the-reason",
    ),
    pytest.param(
        "auth.toml",
        """
        [auth]
        # the eval suite logs in with a fake token
        token = "test-token"   # lamina: allow-plaintext
        """,
        ("auth", "token"),
        "the eval suite logs in with a fake token",
        id="toml-allow-plaintext-trailing-falls-back-to-comment-above",
    ),
    pytest.param(
        "agent.yaml",
        """
        agent:
          model: gpt-4o   # the model the quality bar was measured on
        """,
        ("agent", "model"),
        "the model the quality bar was measured on",
        id="yaml-trailing-comment",
    ),
    pytest.param(
        "agent.yaml",
        """
        agent:
          # EU data residency:
          # the model is served from an EU region
          provider: azure-openai
        """,
        ("agent", "provider"),
        "EU data residency: the model is served from an EU region",
        id="yaml-comment-lines-directly-above",
    ),
    pytest.param(
        "agent.yaml",
        """
        agent:
          # about the section

          model: gpt-4o
        """,
        ("agent", "model"),
        None,
        id="yaml-no-reason-after-a-blank-line",
    ),
    pytest.param(
        "agent.yaml",
        """
        agent:
          name: "support # agent"
        """,
        ("agent", "name"),
        None,
        id="yaml-hash-inside-a-quoted-string-is-not-a-comment",
    ),
    pytest.param(
        "agent.yaml",
        """
        agent:
          name: support#agent
        """,
        ("agent", "name"),
        None,
        id="yaml-hash-without-space-is-not-a-comment",
    ),
    pytest.param(
        "agent.yaml",
        """
        agent:
          prompt: |
            You are helpful.
            # Rules
          model: gpt-4o
        """,
        ("agent", "model"),
        None,
        id="yaml-hash-line-inside-a-block-scalar-is-not-a-comment",
    ),
    pytest.param(
        "agent.yaml",
        """
        agent:
          prompt: >-
            # Rules
          model: gpt-4o
        """,
        ("agent", "model"),
        None,
        id="yaml-hash-line-inside-a-folded-scalar-is-not-a-comment",
    ),
    pytest.param(
        "agent.yaml",
        """
        agent:
          prompt: "You are helpful.
            # Rules"
          model: gpt-4o
        """,
        ("agent", "model"),
        None,
        id="yaml-hash-line-inside-a-multi-line-quoted-string-is-not-a-comment",
    ),
    pytest.param(
        "agent.yaml",
        """
        agent:
          prompt: |   # the prompt the evals were run with
            You are helpful.
        """,
        ("agent", "prompt"),
        "the prompt the evals were run with",
        id="yaml-comment-on-a-block-scalar-header-is-a-reason",
    ),
    pytest.param(
        "agent.yaml",
        """
        agent:
          prompt: |
            You are helpful.
        # the comment ends the block scalar and explains the model
          model: gpt-4o
        """,
        ("agent", "model"),
        "the comment ends the block scalar and explains the model",
        id="yaml-comment-after-a-block-scalar-is-a-reason",
    ),
    pytest.param(
        "auth.yaml",
        """
        auth:
          token: test-token   # lamina: allow-plaintext; a fixture
        """,
        ("auth", "token"),
        "a fixture",
        id="yaml-allow-plaintext-is-stripped-from-the-reason",
    ),
    pytest.param(
        "agent.json",
        """
        {
          "agent": {"model": "gpt-4o"}
        }
        """,
        ("agent", "model"),
        None,
        id="json-has-no-reasons",
    ),
]


@pytest.mark.parametrize(("path", "text", "key", "reason"), REASONS)
def test_reason(path: str, text: str, key: KeyPath, reason: str | None) -> None:
    doc = parse(path, text)
    line = doc.lines.get(key)
    assert line is not None, f"no line recorded for {key}"
    assert doc.reason(line) == reason


def test_reason_of_no_line_or_a_line_outside_the_file_is_none() -> None:
    doc = parse("agent.toml", 'model = "x"   # why\n')
    assert doc.reason(1) == "why"
    assert doc.reason(None) is None
    assert doc.reason(0) is None
    assert doc.reason(2) is None


ALLOWS_PLAINTEXT = [
    pytest.param('token = "t"   # lamina: allow-plaintext\n', True, id="trailing-marker"),
    pytest.param('token = "t"   # fixture; lamina: allow-plaintext\n', True, id="marker-after-reason"),
    pytest.param('token = "t"\n', False, id="no-comment"),
    pytest.param('token = "lamina: allow-plaintext"\n', False, id="marker-inside-the-string"),
    pytest.param('# lamina: allow-plaintext\ntoken = "t"\n', False, id="marker-on-the-line-above"),
]


@pytest.mark.parametrize(("text", "allowed"), ALLOWS_PLAINTEXT)
def test_allows_plaintext_reads_only_the_comment_on_the_line(text: str, allowed: bool) -> None:
    doc = parse("auth.toml", text)
    assert doc.allows_plaintext(doc.lines[("token",)]) is allowed
