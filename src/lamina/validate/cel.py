"""CEL for lamina: compile once, evaluate with a bounded cost, and say what went wrong plainly.

``cel-python`` interprets the parse tree directly. Its cost is bounded here in three ways,
so a policy can never hang ``lamina validate``:

- an expression longer than :data:`MAX_EXPRESSION_CHARS` is refused when it is compiled;
- every evaluation may visit at most :data:`MAX_STEPS` tree nodes (nested ``all``/``map``
  macros over long lists are what costs), after which it stops with :class:`CelError`;
- deep nesting that exhausts Python's stack is caught and reported, never a crash.

Regular expressions (``matches``) run on RE2, which has no catastrophic backtracking; lamina
calls it itself, with error logging off, so a bad pattern is reported once, by lamina, and
RE2 writes nothing to stderr.
CEL's own error texts are rewritten: some embed the whole activation, config included.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import celpy
import lark
import re2  # google-re2 (no type hints)
from celpy import adapter, celtypes
from celpy.celparser import CELParseError
from celpy.evaluation import Activation, CELEvalError, CELUnsupportedError, Evaluator

MAX_EXPRESSION_CHARS = 2000
MAX_STEPS = 50_000
# CEL asks implementations to support deep nesting; cel-python needs this much stack for it
_RECURSION_LIMIT = 2500

_TYPE_NAME = re.compile(r"celtypes\.(\w+?)Type\b|<class '(NoneType)'>")


class CelError(Exception):
    """An expression that cannot be compiled or evaluated, in words fit for a person."""


@dataclass(frozen=True)
class Program:
    """A compiled CEL expression, evaluated many times."""

    text: str
    runner: celpy.Runner

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """Evaluate over plain values (converted here); return a plain Python value.

        Raises:
            CelError: the evaluation failed (no such key, no such overload, too costly...).
        """
        return self.evaluate_converted(convert(variables))

    def evaluate_converted(self, activation: Mapping[str, Any]) -> Any:
        """Evaluate over values already passed through :func:`convert` (convert once, evaluate often)."""
        with _stack():
            try:
                value = self.runner.evaluate(dict(activation))
            except CELEvalError as exc:
                raise CelError(describe(exc)) from None
            except CELUnsupportedError as exc:
                raise CelError(f"not supported by lamina's CEL: {_first_arg(exc)}") from None
            except _OverBudget:
                raise CelError(
                    f"evaluation stopped after {MAX_STEPS} steps; the expression costs too much"
                ) from None
            except RecursionError:
                raise CelError("the expression nests too deeply to evaluate") from None
        return to_python(value)


def compile_expression(text: str) -> Program:
    """Compile one CEL expression.

    Raises:
        CelError: it is too long or not valid CEL (the message names line and column).
    """
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CelError(
            f"the expression is {len(text)} characters long; lamina refuses CEL over "
            f"{MAX_EXPRESSION_CHARS} characters"
        )
    environment = _environment()
    with _stack():
        try:
            ast = environment.compile(text)
        except CELParseError as exc:
            where = f" at line {exc.line}, column {exc.column}" if exc.line is not None else ""
            raise CelError(f"not valid CEL: syntax error{where}") from None
        except RecursionError:
            raise CelError("not valid CEL: nested too deeply") from None
        except lark.exceptions.LarkError as exc:
            raise CelError(f"not valid CEL: {_first_line(str(exc))}") from None
    runner = _BoundedRunner(environment, ast, functions={"matches": _matches})
    return Program(text, runner)


def convert(variables: Mapping[str, Any], converter: Converter | None = None) -> dict[str, Any]:
    """Plain values (dict, list, str, int, float, bool, None) as CEL values."""
    converter = converter or Converter()
    return {name: converter.convert(value) for name, value in variables.items()}


class Converter:
    """Python values to CEL values, converting each table once however many targets share it
    (resolution copies on write, so the targets of an environment share most tables)."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[Any, Any]] = {}

    def convert(self, value: Any) -> Any:
        """value as a CEL value (file texts become plain strings)."""
        if isinstance(value, dict | list):
            hit = self._memo.get(id(value))
            if hit is not None and hit[0] is value:
                return hit[1]
            if isinstance(value, dict):
                result: Any = celtypes.MapType(
                    {celtypes.StringType(k): self.convert(v) for k, v in value.items()}
                )
            else:
                result = celtypes.ListType([self.convert(item) for item in value])
            self._memo[id(value)] = (value, result)
            return result
        if isinstance(value, str):
            return celtypes.StringType(str(value))
        return adapter.json_to_cel(value)


