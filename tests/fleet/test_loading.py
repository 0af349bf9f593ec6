"""lamina.toml becomes a checked Fleet; every impossible fleet is an error naming file:line."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from conftest import WriteRepo
from lamina.errors import FleetError, InputError, ParseError, UnknownTargetError
from lamina.fleet import loading, lockfile
from lamina.fleet.model import Environment, Fleet
from lamina.source.trees import WorkingTree

DNS = (
    "is not a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters, "
    "starting and ending with a letter or digit)"
)


def load(write_repo: WriteRepo, lamina_toml: str, **other: str) -> Fleet:
    root = write_repo({"lamina.toml": lamina_toml, **other})
    return loading.load_fleet(WorkingTree(root))


BAD_FLEETS = [
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotion = ["dev", "prod"]

        [clusters.c1]
        environment = "staging"
        """,
        {},
        "lamina.toml:6: cluster 'c1' names unknown environment 'staging'",
        id="cluster-names-unknown-environment",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotion = ["dev", "prod"]

        [environments.prod-eu]
        extends = "production"
        """,
        {},
        "lamina.toml:6: extends names unknown environment 'production'",
        id="extends-names-unknown-environment",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotion = ["dev", "prod"]

        [environments.prod-eu]
        extends  = "prod"
        upstream = "staging"
        """,
        {},
        "lamina.toml:7: upstream names unknown environment 'staging'",
        id="upstream-names-unknown-environment",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotion = ["dev", "prod"]
        """,
        {"overlays/staging/agent-patch.toml": "[agent]\n"},
        "overlays/staging/: overlay for unknown environment 'staging' (known: dev, prod)",
        id="overlay-folder-for-unknown-environment",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"

        [environments.a]
        extends = "b"

        [environments.b]
        extends = "a"
        """,
        {},
        "lamina.toml:5: cycle in extends: a -> b -> a",
        id="cycle-in-extends",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"

        [environments.a]
        extends = "a"
        """,
        {},
        "lamina.toml:5: cycle in extends: a -> a",
        id="environment-extends-itself",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"

        [environments.a]
        extends = "b"

        [environments.b]
        extends = "c"

        [environments.c]
        extends = "b"
        """,
        {},
        "lamina.toml:8: cycle in extends: b -> c -> b",
        id="cycle-in-extends-below-the-first-environment",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"

        [environments.a]
        upstream = "b"

        [environments.b]
        upstream = "a"
        """,
        {},
        "lamina.toml:5: cycle in upstream: a -> b -> a",
        id="cycle-in-upstream",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotion = ["dev", "staging", "prod"]

        [environments.dev]
        upstream = "prod"
        """,
        {},
        "lamina.toml:6: cycle in upstream: dev -> prod -> staging -> dev",
        id="cycle-in-upstream-through-the-promotion-shorthand",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotion = ["dev", "Prod"]
        """,
        {},
        f"lamina.toml:3: environment name 'Prod' {DNS}",
        id="uppercase-environment-in-promotion",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"

        [environments.Prod]
        """,
        {},
        f"lamina.toml:4: environment name 'Prod' {DNS}",
        id="uppercase-environment-table",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"

        [environments."a/b"]
        """,
        {},
        f"lamina.toml:4: environment name 'a/b' {DNS}",
        id="environment-name-with-slash",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"

        [environments."../x"]
        """,
        {},
        f"lamina.toml:4: environment name '../x' {DNS}",
        id="environment-name-with-dot-dot",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"

        [environments."a\\nb"]
        """,
        {},
        f"lamina.toml:4: environment name 'a\\nb' {DNS}",
        id="environment-name-with-newline-shown-escaped-once",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"

        [environments.-dev]
        """,
        {},
        f"lamina.toml:4: environment name '-dev' {DNS}",
        id="environment-name-starting-with-dash",
    ),
    pytest.param(
        f"""
        [fleet]
        name = "demo"
        promotion = ["{"a" * 64}"]
        """,
        {},
        f"lamina.toml:3: environment name '{'a' * 64}' {DNS}",
        id="environment-name-longer-than-63",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotion = ["dev"]

        [clusters.Prod_1]
        environment = "dev"
        """,
        {},
        f"lamina.toml:5: cluster name 'Prod_1' {DNS}",
        id="bad-cluster-name",
    ),
    pytest.param(
        """
        [fleet]
        name = "Demo Fleet"
        """,
        {},
        f"lamina.toml:2: fleet name 'Demo Fleet' {DNS}",
        id="bad-fleet-name",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotion = ["dev"]

        [environments.dev]
        extend = "prod"
        """,
        {},
        "lamina.toml:6: unknown key 'extend' in [environments.dev] "
        "(known: description, extends, isolation, stage, upstream)",
        id="unknown-key-in-environment",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotion = ["dev"]

        [clusters.c1]
        environment = "dev"
        region      = "eu"
        """,
        {},
        "lamina.toml:7: unknown key 'region' in [clusters.c1] (known: context, description, directory, "
        "environment, kubeconfig, kubernetes_version, labels, namespace, secrets, suspended)",
        id="unknown-key-in-cluster",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotions = ["dev", "prod"]
        """,
        {},
        "lamina.toml:3: unknown key 'promotions' in [fleet] (known: name, promotion)",
        id="unknown-key-in-fleet",
    ),
    pytest.param(
        """
        [fleet]
        promotion = ["dev", "prod"]
        """,
        {},
        "lamina.toml:1: [fleet] name is required and must be a string",
        id="missing-fleet-name",
    ),
    pytest.param(
        """
        [fleet]
        name = 3
        """,
        {},
        "lamina.toml:1: [fleet] name is required and must be a string",
        id="fleet-name-not-a-string",
    ),
    pytest.param(
        """
        [environments.dev]
        """,
        {},
        "lamina.toml: [fleet] name is required and must be a string",
        id="missing-fleet-table",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotion = ["dev", "prod", "dev"]
        """,
        {},
        "lamina.toml:3: promotion names an environment twice",
        id="promotion-repeats-an-environment",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotion = ["dev"]

        [clusters.c1]
        directory = "out/c1"
        """,
        {},
        "lamina.toml:5: cluster 'c1' needs an environment",
        id="cluster-without-environment",
    ),
    pytest.param(
        """
        [fleet]
        name = "demo"
        promotion = ["dev"]

        [clusters.c1]
        environment = "dev"
        directory   = "../outside"
        """,
        {},
        "lamina.toml:7: directory '../outside' must be a relative path inside the repository",
        id="cluster-directory-outside-the-repository",
    ),
]


