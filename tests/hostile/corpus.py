"""The hostile-input corpus: small config repositories and requests, each with its expected outcome.

Every case is one row: an id, the files it writes over a small valid fleet (BASE), the CLI
arguments, the exit code SPEC asks for, and the text the one error line must contain (its
place first: ``file:line`` where there is one). A case where lamina does not yet do what
SPEC asks keeps SPEC's outcome and carries ``xfail(strict=True, reason="bug: ...")``.

The fleet sets ``[limits]`` small so the limit cases stay small and fast.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lamina.store.database import Database


@dataclass(frozen=True)
class Link:
    """A symlink; ``{outside}`` in the target is a folder next to the repository (not in it)."""

    target: str


@dataclass(frozen=True)
class Fifo:
    """A named pipe: reading it would block forever."""


Content = str | bytes | Link | Fifo
Files = dict[str, Content]
Setup = Callable[[Path], contextlib.AbstractContextManager[None]]


@dataclass(frozen=True)
class Case:
    """One hostile input and what SPEC says must happen.

    Attributes:
        files: written over BASE (same path replaces the BASE file).
        args: the command after ``lamina --repo DIR``.
        exit_code: 2 bad input, 1 a finding (validate), 3 an outside failure, 0 success.
        expected: for exit 2 and 3, a substring of the one stderr line after ``error: ``; for
            exit 1, a substring of stdout (stderr must be empty); for exit 0, unused.
        setup: prepares state around the run (a locked or corrupt database); held during it.
        git: commit the repository first (for cases about revisions).
        timeout: seconds the command may take.
    """

    files: Files
    args: tuple[str, ...]
    exit_code: int
    expected: str
    setup: Setup | None = None
    git: bool = False
    timeout: float = 20.0
    extra: dict[str, Any] = field(default_factory=dict)


LAMINA_TOML = """\
[fleet]
name = "demo"
promotion = ["dev", "prod"]

[limits]
max_file_bytes = 65536
max_depth = 16
max_nodes = 5000

[clusters.c1]
environment = "prod"
directory   = "out/c1"
"""

BASE: Files = {
    "lamina.toml": LAMINA_TOML,
    "base/agent.toml": '[agent]\nmodel = "small"\ntokens = 100\n',
    "base/prompts/system.txt": "Be nice.\n",
    "overlays/dev/agent-patch.toml": "[agent]\ntokens = 50   # cheap\n",
}

OUTSIDE_FILES = {"agent.toml": '[agent]\nmodel = "evil"\n'}
"""Written to ``{outside}``, a folder beside the repository that symlinks try to reach."""

PATCH = "overlays/prod/agent-patch"
BUILD = ("build", "prod")
TEN = "[" + ", ".join(str(n) for n in range(10)) + "]"


# -- builders for the bigger inputs ------------------------------------------------------------


def alias_bomb() -> str:
    """Billion laughs: nine levels of nine aliases each (387 million values when expanded)."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 9)]
    return "\n".join(lines) + "\n"


def merge_key_fanout() -> str:
    """Each map merges the one before (``<<``) and lists it twice: doubles at every level."""
    lines = ["a0: &a0 {k: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}"]
    lines += [f"a{n}: &a{n} {{<<: *a{n - 1}, l{n}: [*a{n - 1}, *a{n - 1}]}}" for n in range(1, 25)]
    return "\n".join(lines) + "\n"


