"""``${...}`` in config strings (SPEC section 2): names, references to other values, errors."""

from __future__ import annotations

from typing import Any

import pytest

import lamina
from conftest import WriteRepo
from lamina.errors import InputError, InterpolationError

FLEET = """
[fleet]
name = "support-agent"
promotion = ["development", "production"]

[environments.production-eu]
extends = "production"
upstream = "development"

[clusters.dev-1]
environment = "development"
namespace = "ai-agents"
labels = { region = "eu-west-1", wave = "2" }

[clusters.eu-1]
environment = "production-eu"
"""

KNOWN = (
    "(known: config.<key>, cluster.name, cluster.namespace, env.name, env.stage, fleet.name, "
    "cluster.labels.<key>)"
)
KNOWN_WITHOUT_CLUSTER = "(known: config.<key>, env.name, env.stage, fleet.name)"


def resolve(
    write_repo: WriteRepo, files: dict[str, str], target: str = "development/dev-1"
) -> dict[str, Any]:
    """Write a repository with the demo fleet plus files and resolve one target."""
    root = write_repo({"lamina.toml": FLEET, **files})
    with lamina.Repository(root) as repo:
        return repo.resolve(target).data


def resolve_error(write_repo: WriteRepo, files: dict[str, str], target: str = "development/dev-1") -> str:
    """Resolve one target that must fail with an InterpolationError; return its message."""
    root = write_repo({"lamina.toml": FLEET, **files})
    with lamina.Repository(root) as repo, pytest.raises(InterpolationError) as info:
        repo.resolve(target)
    assert isinstance(info.value, InputError)
    assert info.value.exit_code == 2
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("${env.name}", "production-eu", id="env.name"),
        pytest.param("${env.stage}", "production", id="env.stage"),
        pytest.param("${cluster.name}", "eu-1", id="cluster.name"),
        pytest.param("${cluster.namespace}", "default", id="cluster.namespace-default"),
        pytest.param("${fleet.name}", "support-agent", id="fleet.name"),
        pytest.param("svc-${env.name}-${cluster.name}", "svc-production-eu-eu-1", id="embedded-twice"),
        pytest.param("${ env.name }", "production-eu", id="spaces-inside-braces"),
    ],
)
def test_target_names(write_repo: WriteRepo, text: str, expected: str) -> None:
    # production-eu extends production, so its stage is production
    data = resolve(write_repo, {"base/a.toml": f'value = "{text}"\n'}, "production-eu/eu-1")
    assert data == {"value": expected}


def test_env_name_of_development(write_repo: WriteRepo) -> None:
    assert resolve(write_repo, {"base/a.toml": 'value = "${env.name}/${env.stage}"\n'}) == {
        "value": "development/development"
    }


