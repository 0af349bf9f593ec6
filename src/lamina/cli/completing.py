"""Shell completion: ``lamina completion SHELL`` prints the script; the functions here complete
environments, targets, request ids and keys from the repository the command line names.

A completion never fails loudly: anything that goes wrong (no repository, a broken file) just
offers nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from lamina.resolve.repository import Repository

SHELLS = ("bash", "zsh", "fish")


@click.command()
@click.argument(
    "shell", help="bash, zsh or fish.", shell_complete=lambda ctx, param, incomplete: list(SHELLS)
)
def completion(shell: str) -> None:
    """Print the shell completion script (bash: ``source <(lamina completion bash)``)."""
    from click.shell_completion import get_completion_class

    from lamina.cli.app import app
    from lamina.errors import InputError

    complete = get_completion_class(shell) if shell in SHELLS else None
    if complete is None:
        raise InputError(f"completion: unknown shell {shell!r} (known: {', '.join(SHELLS)})")
    script = complete(app, {}, "lamina", "_LAMINA_COMPLETE").source()
    click.echo(script.rstrip("\n"))


def _quietly(find: Callable[[click.Context, str], Iterator[str]]) -> Callable[..., list[str]]:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        try:
            return sorted({item for item in find(ctx, incomplete) if item.startswith(incomplete)})
        except Exception:  # a completion offers nothing rather than an error in the shell
            return []

    complete.__doc__ = find.__doc__
    return complete


def _repository(ctx: click.Context) -> Repository:
    from lamina.resolve.repository import Repository, find_root

    option = ctx.find_root().params.get("repo")
    root = (
        Path(option) if option else Path(os.environ["LAMINA_REPO"]) if os.environ.get("LAMINA_REPO") else None
    )
    root = root or find_root(Path.cwd())
    if root is None:
        raise LookupError("no repository")
    return Repository(root)


@_quietly
def environments(ctx: click.Context, incomplete: str) -> Iterator[str]:
    """The environments of the fleet."""
    with _repository(ctx) as repo:
        yield from repo.fleet.environments


@_quietly
def targets(ctx: click.Context, incomplete: str) -> Iterator[str]:
    """Environments and ENV/CLUSTER targets."""
    with _repository(ctx) as repo:
        yield from repo.fleet.environments
        for name, cluster in repo.fleet.clusters.items():
            yield f"{cluster.environment}/{name}"


@_quietly
def request_ids(ctx: click.Context, incomplete: str) -> Iterator[str]:
    """The ids of open requests (promotions, rollbacks, changes)."""
    from lamina.core.states import PromotionStatus
    from lamina.store import promotions
    from lamina.store.database import Database

    with _repository(ctx) as repo:
        db = Database.for_repository(repo.root, os.environ.get("LAMINA_DATABASE_URL"))
        try:
            opened = [status for status in PromotionStatus if status.is_open]
            for record in promotions.list_requests(db, opened):
                yield f"PR-{record.id}"
        finally:
            db.dispose()


@_quietly
def keys(ctx: click.Context, incomplete: str) -> Iterator[str]:
    """The dotted keys of the target given before the key."""
    from lamina.core.paths import format_path

    target = ctx.params.get("target")
    if not target:
        return
    with _repository(ctx) as repo:
        yield from (format_path(path) for path in _paths(repo.resolve(str(target)).data, ()))


def _paths(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if path:
        yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))
