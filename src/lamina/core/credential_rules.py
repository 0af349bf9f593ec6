"""Where credentials sit in a text: the one detector every check and every mask uses.

Two rule sets:

- gitleaks' published rules (``credential_rules.json``, ported by
  ``scripts/port_gitleaks_rules.py`` with its attribution): a regular expression per
  credential format (Google ``AIza...`` keys, Hugging Face ``hf_...`` and GitLab ``glpat-...``
  tokens, JWTs, some 200 more), run with RE2 as written, each only when one of its keywords
  is in the text, with its entropy floor and allowlists;
- lamina's own few: looser forms of the commonest keys (``sk-...``, ``AKIA...``,
  ``ghp_...``, ``xoxb-...``, PEM blocks) and a password inside a URL
  (``postgresql://admin:hunter2@db/x``), which gitleaks leaves to context rules.

:func:`find` gives the spans of the secrets themselves (a rule's secret group, not its
context), so a mask hides exactly the credential and leaves the rest of a prompt readable.
No function here returns or prints a secret's value.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

MASK = "…(masked)"


class Finding(msgspec.Struct, frozen=True):
    """One credential in a text: the span of the secret and what may be shown of it."""

    rule: str
    what: str  # "looks like an OpenAI-style API key", "matches the gitleaks rule gcp-api-key"
    start: int
    end: int
    prefix: str  # the format's public prefix ("AIza"), "" when it has none

    @property
    def masked(self) -> str:
        """How this credential is shown: its public prefix at most."""
        return f"{self.prefix}{MASK}" if self.prefix else "(masked)"


class _Pattern:
    """A regular expression compiled on first use: most texts hold none of the keywords."""

    def __init__(self, source: str, flags: int = 0) -> None:
        self.source, self.flags = source, flags
        self._compiled: re.Pattern[str] | None = None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        if self._compiled is None:
            self._compiled = re.compile(self.source, self.flags)
        return self._compiled.finditer(text)


class Shape(msgspec.Struct, frozen=True):
    """One of lamina's own credential formats."""

    name: str
    prefix: str
    pattern: _Pattern
    keyword: str  # a text without it cannot match (the search is skipped)
    group: int = 0


SHAPES = (
    Shape("an OpenAI-style API key", "sk-", _Pattern(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}"), "sk-"),
    Shape("an AWS access key id", "AKIA", _Pattern(r"(?<![A-Z0-9])AKIA[0-9A-Z]{16}(?![0-9A-Z])"), "AKIA"),
    Shape(
        "a GitHub token",
        "gh",
        _Pattern(r"(?<![A-Za-z0-9])(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}"),
        "_",
    ),
    Shape("a Slack token", "xox", _Pattern(r"(?<![A-Za-z0-9])xox[bp]-[A-Za-z0-9-]{10,}"), "xox"),
    # a PEM block runs to its END line (or to the end of the text, when cut short)
    Shape(
        "a PEM block",
        "-----BEGIN",
        _Pattern(r"-----BEGIN [A-Z0-9 ]+-----(?:.*?-----END [A-Z0-9 ]+-----|.*)", re.DOTALL),
        "-----BEGIN",
    ),
    # scheme://user:password@host; a ${VAR} or $VAR placeholder is no password
    Shape(
        "a password inside a URL",
        "",
        _Pattern(
            r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s]*:"
            r"(?!\$\{[^}/@\s]*\}@|\$[A-Za-z_]+@|…\(masked\)@)([^/@\s]+)@"
        ),
        "://",
        group=1,
    ),
)


class _Allow(msgspec.Struct, frozen=True):
    target: str  # "secret", "match" or "line"
    sources: tuple[str, ...]  # regexes, compiled when a rule first matches
    stopwords: tuple[str, ...]

    def allows(self, secret: str, match: str, line: str) -> bool:
        text = {"secret": secret, "match": match, "line": line}[self.target]
        if any(pattern.search(text) for pattern in _compiled(self.sources)):
            return True
        lowered = secret.lower()
        return any(word in lowered for word in self.stopwords)


