"""Commands registered by name and imported only when they run, so ``lamina`` starts fast.

``lamina --help`` lists the commands from the registration table in ``cli/app.py`` (name, where
the command lives, one line of help) without importing any of them; ``lamina build`` imports
``lamina.cli.build`` alone, and that module imports what building needs and nothing else.

The commands are plain click commands; repeatable values arrive as lists (:func:`listed`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeVar

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem


class Lazy(NamedTuple):
    """One registered command: ``module:attribute`` (a click command or group) and its help."""

    where: str
    help: str


class Group(click.Group):
    """A group of commands (``lamina promote ...``), listed in the order they are declared."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in the order they are declared, not sorted


Group.group_class = Group


def listed(ctx: click.Context, param: click.Parameter, value: Sequence[str]) -> list[str] | None:
    """A repeatable value as a list, or None when none was given."""
    return list(value) or None


def listed_all(ctx: click.Context, param: click.Parameter, value: Sequence[str]) -> list[str]:
    """A repeatable value as a list (empty when none was given)."""
    return list(value)


F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
"""``--json``: print the command's JSON shape instead of text."""


def names_argument(name: str, help: str, complete: Callable[..., Any]) -> Callable[[F], F]:
    """A positional that takes any number of names (environments, targets), as a list or None."""
    return click.argument(name, nargs=-1, callback=listed, help=help, shell_complete=complete)


class LazyGroup(Group):
    """The top-level group: its commands come from the registration table, each imported on first use."""

    registry: ClassVar[dict[str, Lazy]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.commands, *(name for name in self.registry if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.registry:
            self.commands[cmd_name] = load(cmd_name, self.registry[cmd_name])
        return self.commands.get(cmd_name)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """Command names with their help from the table (no command module is imported)."""
        from click.shell_completion import CompletionItem

        if incomplete.startswith("-"):
            return super().shell_complete(ctx, incomplete)
        return [
            CompletionItem(name, help=entry.help)
            for name, entry in self.registry.items()
            if name.startswith(incomplete)
        ]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, entry.help) for name, entry in self.registry.items()]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def load(name: str, entry: Lazy) -> click.Command:
    """Import the command's module; the command takes the name it is registered under."""
    module_name, _, attribute = entry.where.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{entry.where} is not a click command")
    command.name = name
    return command


def group(registry: dict[str, Lazy]) -> type[LazyGroup]:
    """The group class serving this registration table."""
    return type("LaminaGroup", (LazyGroup,), {"registry": registry})