@pytest.mark.parametrize(("lamina_toml", "other", "message"), BAD_FLEETS)
def test_impossible_fleet(
    write_repo: WriteRepo, lamina_toml: str, other: dict[str, str], message: str
) -> None:
    with pytest.raises(FleetError) as caught:
        load(write_repo, lamina_toml, **other)
    assert str(caught.value) == message
    assert caught.value.exit_code == 2
    assert gc.isenabled(), "a refused fleet file left the garbage collector paused"


def test_missing_lamina_toml(tmp_path: Path) -> None:
    with pytest.raises(FleetError) as caught:
        loading.load_fleet(WorkingTree(tmp_path))
    assert str(caught.value) == "lamina.toml: no lamina.toml in the repository (working tree)"


def test_malformed_lamina_toml_is_a_parse_error(write_repo: WriteRepo) -> None:
    with pytest.raises(ParseError) as caught:
        load(write_repo, '[fleet]\nname = "demo"\n[clusters.c1\n')
    assert (
        str(caught.value) == "lamina.toml:3:13: invalid TOML: Expected ']' at the end of a table declaration"
    )


EXAMPLE_LIKE = """
[fleet]
name = "support-agent"
promotion = ["development", "staging", "production"]

[environments.production-eu]
extends  = "production"
upstream = "staging"

[environments.canary]
extends = "production-eu"

[environments.sandbox]
stage = "development"

[environments.perf]
extends = "staging"
stage   = "performance"

[clusters.prod-eu-1]
environment = "production-eu"
context     = "prod-eu-1"
namespace   = "ai-agents"
labels      = { region = "eu-west-1", wave = 2 }
"""


@pytest.fixture
def fleet(write_repo: WriteRepo) -> Fleet:
    return load(write_repo, EXAMPLE_LIKE)


@pytest.mark.parametrize(
    ("name", "stage"),
    [
        pytest.param("development", "development", id="no-extends-is-its-own-stage"),
        pytest.param("production-eu", "production", id="root-of-extends-chain"),
        pytest.param("canary", "production", id="root-of-a-longer-extends-chain"),
        pytest.param("sandbox", "development", id="explicit-stage"),
        pytest.param("perf", "performance", id="explicit-stage-beats-extends-root"),
    ],
)
def test_stage(fleet: Fleet, name: str, stage: str) -> None:
    assert fleet.environment(name).stage == stage


@pytest.mark.parametrize(
    ("name", "upstream"),
    [
        pytest.param("development", None, id="first-in-promotion-has-none"),
        pytest.param("staging", "development", id="promotion-shorthand"),
        pytest.param("production", "staging", id="promotion-shorthand-last"),
        pytest.param("production-eu", "staging", id="explicit-upstream"),
        pytest.param("canary", None, id="extends-does-not-imply-upstream"),
        pytest.param("sandbox", None, id="outside-promotion-without-upstream"),
    ],
)
def test_upstream(fleet: Fleet, name: str, upstream: str | None) -> None:
    assert fleet.environment(name).upstream == upstream


def test_explicit_upstream_beats_the_promotion_shorthand(write_repo: WriteRepo) -> None:
    fleet = load(
        write_repo,
        """
        [fleet]
        name = "demo"
        promotion = ["dev", "staging", "prod"]

        [environments.prod]
        upstream = "dev"
        """,
    )
    assert fleet.environment("prod").upstream == "dev"
    assert fleet.environment("staging").upstream == "dev"


