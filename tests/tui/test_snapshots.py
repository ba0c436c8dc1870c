"""SVG snapshots of every screen at 80x24 on fixed data (``pytest --snapshot-update`` regenerates them)."""

from __future__ import annotations

import pytest

from tests.tui.conftest import fixed_clock, wait_for
from tests.tui.test_app import finish, live_run
from tui.app import ArenaApp, make_app
from tui.screens.browse import MistakesScreen, QAScreen
from tui.screens.consultation import ConsultationScreen
from tui.screens.consultations import ConsultationsScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.runs import RunsScreen

SIZE = (80, 24)


def app_for(url: str) -> ArenaApp:
    # A slow poll: the data does not change, fewer redraws to wait for.
    return make_app(url, poll_interval=0.5, clock=fixed_clock())


def opened(kind: type, consultation: str | None = None):
    """A ``run_before`` that waits for the dashboard, then for ``kind`` (opening a consultation if given)."""

    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.ready)
        if consultation is not None:
            app.open_consultation(consultation)
        await wait_for(pilot, lambda: isinstance(app.screen, kind) and getattr(app.screen, "ready", True))

    return run_before


def test_dashboard(snap_compare, db_url, finished):
    assert snap_compare(app_for(db_url), terminal_size=SIZE, run_before=opened(DashboardScreen))


def test_dashboard_of_a_live_run(snap_compare, db_url, store):
    a, *_rest = live_run(store, n=3)
    finish(store, a, "acs-stemi", 3)
    assert snap_compare(app_for(db_url), terminal_size=SIZE, run_before=opened(DashboardScreen))


@pytest.mark.parametrize(
    ("key", "kind"),
    [("r", RunsScreen), ("c", ConsultationsScreen), ("m", MistakesScreen), ("a", QAScreen)],
    ids=["runs", "consultations", "mistakes", "qa"],
)
def test_screen(snap_compare, db_url, finished, key, kind):
    async def run_before(pilot) -> None:
        await opened(DashboardScreen)(pilot)
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind) and getattr(pilot.app.screen, "ready", True))

    assert snap_compare(app_for(db_url), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("keys", [(), ("pagedown",), ("v",)], ids=["start", "guard-exam-test", "verdicts"])
def test_consultation(snap_compare, db_url, finished, keys):
    assert snap_compare(
        app_for(db_url),
        press=keys,
        terminal_size=SIZE,
        run_before=opened(ConsultationScreen, finished[0].id),
    )


def test_live_consultation(snap_compare, db_url, store):
    [a, _b] = live_run(store, turns=8)
    assert snap_compare(app_for(db_url), terminal_size=SIZE, run_before=opened(ConsultationScreen, a))
