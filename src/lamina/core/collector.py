"""Pausing Python's cyclic garbage collector while lamina builds many long-lived objects.

Loading a fleet file of 10,000 clusters makes a few hundred thousand dicts, lists and tuples
that all live on. The collector, left running, walks them again and again while they are being
made (each full pass over the whole heap, which grows with the fleet), so the load grew faster
than the fleet. Nothing made there forms a cycle that needs the collector, so it waits until
the load is done and then sees the new objects once.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Run the block with the cyclic collector off; restore it as it was (nesting is fine)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
