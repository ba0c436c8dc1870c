"""Entry points: ``arena watch`` and the in-process app of ``arena simulate --tui``."""

from __future__ import annotations

from arena.store import Store, StoreError, resolve_db_url
from tui.queries import find_run


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
    store = Store(url)
    if run is not None and run != "latest" and find_run(store.engine, run) is None:
        raise StoreError(f"no run {run!r} in {url} (see `arena runs`)")
    ArenaApp(url, run).run()


def run_app_in_process(store_url: str, run_id: str | None) -> None:
    """Run the app in this process while a simulation writes in another thread.

    Call it from the main thread (Textual needs the terminal and the signal
    handlers); the app opens its own engine on ``store_url`` and only reads,
    so it needs nothing from the writer. Create the writer's
    :class:`~arena.store.Store` before calling this, so the schema exists
    before two processes race to migrate it. A run that is not there yet is
    waited for. Returns when the user quits; the simulation is left running.

    Args:
        store_url: SQLAlchemy URL the simulation writes to.
        run_id: The run to follow (None: the newest).
    """
    from tui.app import ArenaApp

    ArenaApp(store_url, run_id).run()
