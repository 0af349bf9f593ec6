"""``lamina completion SHELL``: the scripts load in their shell and complete from the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli_support import LAMINA, lamina_environ
from cli_support import run_lamina as lamina


def bash_complete(root: Path, *words: str) -> list[str]:
    """What bash offers for the last of words, through the script ``lamina completion bash`` prints."""
    script = lamina("completion", "bash").stdout
    line = " ".join(f"'{word}'" for word in ("lamina", *words))
    program = (
        f"{script}\n"
        f"COMP_WORDS=({line}); COMP_CWORD={len(words)}\n"
        "_lamina_completion lamina\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = lamina_environ(PATH=f"{LAMINA.parent}:/usr/bin:/bin")
    done = subprocess.run(
        ["bash", "--norc", "-c", program], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    assert done.stderr == ""
    return done.stdout.split()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        pytest.param(("bu",), ["build"], id="command"),
        pytest.param(("history", "prod"), ["production", "production-eu"], id="environment"),
        pytest.param(
            ("build", "production/"),
            ["production/prod-us-1", "production/prod-us-2"],
            id="target",
        ),
        pytest.param(("explain", "staging", "agent.mo"), ["agent.model"], id="key-of-the-target"),
        pytest.param(("build", "nowhere"), [], id="nothing-matches"),
    ],
)
def test_bash_completes_from_the_repository(
    example_repo: Path, words: tuple[str, ...], expected: list[str]
) -> None:
    assert bash_complete(example_repo, *words) == expected


def test_bash_completes_open_request_ids(example_repo: Path) -> None:
    done = lamina("promote", "request", "development", "staging", "--reason", "r", cwd=example_repo)
    assert done.returncode == 0, done.stderr
    assert bash_complete(example_repo, "promote", "show", "PR") == ["PR-1"]


def test_completion_outside_a_repository_offers_nothing(tmp_path: Path) -> None:
    assert bash_complete(tmp_path, "build", "p") == []


@pytest.mark.parametrize(
    ("shell", "registers"),
    [
        pytest.param("bash", "complete -o nosort -F _lamina_completion lamina", id="bash"),
        pytest.param("zsh", "compdef _lamina_completion lamina", id="zsh"),
        pytest.param("fish", "complete --no-files --command lamina", id="fish"),
    ],
)
def test_each_shell_gets_its_script(shell: str, registers: str) -> None:
    done = lamina("completion", shell)
    assert done.returncode == 0 and done.stderr == ""
    assert registers in done.stdout and f"_LAMINA_COMPLETE={shell}_complete" in done.stdout


def test_the_bash_script_is_valid_bash(tmp_path: Path) -> None:
    path = tmp_path / "lamina.bash"
    path.write_text(lamina("completion", "bash").stdout)
    subprocess.run(["bash", "-n", str(path)], check=True)


def test_an_unknown_shell_is_one_line(tmp_path: Path) -> None:
    done = lamina("completion", "tcsh")
    assert (done.returncode, done.stderr) == (
        2,
        "error: completion: unknown shell 'tcsh' (known: bash, zsh, fish)\n",
    )