def test_cluster_names_and_labels(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/a.toml": """
                name = "${cluster.name}"
                namespace = "${cluster.namespace}"
                url = "redis://memory.${cluster.namespace}.svc:6379/0"
                region = "${cluster.labels.region}"
                wave = "${cluster.labels.wave}"
                """
        },
    )
    assert data == {
        "name": "dev-1",
        "namespace": "ai-agents",
        "url": "redis://memory.ai-agents.svc:6379/0",
        "region": "eu-west-1",
        "wave": "2",
    }


def test_names_are_interpolated_in_every_layer_and_in_arrays(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/a.toml": 'tags = ["${fleet.name}", "static"]\n',
            "overlays/development/a.yaml": "service: ${fleet.name}-${env.name}\n",
            "clusters/dev-1.json": '{"tools": [{"endpoint": "https://${cluster.labels.region}.example.com"}]}',
        },
    )
    assert data == {
        "tags": ["support-agent", "static"],
        "service": "support-agent-development",
        "tools": [{"endpoint": "https://eu-west-1.example.com"}],
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("${config.limits.tokens}", 800, id="number"),
        pytest.param("${config.limits.ratio}", 0.25, id="float"),
        pytest.param("${config.limits.strict}", True, id="boolean"),
        pytest.param("${config.limits.topics}", ["a", "b"], id="array"),
        pytest.param(
            "${config.limits}",
            {"tokens": 800, "ratio": 0.25, "strict": True, "topics": ["a", "b"], "name": "lim"},
            id="table",
        ),
        pytest.param("${config.limits.topics[1]}", "b", id="array-index"),
        pytest.param("max ${config.limits.tokens} tokens", "max 800 tokens", id="embedded-number"),
        pytest.param("r=${config.limits.ratio}", "r=0.25", id="embedded-float"),
        pytest.param("strict=${config.limits.strict}", "strict=true", id="embedded-boolean"),
        pytest.param("t=${config.limits.topics}", 't=["a","b"]', id="embedded-array"),
        pytest.param("${config.limits.name}-x", "lim-x", id="embedded-string"),
    ],
)
def test_config_reference(write_repo: WriteRepo, text: str, expected: Any) -> None:
    data = resolve(
        write_repo,
        {
            "base/limits.toml": """
                [limits]
                tokens = 800
                ratio = 0.25
                strict = true
                topics = ["a", "b"]
                name = "lim"
                """,
            "base/ref.toml": f"value = '{text}'\n",
        },
    )
    assert data["value"] == expected
    assert type(data["value"]) is type(expected)


def test_config_reference_sees_the_merged_value(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/a.toml": 'model = "small"\nlabel = "runs ${config.model}"\n',
            "clusters/dev-1.toml": 'model = "huge"\n',
        },
    )
    assert data == {"model": "huge", "label": "runs huge"}


def test_config_reference_chains_through_other_references(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {"base/a.toml": 'a = "${config.b}!"\nb = "${config.c}-${env.name}"\nc = "${cluster.name}"\n'},
    )
    assert data == {"a": "dev-1-development!", "b": "dev-1-development", "c": "dev-1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$${env.name}", "${env.name}", id="whole"),
        pytest.param("cost: $${price} in ${env.name}", "cost: ${price} in development", id="mixed"),
        pytest.param("$${nothing.known", "${nothing.known", id="unclosed"),
        pytest.param("$$ and $5 and ${env.name}", "$$ and $5 and development", id="lone-dollars"),
    ],
)
def test_double_dollar_is_a_literal(write_repo: WriteRepo, text: str, expected: str) -> None:
    assert resolve(write_repo, {"base/a.toml": f"value = '{text}'\n"}) == {"value": expected}


def test_literal_survives_a_reference_to_it(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {"base/a.toml": "a = '$${env.name}'\nb = '${config.a}'\nc = 'see ${config.a}'\n"},
    )
    assert data == {"a": "${env.name}", "b": "${env.name}", "c": "see ${env.name}"}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(
            {"base/a.toml": '[agent]\nname = "${nope.name}"\n'},
            f"base/a.toml:2: agent.name: unknown name ${{nope.name}} {KNOWN}",
            id="unknown-name",
        ),
        pytest.param(
            {"base/a.toml": 'zone = "in ${cluster.labels.zone}"\n'},
            f"base/a.toml:1: zone: unknown name ${{cluster.labels.zone}} {KNOWN}",
            id="unknown-label",
        ),
        pytest.param(
            {"base/a.toml": 'x = "a"\n', "overlays/development/b.yaml": "agent:\n  name: ${env.nam}\n"},
            f"overlays/development/b.yaml:2: agent.name: unknown name ${{env.nam}} {KNOWN}",
            id="unknown-name-in-yaml-overlay",
        ),
        pytest.param(
            {"base/a.toml": "[agent]\nmodel = 'x'\nlabel = '${config.agent.modle}'\n"},
            "base/a.toml:3: agent.label: ${config.agent.modle} names no value in the resolved config",
            id="unknown-config-key",
        ),
        pytest.param(
            {"base/a.toml": "label = '${config.a..b}'\n"},
            "base/a.toml:1: label: bad reference ${config.a..b}: cannot read key 'a..b' at position 3",
            id="malformed-config-key",
        ),
    ],
)
def test_unknown_name_is_error(write_repo: WriteRepo, files: dict[str, str], message: str) -> None:
    assert resolve_error(write_repo, files) == message


def test_unknown_name_names_the_winning_layer(write_repo: WriteRepo) -> None:
    message = resolve_error(
        write_repo,
        {"base/a.toml": 'name = "ok"\n', "clusters/dev-1.toml": '# why\nname = "${env.nme}"\n'},
    )
    assert message == f"clusters/dev-1.toml:2: name: unknown name ${{env.nme}} {KNOWN}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            'a = "${config.a}"\n',
            "base/a.toml:1: reference cycle: config.a -> config.a",
            id="self",
        ),
        pytest.param(
            'a = "${config.b}"\nb = "x ${config.c}"\nc = "${config.a}"\n',
            "base/a.toml:1: reference cycle: config.a -> config.b -> config.c -> config.a",
            id="three",
        ),
        pytest.param(
            '[t]\nx = 1\ny = "${config.t}"\n',
            "base/a.toml:3: reference cycle: config.t.y -> config.t.y",
            id="through-parent-table",
        ),
    ],
)
def test_reference_cycle_is_error(write_repo: WriteRepo, text: str, message: str) -> None:
    assert resolve_error(write_repo, {"base/a.toml": text}) == message


def test_exponential_text_expansion_is_bounded(write_repo: WriteRepo) -> None:
    lines = ['l0 = "xxxxxxxxxxxxxxxx"']
    lines += [f'l{i} = "${{config.l{i - 1}}}${{config.l{i - 1}}}"' for i in range(1, 60)]
    message = resolve_error(write_repo, {"base/bomb.toml": "\n".join(lines) + "\n"})
    assert message == "base/bomb.toml:17: l16: interpolation expands past 1000000 characters"


def test_exponential_expansion_through_whole_references_is_bounded(write_repo: WriteRepo) -> None:
    # each level is an array of two whole-string references to the level below: 2**59 values
    # once written out, so resolving must refuse rather than hand over a tree nobody can hash
    lines = ['l0 = "x"']
    lines += [f'l{i} = ["${{config.l{i - 1}}}", "${{config.l{i - 1}}}"]' for i in range(1, 60)]
    message = resolve_error(write_repo, {"base/bomb.toml": "\n".join(lines) + "\n"})
    assert message.startswith("base/bomb.toml:")


def test_environment_level_target_keeps_cluster_names_literally(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/a.toml": """
                name = "${cluster.name}"
                url = "redis://memory.${cluster.namespace}.svc/${env.name}"
                region = "${cluster.labels.region}"
                """
        },
        "development",
    )
    assert data == {
        "name": "${cluster.name}",
        "url": "redis://memory.${cluster.namespace}.svc/development",
        "region": "${cluster.labels.region}",
    }


def test_environment_level_target_still_rejects_unknown_names(write_repo: WriteRepo) -> None:
    message = resolve_error(write_repo, {"base/a.toml": 'name = "${clusterx.name}"\n'}, "development")
    assert message == f"base/a.toml:1: name: unknown name ${{clusterx.name}} {KNOWN_WITHOUT_CLUSTER}"


def test_file_texts_are_not_interpolated(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/a.toml": 'prompt = { file = "prompts/system.txt" }\nquoted = "${config.prompt}"\n',
            "base/prompts/system.txt": "You serve ${env.name}; $${x} stays; ${unknown.name} too.\n",
        },
    )
    literal = "You serve ${env.name}; $${x} stays; ${unknown.name} too.\n"
    assert data == {"prompt": literal, "quoted": literal}


def test_resolution_does_not_change_other_targets(write_repo: WriteRepo) -> None:
    # resolved configs share unchanged tables; interpolating one target must not leak into another
    root = write_repo(
        {
            "lamina.toml": FLEET,
            "base/a.toml": '[svc]\nname = "${env.name}"\nfixed = 1\n',
        }
    )
    with lamina.Repository(root) as repo:
        dev = repo.resolve("development/dev-1").data
        env_level = repo.resolve("development").data
        again = repo.resolve("development/dev-1").data
    assert dev == again == env_level == {"svc": {"name": "development", "fixed": 1}}