def test_environments_are_promotion_then_tables(fleet: Fleet) -> None:
    assert list(fleet.environments) == [
        "development",
        "staging",
        "production",
        "production-eu",
        "canary",
        "sandbox",
        "perf",
    ]
    assert fleet.environments["production-eu"] == Environment(
        "production-eu", extends="production", upstream="staging", stage="production"
    )
    assert fleet.promotion == ("development", "staging", "production")


def test_chain_is_root_first(fleet: Fleet) -> None:
    assert fleet.chain("canary") == ("production", "production-eu", "canary")
    assert fleet.chain("development") == ("development",)


def test_ordered_environments_put_upstream_first(fleet: Fleet) -> None:
    order = fleet.ordered_environments()
    assert order.index("development") < order.index("staging") < order.index("production")
    assert order.index("staging") < order.index("production-eu")
    assert fleet.downstream("staging") == ("production", "production-eu")


def test_cluster_values(fleet: Fleet) -> None:
    cluster = fleet.cluster("prod-eu-1")
    assert cluster.environment == "production-eu"
    assert cluster.context == "prod-eu-1"
    assert cluster.namespace == "ai-agents"
    assert dict(cluster.labels) == {"region": "eu-west-1", "wave": "2"}
    assert cluster.wave == 2
    assert cluster.kind == "kubernetes"
    assert fleet.clusters_of("production-eu") == (cluster,)


def test_unknown_environment_and_cluster_lookups(fleet: Fleet) -> None:
    with pytest.raises(UnknownTargetError) as caught:
        fleet.environment("prod")
    assert str(caught.value) == (
        "lamina.toml: unknown environment 'prod' (known: canary, development, perf, production, "
        "production-eu, sandbox, staging)"
    )
    with pytest.raises(UnknownTargetError) as caught:
        fleet.cluster("prod-eu-2")
    assert str(caught.value) == "lamina.toml: unknown cluster 'prod-eu-2' (known: prod-eu-1)"


def test_overlays_for_known_environments_and_stray_files_are_fine(write_repo: WriteRepo) -> None:
    fleet = load(
        write_repo,
        """
        [fleet]
        name = "demo"
        promotion = ["dev", "prod"]
        """,
        **{
            "overlays/dev/agent-patch.toml": "[agent]\n",
            "overlays/prod/agent-patch.toml": "[agent]\n",
            "overlays/README.md": "notes\n",
        },
    )
    assert list(fleet.environments) == ["dev", "prod"]


def test_the_init_example_loads(example_repo: Path) -> None:
    fleet = loading.load_fleet(WorkingTree(example_repo))
    assert fleet.name == "support-agent"
    assert {name: (env.stage, env.upstream, env.extends) for name, env in fleet.environments.items()} == {
        "development": ("development", None, None),
        "staging": ("staging", "development", None),
        "production": ("production", "staging", None),
        "production-eu": ("production", "staging", "production"),
    }
    assert [c.name for c in fleet.clusters_of("production")] == ["prod-us-1", "prod-us-2"]


# -- lamina.lock -----------------------------------------------------------------------------

TWO_ENVS = '[fleet]\nname = "demo"\npromotion = ["dev", "prod"]\n'
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def read_pins(write_repo: WriteRepo, lock: str | None) -> dict[str, lockfile.Pin]:
    files = {"lamina.toml": TWO_ENVS}
    if lock is not None:
        files["lamina.lock"] = lock
    tree = WorkingTree(write_repo(files))
    return lockfile.read_pins(tree, loading.load_fleet(tree).environments)


def test_no_lock_file_means_no_pins(write_repo: WriteRepo) -> None:
    assert read_pins(write_repo, None) == {}


def test_lock_file_pins_are_read(write_repo: WriteRepo) -> None:
    lock = f"""
    # written by lamina
    [environments.prod]
    revision = "{COMMIT}"
    set_at   = "2026-11-28T10:00:00+00:00"
    request  = "PR-7"
    """
    assert read_pins(write_repo, lock) == {
        "prod": lockfile.Pin("prod", COMMIT, "2026-11-28T10:00:00+00:00", "PR-7", 3)
    }


@pytest.mark.parametrize(
    ("lock", "message"),
    [
        pytest.param(
            f'[environments.qa]\nrevision = "{COMMIT}"\n',
            "lamina.lock:1: pin for unknown environment 'qa'",
            id="unknown-environment",
        ),
        pytest.param(
            '[environments.prod]\nrevision = "HEAD~1"\n',
            "lamina.lock:2: revision of 'prod' must be a full commit id",
            id="revision-not-a-commit-id",
        ),
        pytest.param(
            '[environments.prod]\nrevision = "0123456"\n',
            "lamina.lock:2: revision of 'prod' must be a full commit id",
            id="abbreviated-commit-id",
        ),
        pytest.param(
            'environments = "prod"\n',
            "lamina.lock:1: [environments] must be a table",
            id="environments-not-a-table",
        ),
        pytest.param(
            "[environments.prod\n",
            "lamina.lock:1:19: invalid TOML: Expected ']' at the end of a table declaration",
            id="malformed",
        ),
    ],
)
def test_bad_lock_file(write_repo: WriteRepo, lock: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        read_pins(write_repo, lock)
    assert str(caught.value) == message