class _Rule:
    """One gitleaks rule, compiled on first use (most never meet their keyword)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.id: str = data["id"]
        self.source: str = data["regex"]
        self.keywords: tuple[str, ...] = tuple(data["keywords"])
        self.entropy: float = float(data.get("entropy", 0.0))
        self.group: int = int(data.get("secret_group", 0))
        self.allow = tuple(_allow(found) for found in data.get("allow", ()))
        self._pattern: Any = None

    @property
    def pattern(self) -> Any:
        if self._pattern is None:
            self._pattern = _re2_compile(self.source)
        return self._pattern


def _re2_compile(source: str) -> Any:
    import re2  # google-re2: the engine gitleaks' rules are written for, linear in the text

    options = re2.Options()
    options.log_errors = False
    return re2.compile(source, options=options)


@functools.cache
def _compiled(sources: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(_re2_compile(source) for source in sources)


def _allow(data: dict[str, Any]) -> _Allow:
    return _Allow(data["target"], tuple(data.get("regexes", ())), tuple(data.get("stopwords", ())))


class _RuleSet(msgspec.Struct, frozen=True):
    rules: tuple[_Rule, ...]
    allow: tuple[_Allow, ...]
    keywords: tuple[tuple[str, tuple[_Rule, ...]], ...]


@functools.cache
def _rule_set() -> _RuleSet:
    # next to this module (importlib.resources would add ~5 ms to every start for one file)
    text = Path(__file__).with_name("credential_rules.json").read_text(encoding="utf-8")
    data = json.loads(text)
    rules = tuple(_Rule(found) for found in data["rules"])
    by_keyword: dict[str, list[_Rule]] = {}
    for rule in rules:
        for word in rule.keywords:
            by_keyword.setdefault(word, []).append(rule)
    return _RuleSet(
        rules,
        tuple(_allow(found) for found in data["allow"]),
        tuple((word, tuple(found)) for word, found in by_keyword.items()),
    )


def rule_count() -> int:
    """How many rules the detector runs (lamina's own and gitleaks')."""
    return len(SHAPES) + len(_rule_set().rules)


def shannon_entropy(text: str) -> float:
    """Bits per character of text (what gitleaks' ``entropy`` floors compare with)."""
    if not text:
        return 0.0
    counts = Counter(text)
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def find(text: str) -> tuple[Finding, ...]:
    """Every credential in text, in order, overlapping ones merged into the first."""
    return _find(str(text))


@functools.lru_cache(maxsize=4096)
def _find(text: str) -> tuple[Finding, ...]:
    # the same long texts (a prompt) come by once per target: search each one once
    found: list[Finding] = []
    for shape in SHAPES:
        if shape.keyword not in text:
            continue
        for match in shape.pattern.finditer(text):
            span = match.span(shape.group)
            _add(found, span, "lamina", f"looks like {shape.name}", shape.prefix)
    rule_set = _rule_set()
    lowered = text.lower()
    candidates: dict[str, _Rule] = {}
    for word, rules in rule_set.keywords:
        if word in lowered:
            for rule in rules:
                candidates.setdefault(rule.id, rule)
    for rule in candidates.values():
        for match in rule.pattern.finditer(text):
            _gitleaks(found, text, match, rule, rule_set.allow)
    return _merged(found)


def _gitleaks(found: list[Finding], text: str, match: Any, rule: _Rule, common: Sequence[_Allow]) -> None:
    group = rule.group
    if not group and match.lastindex:
        # gitleaks: without a secretGroup, the first capture group that matched
        group = next((i for i in range(1, match.lastindex + 1) if match.group(i)), 0)
    secret = match.group(group) or ""
    if not secret or (rule.entropy and shannon_entropy(secret) <= rule.entropy):
        return
    line_start = text.rfind("\n", 0, match.start()) + 1
    line_end = text.find("\n", match.end())
    line = text[line_start : len(text) if line_end < 0 else line_end]
    whole = match.group(0) or ""
    if any(allow.allows(secret, whole, line) for allow in (*common, *rule.allow)):
        return
    lowered = secret.lower()
    prefix = max((word for word in rule.keywords if lowered.startswith(word)), key=len, default="")
    what = f"matches the gitleaks rule {rule.id}"
    _add(found, match.span(group), rule.id, what, secret[: len(prefix)])


def _add(found: list[Finding], span: tuple[int, int], rule: str, what: str, prefix: str) -> None:
    start, end = span
    if start < end:
        found.append(Finding(rule, what, start, end, prefix))


def _merged(found: list[Finding]) -> tuple[Finding, ...]:
    """Findings in text order; one that overlaps an earlier one widens it instead."""
    merged: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -f.end)):
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            if finding.end > last.end:
                merged[-1] = Finding(last.rule, last.what, last.start, finding.end, last.prefix)
            continue
        merged.append(finding)
    return tuple(merged)


def mask_text(text: str) -> str:
    """text with every credential in it replaced by its masked form, the rest left as it is."""
    findings = find(text)
    if not findings:
        return text
    parts: list[str] = []
    at = 0
    for finding in findings:
        parts.append(text[at : finding.start])
        parts.append(finding.masked)
        at = finding.end
    parts.append(text[at:])
    return "".join(parts)
