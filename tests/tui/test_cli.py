from __future__ import annotations

import threading
from typing import Any

import pytest

from arena.core.store import Store, StoreError
from tests.tui import data
from tests.tui.conftest import wait_for
from tui import cli
from tui.app import ArenaApp
from tui.screens.dashboard import DashboardScreen


def test_watch_refuses_an_unknown_run(db_url, finished):
    with pytest.raises(StoreError, match="no run 'nope'"):
        cli.watch("nope", db_url)


def test_run_app_in_process_follows_a_run_written_by_another_thread(db_url, store, monkeypatch):
    """What `arena simulate --tui` does: the app in the main thread, the simulation in another."""
    seen: dict[str, Any] = {}
    go = threading.Event()

    def simulate() -> None:
        go.wait(10)
        writer = Store(db_url)
        bank = data.cases()
        data.create_run(writer, "run-live", name="live", n_cases=2)
        for case_id in ("gord", "dka"):
            cid = data.start(writer, bank[case_id], run_id="run-live")
            writer.add_turns("run-live", data.script(bank[case_id], cid, data.T0)[:4])

    original_run = ArenaApp.run

    def headless_run(self: ArenaApp, **_kw: Any) -> None:
        async def pilot(p) -> None:
            # The run does not exist yet when the app starts: it waits, then follows it.
            go.set()
            await wait_for(p, lambda: isinstance(self.screen, DashboardScreen) and self.screen.ready, timeout=10)
            follower = self.follower
            assert follower is not None
            await wait_for(p, lambda: sum(v.turns for v in follower.views.values()) == 8)
            seen["run"] = follower.run_id
            seen["consultations"] = len(follower.views)
            self.exit()

        original_run(self, headless=True, size=(80, 24), auto_pilot=pilot)

    monkeypatch.setattr(ArenaApp, "run", headless_run)
    thread = threading.Thread(target=simulate)
    thread.start()
    cli.run_app_in_process(db_url, "run-live")
    thread.join()
    assert seen == {"run": "run-live", "consultations": 2}
