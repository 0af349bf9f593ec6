"""How commands talk to people and scripts: rich on a terminal, plain when piped, JSON on request."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich loads when something is first shown on a terminal or styled
    from rich.console import Console
    from rich.text import Text

    out: Console
    err: Console

__all__ = [
    "Text",
    "cell",
    "err",
    "is_terminal",
    "out",
    "print_json",
    "print_table",
    "progress",
    "short_value",
    "styled",
]


_consoles: dict[str, Console] = {}


def _console(name: str) -> Console:
    if name not in _consoles:
        from rich.console import Console

        _consoles[name] = Console(stderr=name == "err", highlight=False, soft_wrap=True)
    return _consoles[name]


def __getattr__(name: str) -> Any:
    """``out`` and ``err`` (rich consoles) and ``Text``, made when first used."""
    if name in ("out", "err"):
        return _console(name)
    if name == "Text":
        from rich.text import Text

        return Text
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _may_be_terminal(stream: Any) -> bool:
    # rich also takes FORCE_COLOR / TTY_COMPATIBLE for a terminal; without them a pipe is a pipe
    isatty = getattr(stream, "isatty", None)
    return bool(
        (isatty is not None and isatty()) or os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE")
    )


def is_terminal() -> bool:
    """True when stdout is a terminal a person is reading."""
    if not _may_be_terminal(sys.stdout):
        return False
    return _console("out").is_terminal


def err_is_terminal() -> bool:
    """True when stderr is a terminal (progress shows there)."""
    if not _may_be_terminal(sys.stderr):
        return False
    return _console("err").is_terminal


def print_json(data: Any) -> None:
    """Write data as indented JSON to stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_table(
    columns: Sequence[str], rows: Sequence[Sequence[str | Text]], title: str | None = None
) -> None:
    """A table: rich with borders on a terminal; aligned plain columns when piped."""
    if is_terminal():
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title, title_justify="left", header_style="bold")
        for column in columns:  # the table fits the terminal: long cells end in an ellipsis
            table.add_column(column, overflow="ellipsis", no_wrap=True)
        for row in rows:
            # plain strings are text, never rich markup: "[locks]" must print as written
            table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in row))
        _console("out").print(table)
        return
    plain = [[str(cell).replace("\n", " | ") for cell in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in plain:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    for row in plain:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def styled(text: str, style: str) -> Text:
    """Text with a style (the style only shows on a terminal)."""
    from rich.text import Text

    return Text(text, style=style)


def cell(text: str, style: str) -> str | Text:
    """A table cell: styled on a terminal, plain text (and no rich to load) when piped."""
    return styled(text, style) if is_terminal() else text


def short_value(value: Any, limit: int = 60) -> str:
    """A value on one line, shortened for a table cell."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


class _Progress:
    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.bar: Any = None

    def __enter__(self) -> Any:
        # A progress bar on a terminal for long work; nothing when piped.
        if not err_is_terminal() or self.total < 20:
            return lambda done=1: None
        from rich.progress import Progress

        self.bar = Progress(console=_console("err"), transient=True)
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda done=1: self.bar.advance(task, done)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def moment(when: datetime | str | None) -> str:
    """A time as every table and summary shows it: UTC to the second, ``2026-12-03T14:05:09Z``
    (``--json`` keeps the full precision)."""
    if when is None:
        return "-"
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def progress(label: str, total: int) -> _Progress:
    """``with progress("rendering", n) as advance: ... advance()`` (or ``advance(k)``)."""
    return _Progress(label, total)
