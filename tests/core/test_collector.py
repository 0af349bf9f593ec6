import gc
from collections.abc import Iterator

import pytest

from lamina.core import collector


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_paused_turns_the_collector_off_and_back_on() -> None:
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_paused_inside_paused_leaves_it_off_until_the_outer_block_ends() -> None:
    with collector.paused():
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_paused_restores_the_collector_when_the_block_raises() -> None:
    with pytest.raises(ValueError, match=r"^bad$"), collector.paused():
        raise ValueError("bad")
    assert gc.isenabled()


def test_paused_keeps_a_collector_that_was_off_off() -> None:
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()
