"""CEL policies (``[[policy]]`` in ``policies/*.toml``) evaluated over every target.

Each policy is compiled once per repository. For each target the variables are::

    config   the resolved config
    env      {name, stage, upstream}       upstream is null for the first environment
    cluster  {name, namespace, labels}     null for an environment-level target
    fleet    {name}

``when`` (if any) decides whether the policy applies; ``rule`` must then be true. A false
rule is a problem named after the policy, placed at the value the rule reads
(``config.guardrails.pii_redaction`` -> the layer that set it), so the fix is one click
away. A rule that cannot be evaluated for a target (a key it reads is missing, types do
not match) is a problem too, worded as such. A policy that does not compile is bad input.

``cel-python`` is imported when the first policy is compiled (see :mod:`lamina.validate.cel`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lamina.core.paths import KeyPath, format_path, get_path
from lamina.errors import InputError
from lamina.resolve.resolved import ResolvedConfig
from lamina.validate.credentials import Redactor
from lamina.validate.diagnostics import Check, Diagnostic, Severity
from lamina.validate.policy_files import Policy, PolicySet

if TYPE_CHECKING:
    from lamina.validate.cel import Program

_STRING_LITERAL = re.compile(
    r"""[rRbB]*(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")""", re.DOTALL
)
_CONFIG_PATH = re.compile(r"(?<![\w.])config((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)+)")


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy ready to evaluate, and the config keys its expressions read."""

    policy: Policy
    when: Program | None
    rule: Program
    reads: tuple[KeyPath, ...]


def compile_policies(policy_set: PolicySet) -> tuple[CompiledPolicy, ...]:
    """Compile every policy once.

    Raises:
        InputError: an expression is not valid CEL or too long (names the policy's file:line).
    """
    from lamina.validate import cel

    compiled = []
    for policy in policy_set.policies:
        when = None
        try:
            if policy.when:
                when = cel.compile_expression(policy.when)
        except cel.CelError as exc:
            raise InputError(f"policy {policy.name!r}: when: {exc}", policy.place) from None
        try:
            rule = cel.compile_expression(policy.rule)
        except cel.CelError as exc:
            raise InputError(f"policy {policy.name!r}: rule: {exc}", policy.place) from None
        reads = config_paths(policy.rule) + config_paths(policy.when or "")
        compiled.append(CompiledPolicy(policy, when, rule, tuple(dict.fromkeys(reads))))
    return tuple(compiled)


def config_paths(expression: str) -> tuple[KeyPath, ...]:
    """The ``config.a.b`` paths an expression reads, in order (method and macro names left out)."""
    text = _STRING_LITERAL.sub("''", expression)
    paths = []
    for match in _CONFIG_PATH.finditer(text):
        parts = [part.strip() for part in match.group(1).split(".")[1:]]
        if text[match.end() :].lstrip().startswith("("):
            parts = parts[:-1]  # config.tools.all(...): "all" is a macro, not a key
        if parts:
            paths.append(tuple(parts))
    return tuple(paths)


def variables(config: ResolvedConfig) -> dict[str, Any]:
    """The CEL variables of one target, as plain values."""
    env = config.environment
    cluster = None
    if config.cluster is not None:
        cluster = {
            "name": config.cluster.name,
            "namespace": config.cluster.namespace,
            "labels": dict(config.cluster.labels),
        }
    return {
        "config": config.data,  # read-only; file texts are strings
        "env": {"name": env.name, "stage": env.stage, "upstream": env.upstream},
        "cluster": cluster,
        "fleet": {"name": config.fleet_name},
    }


_CONFIG_KEY = re.compile(r"\bconfig\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_CONFIG_WHOLE = re.compile(r"\bconfig\b(?!\s*\.\s*[A-Za-z_])")


def _only_read_keys(plain: dict[str, Any], compiled: tuple[CompiledPolicy, ...]) -> dict[str, Any]:
    """The variables with ``config`` cut down to the top-level keys the expressions name, so a
    target's whole config is not converted to CEL values for rules that read two keys. An
    expression that uses ``config`` any other way (``config["x"]``, ``size(config)``) gets it all."""
    texts = [p.rule.text for p in compiled] + [p.when.text for p in compiled if p.when is not None]
    if any(_CONFIG_WHOLE.search(text) for text in texts):
        return plain
    keys = {key for text in texts for key in _CONFIG_KEY.findall(text)}
    config = plain["config"]
    return {**plain, "config": {key: config[key] for key in keys if key in config}}


def check(
    compiled: tuple[CompiledPolicy, ...],
    config: ResolvedConfig,
    redactor: Redactor,
    converter: Any = None,
) -> list[Diagnostic]:
    """Every policy that fails, or cannot be evaluated, for one target.

    Pass one ``cel.Converter`` for all targets of a run: shared tables convert once.
    """
    from lamina.validate import cel

    if not compiled:
        return []
    plain = variables(config)
    activation = cel.convert(_only_read_keys(plain, compiled), converter)
    found = []
    for item in compiled:
        if item.when is not None:
            try:
                applies = item.when.evaluate_converted(activation)
            except cel.CelError as exc:
                found.append(_unevaluable(item, config, plain["config"], "when", str(exc), redactor))
                continue
            if not isinstance(applies, bool):
                found.append(_not_boolean(item, config, "when", cel.type_name(applies)))
                continue
            if not applies:
                continue
        try:
            passed = item.rule.evaluate_converted(activation)
        except cel.CelError as exc:
            found.append(_unevaluable(item, config, plain["config"], "rule", str(exc), redactor))
            continue
        if not isinstance(passed, bool):
            found.append(_not_boolean(item, config, "rule", cel.type_name(passed)))
        elif not passed:
            found.append(_failed(item, config, plain["config"], redactor))
    return found


def _failed(item: CompiledPolicy, config: ResolvedConfig, data: Any, redactor: Redactor) -> Diagnostic:
    policy = item.policy
    path = _primary(item.reads, data)
    detail = ""
    if path:
        value = get_path(data, path)
        if not isinstance(value, dict | list):
            key = next((p for p in reversed(path) if isinstance(p, str)), None)
            detail = f"; {format_path(path)} is {redactor.display(key, value, as_json=True)}"
    return Diagnostic(
        check=Check.POLICY,
        severity=Severity.ERROR,
        target=str(config.target),
        key=format_path(path) if path else None,
        place=(config.place_of(path) if path else None) or policy.place,
        message=f"{policy.message} (policy {policy.name!r}, {policy.place}{detail})",
    )


def _unevaluable(
    item: CompiledPolicy, config: ResolvedConfig, data: Any, part: str, error: str, redactor: Redactor
) -> Diagnostic:
    policy = item.policy
    missing = _missing(item.reads, data) if error.startswith("no such key") else None
    if missing is not None:
        path = missing
        dotted = "config." + format_path(path)
        what = f"{dotted} does not exist in this target (write has({dotted}) to allow its absence)"
        key: str | None = format_path(path)
        place = policy.place  # the rule reads a key the config lacks: which one to fix is the author's call
    else:
        what = redactor.redact(error)
        path = _primary(item.reads, data)
        key = format_path(path) if path else None
        place = (config.place_of(path) if path else None) or policy.place
    subject = "the when condition of policy" if part == "when" else "policy"
    return Diagnostic(
        check=Check.POLICY,
        severity=Severity.ERROR,
        target=str(config.target),
        key=key,
        place=place,
        message=f"{subject} {policy.name!r} ({policy.place}) cannot be evaluated: {what}",
    )


def _not_boolean(item: CompiledPolicy, config: ResolvedConfig, part: str, kind: str) -> Diagnostic:
    policy = item.policy
    return Diagnostic(
        check=Check.POLICY,
        severity=Severity.ERROR,
        target=str(config.target),
        key=None,
        place=policy.place,
        message=f"policy {policy.name!r}: {part} must evaluate to true or false, not a {kind}",
    )


def _primary(reads: tuple[KeyPath, ...], data: Any) -> KeyPath:
    """The key a failed rule is about: the first it reads that exists (else its nearest parent)."""
    for path in reads:
        if _exists(data, path):
            return path
    for path in reads:
        prefix = _existing_prefix(path, data)
        if prefix:
            return prefix
    return ()


def _missing(reads: tuple[KeyPath, ...], data: Any) -> KeyPath | None:
    """The first key read that is absent (up to its first missing part)."""
    for path in reads:
        prefix = _existing_prefix(path, data)
        if len(prefix) < len(path):
            return path[: len(prefix) + 1]
    return None


def _existing_prefix(path: KeyPath, data: Any) -> KeyPath:
    for end in range(len(path), 0, -1):
        if _exists(data, path[:end]):
            return path[:end]
    return ()


def _exists(data: Any, path: KeyPath) -> bool:
    try:
        get_path(data, path)
    except KeyError:
        return False
    return True