def exponential_interpolation(levels: int = 40) -> str:
    """a_n = a_{n-1} twice: 2**40 characters if nothing stops it."""
    lines = ["[v]", 'a0 = "xx"']
    lines += [f'a{n} = "${{config.v.a{n - 1}}}${{config.v.a{n - 1}}}"' for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def many_keys_json(count: int) -> str:
    return "{\n" + ",\n".join(f'"k{n}": {n}' for n in range(count)) + "\n}\n"


def policy(rule: str, when: str | None = None) -> Files:
    lines = ["[[policy]]", 'name = "p"', f"rule = {rule!r}"]
    if when is not None:
        lines.append(f"when = {when!r}")
    lines.append('message = "p failed"')
    return {"policies/p.toml": "\n".join(lines) + "\n"}


def nested_macro(macro: str, body: str, depth: int = 6) -> str:
    """``[0..9].macro(x1, [0..9].macro(x2, ... body))``: 10**depth evaluations of body."""
    text = body
    for level in range(depth, 0, -1):
        text = f"{TEN}.{macro}(x{level}, {text})"
    return text


# -- state database setups -----------------------------------------------------------------------


def _state_db(root: Path) -> Path:
    folder = root / ".lamina"
    folder.mkdir(exist_ok=True)
    return folder / "state.db"


def _migrated_state_db(root: Path) -> Path:
    path = _state_db(root)
    database = Database(f"sqlite:///{path}")
    database.ensure_schema()
    database.dispose()
    return path


@contextlib.contextmanager
def garbage_database(root: Path) -> Iterator[None]:
    _state_db(root).write_bytes(b"this is not a database\n" * 500)
    yield


@contextlib.contextmanager
def malformed_database(root: Path) -> Iterator[None]:
    """A real lamina database whose pages after the first were overwritten."""
    path = _migrated_state_db(root)
    raw = bytearray(path.read_bytes())
    raw[4096:] = b"\xa5" * (len(raw) - 4096)
    path.write_bytes(bytes(raw))
    yield


@contextlib.contextmanager
def audit_detail_overwritten(root: Path) -> Iterator[None]:
    """Two real audit rows; the second's JSON detail column then overwritten with plain text."""
    from datetime import UTC, datetime

    from lamina.store import audit

    path = _migrated_state_db(root)
    database = Database(f"sqlite:///{path}")
    for number in (1, 2):
        database.run(
            lambda s, n=number: audit.append(
                s, actor="ann", action="freeze", at=datetime(2026, 12, n, tzinfo=UTC), detail={"n": n}
            )
        )
    database.dispose()
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE audit SET detail = 'edited by hand' WHERE seq = 2")
    yield


@contextlib.contextmanager
def newer_schema_database(root: Path) -> Iterator[None]:
    path = _migrated_state_db(root)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    yield


@contextlib.contextmanager
def directory_as_database(root: Path) -> Iterator[None]:
    _state_db(root).mkdir()
    yield


@contextlib.contextmanager
def write_locked_database(root: Path) -> Iterator[None]:
    """Another process is in the middle of a write transaction (WAL mode, as lamina leaves it)."""
    path = _migrated_state_db(root)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


@contextlib.contextmanager
def exclusively_locked_database(root: Path) -> Iterator[None]:
    """Another process holds an exclusive lock that shuts readers out too (rollback journal)."""
    path = _migrated_state_db(root)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


# -- the table -----------------------------------------------------------------------------------


def case(
    case_id: str,
    files: Files,
    args: tuple[str, ...],
    exit_code: int,
    expected: str,
    *,
    bug: str | None = None,
    slow: bool = False,
    setup: Setup | None = None,
    git: bool = False,
    timeout: float = 20.0,
) -> Any:
    marks: list[Any] = []
    if bug is not None:
        marks.append(pytest.mark.xfail(strict=True, reason=f"bug: {bug}"))
    if slow:
        marks.append(pytest.mark.slow)
    return pytest.param(
        Case(files, args, exit_code, expected, setup=setup, git=git, timeout=timeout),
        id=case_id,
        marks=marks,
    )


DEPTH = "nested deeper than 16 levels ([limits] max_depth)"
ESCAPE = "resolves outside the repository (symlink escape)"
NOT_DNS = "is not a DNS-1123 label"
TOO_COSTLY = "evaluation stopped after 50000 steps; the expression costs too much"
HUGE_INT = "9" * 5000

CASES = [
    # -- malformed TOML, YAML, JSON --------------------------------------------------------------
    case(
        "toml-truncated",
        {f"{PATCH}.toml": '[agent]\nmodel = "big'},
        BUILD,
        2,
        f"{PATCH}.toml:2:13: invalid TOML: Unterminated string",
    ),
    case(
        "yaml-truncated",
        {f"{PATCH}.yaml": 'agent:\n  model: "big\n'},
        BUILD,
        2,
        f"{PATCH}.yaml:3:1: invalid YAML: found unexpected end of stream",
    ),
    case(
        "json-truncated",
        {f"{PATCH}.json": '{"agent": {"model": "big"'},
        BUILD,
        2,
        f"{PATCH}.json:1:26: invalid JSON: Expecting ',' delimiter",
    ),
    case(
        "lamina-toml-invalid-utf8",
        {"lamina.toml": LAMINA_TOML.encode() + b'\n[x]\nname = "\xc0\xaf"\n'},
        ("envs",),
        2,
        "lamina.toml:15:9: not valid UTF-8 (byte 0xc0)",
    ),
    case(
        "yaml-invalid-utf8",
        {f"{PATCH}.yaml": b"agent:\n  model: \xc3\x28\n"},
        BUILD,
        2,
        f"{PATCH}.yaml:2:10: not valid UTF-8 (byte 0xc3)",
    ),
    case(
        "json-invalid-utf8",
        {f"{PATCH}.json": b'{"agent": {"model": "\xff"}}'},
        BUILD,
        2,
        f"{PATCH}.json:1:22: not valid UTF-8 (byte 0xff)",
    ),
    case(
        "toml-in-utf16",
        {f"{PATCH}.toml": "[agent]\nmodel = 'x'\n".encode("utf-16")},
        BUILD,
        2,
        f"{PATCH}.toml:1:1: not valid UTF-8 (byte 0xff)",
    ),
    case(
        "yaml-byte-order-mark",
        {f"{PATCH}.yaml": b"\xef\xbb\xbfagent:\n  model: big\n"},
        BUILD,
        2,
        f"{PATCH}.yaml:1:1: file starts with a UTF-8 byte-order mark",
    ),
    case(
        "json-byte-order-mark",
        {f"{PATCH}.json": b'\xef\xbb\xbf{"agent": {"model": "big"}}'},
        BUILD,
        2,
        f"{PATCH}.json:1:1: file starts with a UTF-8 byte-order mark",
    ),
    case(
        "lock-byte-order-mark",
        {"lamina.lock": b"\xef\xbb\xbf[environments]\n"},
        ("envs",),
        2,
        "lamina.lock:1:1: file starts with a UTF-8 byte-order mark",
    ),
    case(
        "yaml-tab-indentation",
        {f"{PATCH}.yaml": "agent:\n\tmodel: big\n"},
        BUILD,
        2,
        f"{PATCH}.yaml:2:1: invalid YAML: found character '\\t' that cannot start any token",
    ),
    case(
        "json-raw-tab-in-string",
        {f"{PATCH}.json": '{"agent": {"model": "a\tb"}}'},
        BUILD,
        2,
        f"{PATCH}.json:1:23: invalid JSON: Invalid control character",
    ),
    case(
        "toml-nul-byte",
        {f"{PATCH}.toml": '[agent]\nmodel = "a\x00b"\n'},
        BUILD,
        2,
        f"{PATCH}.toml:2:11: invalid TOML: Illegal character '\\x00'",
    ),
    case(
        "toml-carriage-return-line-ends",
        {f"{PATCH}.toml": '[agent]\rmodel = "x"\r'},
        BUILD,
        2,
        f"{PATCH}.toml:1:8: invalid TOML: Expected newline or end of document after a statement",
    ),
    case(
        "lamina-toml-duplicate-table",
        {"lamina.toml": LAMINA_TOML + '\n[clusters.c1]\nenvironment = "dev"\n'},
        ("envs",),
        2,
        "lamina.toml:14:13: invalid TOML: Cannot declare ('clusters', 'c1') twice",
    ),
    case(
        "json-duplicate-table",
        {f"{PATCH}.json": '{"agent": {"model": "a"},\n "agent": {"tokens": 2}}'},
        BUILD,
        2,
        f"{PATCH}.json:2: duplicate key 'agent'",
    ),
    case(
        "yaml-duplicate-merge-key",
        {f"{PATCH}.yaml": "d: &d {model: x}\nagent:\n  <<: *d\n  <<: *d\n"},
        BUILD,
        2,
        f'{PATCH}.yaml:4:3: invalid YAML: found duplicate merge key "<<"',
    ),
    case(
        "json-nan",
        {f"{PATCH}.json": '{"agent": {"tokens": NaN}}'},
        BUILD,
        2,
        f"{PATCH}.json:1:22: invalid JSON: NaN is not valid JSON",
    ),
    case(
        "json-top-level-array",
        {f"{PATCH}.json": "[1, 2]"},
        BUILD,
        2,
        f"{PATCH}.json:1: the top level must be an object",
    ),
    case(
        "toml-integer-of-5000-digits",
        {f"{PATCH}.toml": f"[agent]\ntokens = {HUGE_INT}\n"},
        BUILD,
        2,
        f"{PATCH}.toml:2: an integer has more than 4300 digits",
    ),
    case(
        "json-integer-of-5000-digits",
        {f"{PATCH}.json": f'{{\n"agent": {{"tokens": {HUGE_INT}}}}}'},
        BUILD,
        2,
        f"{PATCH}.json:2: an integer has more than 4300 digits",
    ),
    case(
        "yaml-integer-of-5000-digits",
        {f"{PATCH}.yaml": f"agent:\n  tokens: {HUGE_INT}\n"},
        BUILD,
        2,
        f"{PATCH}.yaml:2: an integer has more than 4300 digits",
    ),
    case(
        "json-lone-surrogate-escape",
        {f"{PATCH}.json": '{"agent": {\n"model": "\\ud800"}}'},
        BUILD,
        2,
        f"{PATCH}.json:2",
    ),
    case(
        "yaml-lone-surrogate-escape",
        {f"{PATCH}.yaml": 'agent:\n  model: "\\ud83d"\n'},
        BUILD,
        2,
        f"{PATCH}.yaml:2",
    ),
    case(
        "toml-surrogate-escape",
        {f"{PATCH}.toml": '[agent]\nmodel = "\\ud800"\n'},
        BUILD,
        2,
        f"{PATCH}.toml:2:16: invalid TOML: Escaped character is not a Unicode scalar value",
    ),
    # -- hostile YAML ----------------------------------------------------------------------------
    case(
        "yaml-alias-bomb",
        {f"{PATCH}.yaml": alias_bomb()},
        BUILD,
        2,
        f"{PATCH}.yaml:1: YAML expands to more than 5000 values (an alias bomb?) ([limits] max_nodes)",
    ),
    case(
        "yaml-merge-key-fanout",
        {f"{PATCH}.yaml": merge_key_fanout()},
        BUILD,
        2,
        f"{PATCH}.yaml:1: YAML expands to more than 5000 values (an alias bomb?) ([limits] max_nodes)",
    ),
    case(
        "yaml-merge-key-of-a-scalar",
        {f"{PATCH}.yaml": "agent:\n  <<: 5\n"},
        BUILD,
        2,
        f"{PATCH}.yaml:2:7: invalid YAML: expected a mapping or list of mappings for merging",
    ),
    case(
        "yaml-merge-key-of-python-object",
        {f"{PATCH}.yaml": 'agent:\n  <<: !!python/object/apply:os.system ["touch pwned"]\n'},
        BUILD,
        2,
        f"{PATCH}.yaml:2:",
    ),
    case(
        "yaml-python-object-apply",
        {f"{PATCH}.yaml": 'agent:\n  model: !!python/object/apply:os.system ["touch pwned"]\n'},
        BUILD,
        2,
        f"{PATCH}.yaml:2: custom YAML tag !!python/object/apply:os.system is not allowed",
    ),
    case(
        "yaml-python-name",
        {f"{PATCH}.yaml": "agent: !!python/name:os.system\n"},
        BUILD,
        2,
        f"{PATCH}.yaml:1: custom YAML tag !!python/name:os.system is not allowed",
    ),
    case(
        "yaml-tag-directive",
        {f"{PATCH}.yaml": "%TAG !e! tag:evil.example,2000:\n---\nagent: !e!x 1\n"},
        BUILD,
        2,
        f"{PATCH}.yaml:3: custom YAML tag tag:evil.example,2000:x is not allowed",
    ),
    case(
        "yaml-binary-value",
        {f"{PATCH}.yaml": "agent: !!binary aGVsbG8=\n"},
        BUILD,
        2,
        f"{PATCH}.yaml:1: unsupported YAML value of type bytes",
    ),
    case(
        "yaml-sequence-key",
        {f"{PATCH}.yaml": "? [a, b]\n: 1\n"},
        BUILD,
        2,
        f"{PATCH}.yaml:1: keys must be strings",
    ),
    case(
        "yaml-recursive-alias",
        {f"{PATCH}.yaml": "agent:\n  loop: &a [1, *a]\n"},
        BUILD,
        2,
        f"{PATCH}.yaml:2: recursive YAML alias *a",
    ),
    case(
        "yaml-recursive-merge-key",
        {f"{PATCH}.yaml": "agent: &a\n  x: 1\n  <<: *a\n"},
        BUILD,
        2,
        f"{PATCH}.yaml:3: recursive YAML alias *a",
    ),
    case(
        "yaml-anchor-reused",
        {f"{PATCH}.yaml": "a: &x [1]\nagent:\n  model: &x big\n  other: *x\n"},
        BUILD,
        0,
        "",
    ),
    # -- limits -----------------------------------------------------------------------------------
    case(
        "file-over-max-file-bytes",
        {f"{PATCH}.toml": "# " + "x" * 70_000 + "\n"},
        BUILD,
        2,
        f"{PATCH}.toml: file is 70003 bytes, over the limit of 65536 ([limits] max_file_bytes)",
    ),
    case(
        "lamina-toml-over-the-default-size",
        {"lamina.toml": LAMINA_TOML + "#" + "x" * 4_200_000 + "\n"},
        ("envs",),
        2,
        "lamina.toml: file is 4200176 bytes, over the limit of 4194304",
    ),
    case(
        "toml-tables-deeper-than-max-depth",
        {f"{PATCH}.toml": "[" + ".".join("a" * 40) + "]\nx = 1\n"},
        BUILD,
        2,
        f"{PATCH}.toml:1: {DEPTH}",
    ),
    case(
        "json-arrays-30000-deep",
        {f"{PATCH}.json": '{"a": ' + "[" * 30_000 + "]" * 30_000 + "}"},
        BUILD,
        2,
        f"{PATCH}.json:1: {DEPTH}",
    ),
    case(
        "yaml-deeper-than-max-depth",
        {f"{PATCH}.yaml": "a: " + "[" * 40 + "1" + "]" * 40 + "\n"},
        BUILD,
        2,
        f"{PATCH}.yaml:1: {DEPTH}",
    ),
    case(
        "json-more-keys-than-max-nodes",
        {f"{PATCH}.json": '{"a": [' + ", ".join(["0"] * 6000) + "]}"},
        BUILD,
        2,
        f"{PATCH}.json:1: more than 5000 values in one file ([limits] max_nodes)",
    ),
    case(
        "json-300000-keys-under-default-limits",
        {
            "lamina.toml": LAMINA_TOML.replace("max_file_bytes = 65536", "max_file_bytes = 8000000").replace(
                "max_nodes = 5000", "max_nodes = 200000"
            ),
            f"{PATCH}.json": many_keys_json(300_000),
        },
        BUILD,
        2,
        f"{PATCH}.json:1: more than 200000 values in one file ([limits] max_nodes)",
    ),
    case(
        "limits-not-a-number",
        {"lamina.toml": LAMINA_TOML.replace("max_depth = 16", 'max_depth = "deep"')},
        BUILD,
        2,
        "lamina.toml:7: [limits] max_depth must be a positive integer",
    ),
    # -- interpolation ----------------------------------------------------------------------------
    case(
        "interpolation-doubling-40-times",
        {f"{PATCH}.toml": exponential_interpolation()},
        BUILD,
        2,
        f"{PATCH}.toml:21: v.a19: interpolation expands past 1000000 characters",
    ),
    case(
        "interpolation-self-reference",
        {f"{PATCH}.toml": '[agent]\nmodel = "${config.agent.model}"\n'},
        BUILD,
        2,
        f"{PATCH}.toml:2: reference cycle: config.agent.model -> config.agent.model",
    ),
    case(
        "interpolation-three-cycle",
        {f"{PATCH}.toml": '[v]\na = "${config.v.b}"\nb = "${config.v.c}"\nc = "x${config.v.a}"\n'},
        BUILD,
        2,
        f"{PATCH}.toml:2: reference cycle: config.v.a -> config.v.b -> config.v.c -> config.v.a",
    ),
    # -- paths: file references, symlinks, devices, pipes ------------------------------------------
    case(
        "file-reference-dot-dot",
        {f"{PATCH}.toml": '[agent]\nprompt = { file = "../../../x" }\n'},
        BUILD,
        2,
        f"{PATCH}.toml:2: agent.prompt: file reference: path 'overlays/prod/../../../x' leaves",
    ),
    case(
        "file-reference-dev-zero",
        {f"{PATCH}.toml": '[agent]\nprompt = { file = "/dev/zero" }\n'},
        BUILD,
        2,
        f"{PATCH}.toml:2: agent.prompt: file reference: path '/dev/zero' is absolute",
    ),
    case(
        "file-reference-nul",
        {f"{PATCH}.toml": '[agent]\nprompt = { file = "a\\u0000b" }\n'},
        BUILD,
        2,
        f"{PATCH}.toml:2: agent.prompt: file reference: path 'overlays/prod/a\\x00b' contains a NUL",
    ),
    case(
        "file-reference-symlink-to-dev-zero",
        {
            "overlays/prod/zero.txt": Link("/dev/zero"),
            f"{PATCH}.toml": '[agent]\nprompt = { file = "zero.txt" }\n',
        },
        BUILD,
        2,
        f"{PATCH}.toml:2: agent.prompt: file reference: overlays/prod/zero.txt {ESCAPE}",
    ),
    case(
        "file-reference-through-symlinked-folder",
        {
            "overlays/prod/ext": Link("{outside}"),
            f"{PATCH}.toml": '[agent]\nprompt = { file = "ext/agent.toml" }\n',
        },
        BUILD,
        2,
        f"{PATCH}.toml:2: agent.prompt: file reference: overlays/prod/ext/agent.toml {ESCAPE}",
    ),
    case(
        "file-reference-to-a-named-pipe",
        {"overlays/prod/pipe.txt": Fifo(), f"{PATCH}.toml": '[agent]\nprompt = { file = "pipe.txt" }\n'},
        BUILD,
        2,
        f"{PATCH}.toml:2: agent.prompt: file reference: overlays/prod/pipe.txt: not a regular file",
    ),
    case(
        "config-file-is-a-named-pipe",
        {f"{PATCH}.toml": Fifo()},
        BUILD,
        2,
        f"{PATCH}.toml: not a regular file",
    ),
    case(
        "layer-file-symlinked-out",
        {"base/evil.toml": Link("{outside}/agent.toml")},
        BUILD,
        2,
        f"base/evil.toml {ESCAPE}",
    ),
    case(
        "cluster-layer-symlinked-to-dev-zero",
        {"clusters/c1.toml": Link("/dev/zero")},
        ("build", "prod/c1"),
        2,
        f"clusters/c1.toml {ESCAPE}",
    ),
    case(
        "layer-files-in-a-symlink-loop",
        {"overlays/prod/a.toml": Link("b.toml"), "overlays/prod/b.toml": Link("a.toml")},
        BUILD,
        2,
        "overlays/prod/a.toml: a symlink loop (too many levels of symbolic links)",
    ),
    case(
        "overlay-folder-symlinked-out",
        {"overlays/prod": Link("{outside}")},
        BUILD,
        2,
        f"overlays/prod {ESCAPE}",
    ),
    case(
        "lamina-toml-symlinked-to-dev-zero",
        {"lamina.toml": Link("/dev/zero")},
        ("envs",),
        2,
        f"lamina.toml {ESCAPE}",
    ),
    # -- names that are paths --------------------------------------------------------------------
    case(
        "environment-named-dot-dot-slash",
        {"lamina.toml": LAMINA_TOML.replace('["dev", "prod"]', '["dev", "../x"]')},
        ("envs",),
        2,
        f"lamina.toml:3: environment name '../x' {NOT_DNS}",
    ),
    case(
        "environment-named-with-a-slash",
        {"lamina.toml": LAMINA_TOML + '\n[environments."a/b"]\n'},
        ("envs",),
        2,
        f"lamina.toml:14: environment name 'a/b' {NOT_DNS}",
    ),
    case(
        "environment-named-with-nul",
        {"lamina.toml": LAMINA_TOML + '\n[environments."a\\u0000b"]\n'},
        ("envs",),
        2,
        f"lamina.toml:14: environment name 'a\\x00b' {NOT_DNS}",
    ),
    case(
        "environment-named-with-newline",
        {"lamina.toml": LAMINA_TOML + '\n[environments."a\\nb"]\n'},
        ("envs",),
        2,
        f"lamina.toml:14: environment name 'a\\nb' {NOT_DNS}",
    ),
    case(
        "cluster-named-dot-dot",
        {"lamina.toml": LAMINA_TOML + '\n[clusters."../../etc"]\nenvironment = "dev"\ndirectory = "x"\n'},
        ("envs",),
        2,
        f"lamina.toml:14: cluster name '../../etc' {NOT_DNS}",
    ),
    case(
        "cluster-directory-outside",
        {"lamina.toml": LAMINA_TOML + '\n[clusters.c2]\nenvironment = "dev"\ndirectory = "../evil"\n'},
        ("render",),
        2,
        "lamina.toml:16: directory '../evil' must be a relative path inside the repository",
    ),
    case("target-dot-dot", {}, ("build", "../x"), 2, "lamina.toml: unknown environment '..'"),
    case(
        "target-with-path-segments",
        {},
        ("build", "prod/../../etc"),
        2,
        "target 'prod/../../etc' must be written ENV, ENV/CLUSTER or ENV/CLUSTER@REV",
    ),
    case("target-with-newline", {}, ("build", "prod\nx"), 2, "lamina.toml: unknown environment 'prod\\nx'"),
    case(
        "validate-environment-a-slash-b", {}, ("validate", "a/b"), 2, "lamina.toml: unknown environment 'a/b'"
    ),
    case("render-print-dot-dot", {}, ("render", "../c1", "--print"), 2, "unknown environment '..'"),
    # -- CEL that never finishes or allocates without bound ------------------------------------------
    case("cel-six-nested-all", policy(nested_macro("all", "true")), ("validate",), 1, TOO_COSTLY),
    case(
        "cel-six-nested-map",
        policy(f"size({nested_macro('map', repr('x' * 64))}) > 0"),
        ("validate",),
        1,
        TOO_COSTLY,
    ),
    case(
        "cel-list-concatenation-in-map",
        policy(f"size({TEN}.map(a, {TEN}.map(b, {' + '.join([TEN] * 8)}))) > 0"),
        ("validate",),
        1,
        TOO_COSTLY,
    ),
    case(
        "cel-costly-when",
        policy("true", when=nested_macro("exists", "false")),
        ("validate",),
        1,
        f"the when condition of policy 'p' (policies/p.toml:1) cannot be evaluated: {TOO_COSTLY}",
    ),
    case(
        "cel-string-times-int",
        policy("'x' * 1000000000 == ''"),
        ("validate",),
        1,
        "cannot be evaluated: no operator for string and int",
    ),
    case(
        "cel-900-parentheses",
        policy("(" * 900 + "true" + ")" * 900),
        ("validate",),
        1,
        "cannot be evaluated: the expression nests too deeply to evaluate",
    ),
    case(
        "cel-over-2000-characters",
        policy(" && ".join(["true"] * 600)),
        ("validate",),
        2,
        "policies/p.toml:1: policy 'p': rule: the expression is 4796 characters long",
    ),
    case(
        "cel-catastrophic-regex",
        policy("'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'.matches('^(a+)+$')"),
        ("validate",),
        1,
        "p failed (policy 'p', policies/p.toml:1)",
    ),
    case(
        "cel-regex-rejected-by-re2",
        policy("'aa'.matches('(a)\\\\1')"),
        ("validate",),
        1,
        "cannot be evaluated: match error: invalid escape sequence: \\1",
    ),
    # -- lamina.lock edited by hand ------------------------------------------------------------------
    case(
        "lock-not-toml",
        {"lamina.lock": "this is = not [ toml\n"},
        ("envs",),
        2,
        "lamina.lock:1:6: invalid TOML: Expected '=' after a key in a key/value pair",
    ),
    case(
        "lock-binary-garbage",
        {"lamina.lock": b"\x00\x01\x02garbage\xff"},
        ("envs",),
        2,
        "lamina.lock:1:11: not valid UTF-8 (byte 0xff)",
    ),
    case(
        "lock-environments-an-array",
        {"lamina.lock": "environments = [1, 2]\n"},
        ("envs",),
        2,
        "lamina.lock:1: [environments] must be a table",
    ),
    case(
        "lock-pin-a-number",
        {"lamina.lock": "[environments]\nprod = 5\n"},
        ("envs",),
        2,
        "lamina.lock:2: [environments.prod] must be a table",
    ),
    case(
        "lock-revision-shell-text",
        {"lamina.lock": '[environments.prod]\nrevision = "; rm -rf /"\n'},
        BUILD,
        2,
        "lamina.lock:2: revision of 'prod' must be a full commit id",
    ),
    case(
        "lock-revision-git-option",
        {"lamina.lock": '[environments.prod]\nrevision = "--output=pwned"\n'},
        BUILD,
        2,
        "lamina.lock:2: revision of 'prod' must be a full commit id",
    ),
    case(
        "lock-revision-no-such-commit",
        {"lamina.lock": '[environments.prod]\nrevision = "' + "ab" * 20 + '"\n'},
        BUILD,
        2,
        "lamina.lock:2: pin of 'prod' names revision abababababab which git does not have",
        git=True,
    ),
    # -- the state database, through `lamina audit` ------------------------------------------------
    case(
        "state-db-garbage",
        {},
        ("audit",),
        2,
        "state.db is corrupt: file is not a database",
        setup=garbage_database,
    ),
    case(
        "state-db-malformed-pages",
        {},
        ("audit", "--verify"),
        2,
        "state.db is corrupt: database disk image is malformed",
        setup=malformed_database,
    ),
    case(
        "audit-row-detail-overwritten-with-text",
        {},
        ("audit", "--verify"),
        1,
        "audit chain broken at row 2: its detail is not JSON (the row was overwritten)",
        setup=audit_detail_overwritten,
    ),
    case(
        "state-db-newer-schema",
        {},
        ("audit",),
        2,
        "has schema version 9999, newer than this lamina knows",
        setup=newer_schema_database,
    ),
    case(
        "state-db-is-a-folder",
        {},
        ("audit",),
        3,
        "unavailable: unable to open database file",
        setup=directory_as_database,
    ),
    case(
        "state-db-locked-against-readers",
        {},
        ("audit",),
        3,
        "unavailable: database is locked",
        setup=exclusively_locked_database,
        slow=True,
        timeout=45,
    ),
    case(
        "state-db-read-while-another-writes",
        {},
        ("audit",),
        0,
        "",
        setup=write_locked_database,
        slow=True,
    ),
    # -- nothing half-written ------------------------------------------------------------------------
    case(
        "render-with-one-bad-cluster-writes-nothing",
        {
            "lamina.toml": LAMINA_TOML + '\n[clusters.c2]\nenvironment = "prod"\ndirectory = "out/c2"\n',
            "clusters/c2.toml": "[agent\n",
        },
        ("render",),
        2,
        "clusters/c2.toml:1:7: invalid TOML",
    ),
]
