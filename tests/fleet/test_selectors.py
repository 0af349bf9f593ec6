"""Label selectors choose clusters the way ``kubectl -l`` does: ``k=v,k2!=v2,k3,!k4``."""

from __future__ import annotations

import pytest

from lamina.errors import InputError
from lamina.fleet.selectors import Requirement, Selector

PARSED = [
    pytest.param("region=eu", [Requirement("region", "=", "eu")], id="equals"),
    pytest.param("region==eu", [Requirement("region", "=", "eu")], id="double-equals"),
    pytest.param("region!=eu", [Requirement("region", "!=", "eu")], id="not-equals"),
    pytest.param("wave", [Requirement("wave", "exists")], id="exists"),
    pytest.param("!wave", [Requirement("wave", "!exists")], id="does-not-exist"),
    pytest.param(
        " region = eu , wave ",
        [Requirement("region", "=", "eu"), Requirement("wave", "exists")],
        id="spaces-around-clauses",
    ),
    pytest.param(
        "region=eu,wave!=1,tier,!canary",
        [
            Requirement("region", "=", "eu"),
            Requirement("wave", "!=", "1"),
            Requirement("tier", "exists"),
            Requirement("canary", "!exists"),
        ],
        id="all-operators",
    ),
    pytest.param("tier=", [Requirement("tier", "=", "")], id="empty-value"),
]


@pytest.mark.parametrize(("text", "requirements"), PARSED)
def test_parse(text: str, requirements: list[Requirement]) -> None:
    assert Selector.parse(text) == Selector(tuple(requirements))


@pytest.mark.parametrize("text", [None, ""])
def test_empty_selector_matches_everything(text: str | None) -> None:
    selector = Selector.parse(text)
    assert selector == Selector()
    assert selector.matches({})
    assert selector.matches({"region": "eu"})


LABELS = {"region": "eu-west-1", "wave": "2"}

MATCHES = [
    pytest.param("region=eu-west-1", True, id="equal-value"),
    pytest.param("region=us-east-1", False, id="other-value"),
    pytest.param("zone=a", False, id="equals-on-missing-key"),
    pytest.param("region!=us-east-1", True, id="not-equal-other-value"),
    pytest.param("region!=eu-west-1", False, id="not-equal-same-value"),
    pytest.param("zone!=a", True, id="not-equal-on-missing-key"),
    pytest.param("wave", True, id="exists"),
    pytest.param("zone", False, id="exists-missing"),
    pytest.param("!zone", True, id="not-exists-missing"),
    pytest.param("!wave", False, id="not-exists-present"),
    pytest.param("region=eu-west-1,wave=2", True, id="all-clauses-hold"),
    pytest.param("region=eu-west-1,wave=1", False, id="one-clause-fails"),
    pytest.param("wave=02", False, id="values-compare-as-text"),
]


@pytest.mark.parametrize(("text", "matches"), MATCHES)
def test_matches(text: str, matches: bool) -> None:
    assert Selector.parse(text).matches(LABELS) is matches


ERRORS = [
    pytest.param("region=eu,,wave", "selector 'region=eu,,wave' has an empty clause", id="empty-clause"),
    pytest.param("region=eu,", "selector 'region=eu,' has an empty clause", id="trailing-comma"),
    pytest.param("=eu", "selector '=eu': clause '=eu' has no key", id="no-key"),
    pytest.param("!=eu", "selector '!=eu': clause '!=eu' has no key", id="no-key-not-equals"),
    pytest.param("!", "selector '!': clause '!' has no key", id="bare-bang"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_malformed_selector(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        Selector.parse(text)
    assert str(caught.value) == message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("my region=eu", id="space-inside-a-key"),
        pytest.param("region=eu=west", id="equals-sign-inside-a-value"),
        pytest.param("region!==eu", id="three-character-operator"),
    ],
)
def test_clauses_kubectl_would_refuse_are_refused(text: str) -> None:
    # Silently turning these into odd keys or values would select no cluster (or the wrong ones).
    with pytest.raises(InputError, match=r"^selector "):
        Selector.parse(text)


def test_set_based_clause_is_understood_or_refused() -> None:
    try:
        selector = Selector.parse("region in (eu-west-1,us-east-1)")
    except InputError:
        return
    assert selector.matches({"region": "eu-west-1"})
    assert selector.matches({"region": "us-east-1"})
    assert not selector.matches({"region": "ap-south-1"})
