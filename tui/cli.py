"""Entry points: ``arena watch`` and the in-process app of ``arena simulate --tui``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from arena.core.store import Store, display_url, fully_migrated, resolve_db_url, sqlite_file


def watch(run: str | None, db: str | None) -> None:
    """Run the app on a run of a store until the user quits.

    Args:
        run: Run id, run name or ``latest``; None opens the newest run (or
            waits for the first one).
        db: SQLAlchemy URL; default ``ARENA_DB``, else ``./arena.db``.

    Raises:
        StoreError: if the database cannot be opened or has no such run.
    """
    from tui.app import ArenaApp

    url = resolve_db_url(db)
    wait_for_database(url)
    store = Store(url, create=False)
    if run is not None and run != "latest":
        store.get_run(run)  # raises on an unknown run; ``latest`` may not exist yet and is waited for
    ArenaApp(url, run).run()


WAIT_POLL_S = 0.5
"""How often ``arena watch`` looks for a database that is not there yet."""


def wait_for_database(url: str, poll_s: float = WAIT_POLL_S, on_wait: Callable[[str], None] | None = None) -> None:
    """Return once the SQLite file ``url`` names exists; never create it.

    ``arena watch`` may be started before the run that makes the database.
    Other databases are taken to exist; opening the store says if not.

    Args:
        url: SQLAlchemy URL.
        poll_s: Seconds between looks.
        on_wait: Called once with a line to show while waiting (default: stderr).
    """
    path = sqlite_file(url)
    if path is None or path.exists():
        return
    (on_wait or _say)(f"waiting for {display_url(url)} to be made by a run (Ctrl-C to stop)...")
    while not path.exists():
        time.sleep(poll_s)
    # The writer creates the file, then its tables: wait until they are there too.
    while not fully_migrated(url):
        time.sleep(poll_s)


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def run_app_in_process(store_url: str, run_id: str | None) -> None:
    """Run the app in this process while a simulation writes in another thread.

    Call it from the main thread (Textual needs the terminal and the signal
    handlers); the app opens its own engine on ``store_url`` and only reads,
    so it needs nothing from the writer. Create the writer's
    :class:`~arena.core.store.Store` before calling this, so the schema exists
    before two processes race to migrate it. A run that is not there yet is
    waited for. Returns when the user quits; the simulation is left running.

    Args:
        store_url: SQLAlchemy URL the simulation writes to.
        run_id: The run to follow (None: the newest).
    """
    from tui.app import ArenaApp

    ArenaApp(store_url, run_id).run()
