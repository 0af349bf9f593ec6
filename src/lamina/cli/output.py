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
        # the table fits the terminal: long cells end in an ellipsis, and short columns (ids,
        # times, names) keep their width so that the long ones (details) give way first
        widest = [
            max([len(column), *(len(str(row[index])) for row in rows)])
            for index, column in enumerate(columns)
        ]
        keep = [width if width <= _KEEP_WIDTH else None for width in widest]
        room = _console("out").width - (3 * len(columns) + 1)  # less the borders and padding
        if sum(width or 0 for width in keep) + 8 * keep.count(None) > room:
            keep = [None] * len(columns)  # too narrow for that: every column gives way alike
        for column, width in zip(columns, keep, strict=True):
            table.add_column(column, overflow="ellipsis", no_wrap=True, min_width=width)
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


_KEEP_WIDTH = 32
"""Columns no wider than this are never shortened in a terminal table."""


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


class Progress:
    """Progress of long work, on stderr so that stdout stays the result.

    On a terminal: a live bar, cleared at the end, with each finished item logged above it and
    a header when a new section (a wave) starts. Piped: one plain line per finished item (work
    counted without items prints nothing). Quiet (``--json``): nothing at all.
    """

    def __init__(self, label: str, total: int, quiet: bool = False) -> None:
        self.label = label
        self.total = total
        self.quiet = quiet
        self.count = 0
        self.section: str | None = None
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Progress:
        if not self.quiet and err_is_terminal():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=_console("err"),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, done: int = 1) -> None:
        """Count done more items finished (no line of their own)."""
        self.count += done
        if self.bar is not None:
            self.bar.advance(self.task, done)

    def item(self, name: str, status: str, *, style: str = "", section: str | None = None) -> None:
        """One item finished with status; section (``wave 2``) heads the items that follow it."""
        self.count += 1
        if self.quiet:
            return
        new_section = section is not None and section != self.section
        self.section = section if section is not None else self.section
        if self.bar is not None:
            from rich.text import Text

            if new_section:
                self.bar.console.print(Text(str(section), style="bold"))
            self.bar.console.print(Text(f"  {name}  ") + Text(status, style=style))
            self.bar.advance(self.task, 1)
            return
        where = f" {section}" if section is not None else ""
        sys.stderr.write(f"{self.label}{where} [{self.count}/{self.total}] {name}: {status}\n")
        sys.stderr.flush()


def moment(when: datetime | str | None, now: datetime | None = None) -> str:
    """A time as every table and summary shows it: UTC to the second, ``2026-12-03T14:05:09Z``
    (``--json`` keeps the full precision); on a terminal led by how long ago it was
    (``3 h ago, 2026-12-03T14:05:09Z``)."""
    if when is None:
        return "-"
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    absolute = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not is_terminal():
        return absolute
    return f"{relative(when, now or datetime.now(UTC))}, {absolute}"


def relative(when: datetime, now: datetime) -> str:
    """How far when is from now, in the largest whole unit: ``just now``, ``5 min ago``,
    ``3 h ago``, ``2 d ago``, ``in 4 h``."""
    seconds = (now - when).total_seconds()
    span = abs(seconds)
    if span < 60:
        return "just now"
    size, unit = next((size, unit) for size, unit in ((86400, "d"), (3600, "h"), (60, "min")) if span >= size)
    count = int(span // size)
    return f"{count} {unit} ago" if seconds > 0 else f"in {count} {unit}"


def progress(label: str, total: int, *, quiet: bool = False) -> Progress:
    """``with progress("rendering", n) as advance: ... advance()`` (or ``advance(k)``, or
    ``advance.item(name, status)`` for work a person follows item by item); quiet for --json."""
    return Progress(label, total, quiet)
