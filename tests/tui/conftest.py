from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import pytest
from textual.pilot import Pilot

from tests.tui import data

POLL_S = 0.05
"""Poll interval the tests give the app: fast, so waiting for a poll is short."""


NOW = data.at(60)
"""What the tests' clock says: a minute after the runs start."""


def fixed_clock(when: datetime = NOW) -> Callable[[], datetime]:
    """A wall clock stopped at ``when``: elapsed time and ETA do not move."""
    return lambda: when


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until ``condition`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await pilot.pause(POLL_S)
    await pilot.pause()


@pytest.fixture
def anyio_backend() -> str:
    # Pilot tests are async; anyio's pytest plugin runs them on asyncio (Textual's loop).
    return "asyncio"


@pytest.fixture
def finished(store):
    """A judged and distilled run (see ``data.finished_run``)."""
    return data.finished_run(store)