def to_python(value: Any) -> Any:
    """A CEL result as a plain Python value."""
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.IntType | celtypes.UintType):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.MapType):
        return {to_python(key): to_python(item) for key, item in value.items()}
    if isinstance(value, celtypes.ListType):
        return [to_python(item) for item in value]
    return value


def type_name(value: Any) -> str:
    """The CEL name of a Python result's type: bool, int, double, string, map, list, null."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "null" if value is None else type(value).__name__


def describe(exc: CELEvalError) -> str:
    """CEL's evaluation error in plain words, without the activation some of them embed."""
    text = _first_arg(exc)
    if text.startswith("no such member in mapping:"):
        return "no such key " + text.split(":", 1)[1].strip()
    if text.startswith("undeclared reference to"):
        name = text.split("'")[1] if text.count("'") >= 2 else "?"
        return f"unknown name {name!r} (the variables are config, env, cluster and fleet)"
    if text.startswith("found no matching overload"):
        names = [(match.group(1) or "null").lower() for match in _TYPE_NAME.finditer(text)]
        kinds = " and ".join(dict.fromkeys(names)) or "these values"
        return (
            f"no operator for {kinds} (CEL does not mix int and double: write 10.0, or double(x))"
            if {"int", "double"} <= set(names)
            else f"no operator for {kinds}"
        )
    detail = ""
    if len(exc.args) >= 3 and isinstance(exc.args[2], tuple) and exc.args[2]:
        detail = f": {_first_line(str(exc.args[2][0]))}"
    return _first_line(text) + detail


def _first_arg(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    # some cel-python messages append "(in activation '...')" with every variable's value
    return text.split(" (in activation", 1)[0]


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 200 else line[:199] + "…"


@contextlib.contextmanager
def _stack() -> Iterator[None]:
    """Python's recursion limit raised to what cel-python needs, for this block only."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, _RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


@functools.cache
def _environment() -> celpy.Environment:
    # building the parser costs ~0.2 s, so one environment serves every expression; its
    # constructor raises the process-wide recursion limit, which _stack() undoes
    with _stack():
        return celpy.Environment()


def _matches(text: celtypes.StringType, pattern: celtypes.StringType) -> Any:
    """CEL's ``matches`` as cel-python has it, but without RE2 logging bad patterns to stderr."""
    options = re2.Options()
    options.log_errors = False
    try:
        found = re2.search(pattern, text, options=options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return CELEvalError("match error", re2.error, (reason,))
    return celtypes.BoolType(found is not None)


class _OverBudget(Exception):
    """The evaluation visited more than MAX_STEPS nodes."""


class _Budget:
    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _OverBudget


class _BoundedEvaluator(Evaluator):
    """cel-python's interpreter, counting every node it visits against one shared budget."""

    def __init__(self, ast: lark.Tree[Any], activation: Activation, budget: _Budget) -> None:
        super().__init__(ast, activation)
        self.budget = budget

    def sub_evaluator(self, ast: lark.Tree[Any]) -> Evaluator:
        # macros (all, exists, map, filter) evaluate their body with a fresh evaluator
        return _BoundedEvaluator(ast, self.activation, self.budget)

    def _visit_tree(self, tree: lark.Tree[Any]) -> Any:
        self.budget.spend()
        return super()._visit_tree(tree)


class _BoundedRunner(celpy.InterpretedRunner):
    def evaluate(self, context: Any) -> Any:
        evaluator = _BoundedEvaluator(self.ast, self.new_activation(), _Budget(MAX_STEPS))
        return evaluator.evaluate(context)
