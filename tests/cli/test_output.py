"""Output that reads well: no ``None`` figures, no folded YAML, tables that fit a terminal."""

from __future__ import annotations

from pathlib import Path

from cli_support import run_lamina as lamina
from cli_support import run_on_a_terminal


def test_history_stats_without_samples_says_so(example_repo: Path) -> None:
    done = lamina("history", "--stats", cwd=example_repo, env={"LAMINA_USER": "ann@example.com"})
    assert done.returncode == 0, done.stderr
    assert "None" not in done.stdout
    assert "  lead time to production: no promotions yet" in done.stdout
    assert "  time to restore: no rollbacks yet" in done.stdout


def test_build_yaml_keeps_a_long_value_on_one_line(example_repo: Path) -> None:
    long = "word " * 40
    patch = example_repo / "overlays" / "production" / "agent-patch.toml"
    patch.write_text(patch.read_text() + f'\n[notes]\ntext = "{long.strip()}"\n')
    done = lamina("build", "production/prod-us-1", "-o", "yaml", cwd=example_repo)
    assert done.returncode == 0, done.stderr
    assert f"  text: {long.strip()}\n" in done.stdout


def test_a_table_on_a_narrow_terminal_fits_with_an_ellipsis(example_repo: Path) -> None:
    # a real terminal 60 columns wide: no line of the envs table may be longer
    code, text = run_on_a_terminal(["envs"], example_repo, {"COLUMNS": "60", "LINES": "40"})
    assert code == 0
    plain = [line for line in text.splitlines() if line.strip()]
    assert plain and max(len(line) for line in plain) <= 60, plain
    assert any("…" in line for line in plain)
