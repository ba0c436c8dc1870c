"""How often the garbage collector runs in the processes that play and store consultations.

Each model call makes thousands of short-lived dicts and objects. With CPython's defaults the
collector ran after every 700 of them, and now and then walked the whole heap: the imported
modules, the knowledge base, the run's cases and every consultation in flight. With 1,000
consultations in flight that was a quarter of the CPU of an actor and of the driver alike.
Reference counting still frees at once everything that is not part of a cycle.
"""

from __future__ import annotations

import gc

COLLECTOR_THRESHOLDS = (50_000, 20, 10)
"""Collect the youngest objects after 50,000 new ones (CPython: 700), the older generations as CPython does."""


def collect_less_often() -> None:
    """Set :data:`COLLECTOR_THRESHOLDS` for this process."""
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


def settle_heap() -> None:
    """For a worker ready to play: what exists now lives as long as the process, so no collection walks it again.

    Called once, before any consultation: what a consultation leaves in a cycle must stay collectable.
    """
    gc.freeze()
    collect_less_often()
