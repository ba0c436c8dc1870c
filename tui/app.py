"""The Textual app: follow a run live from the store, or replay a finished one.

The app never talks to the engine: a timer polls the store every
``poll_interval`` seconds, the queries run in a worker thread
(:func:`tui.follow.fetch_delta`), and the changes are applied on the event
loop and handed to the screen on top.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from sqlalchemy.exc import SQLAlchemyError
from textual.app import App
from textual.binding import Binding, BindingType

from arena.core.errors import error_line
from arena.core.store import Store
from arena.core.types import utcnow
from tui.follow import RunFollower, Update, fetch_delta
from tui.screens.base import RunScreen
from tui.screens.browse import MistakesScreen, QAScreen
from tui.screens.consultation import ConsultationScreen
from tui.screens.consultations import ConsultationsScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.runs import RunsScreen

RUN_SCREENS = ("dashboard", "consultations", "mistakes", "qa")
"""Screens that show the open run; made afresh when another run is opened."""


class ArenaApp(App[None]):
    """Follow a run: dashboard, consultations, transcripts, verdicts, mistakes, QA."""

    CSS_PATH = "app.tcss"
    TITLE = "medarena"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012 - Textual reads it off the class
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("r", "show('runs')", "Runs"),
        Binding("d", "show('dashboard')", "Dash"),
        Binding("c", "show('consultations')", "Consults"),
        Binding("m", "show('mistakes')", "Mistakes"),
        Binding("a", "show('qa')", "QA"),
    ]

    def __init__(
        self,
        store_url: str,
        run_ref: str | None = None,
        *,
        poll_interval: float = 0.5,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Open the store; the run is resolved when the app starts.

        Args:
            store_url: SQLAlchemy URL of the store.
            run_ref: Run id, name or ``latest``; None opens the newest run. A
                run that does not exist yet is waited for.
            poll_interval: Seconds between polls of the store.
            clock: Wall clock for elapsed time and ETA (tests fix it).
        """
        super().__init__()
        self.store = Store(store_url, create=False)
        self.run_ref = run_ref
        self.poll_interval = poll_interval
        self.clock = clock
        self.follower: RunFollower | None = None
        self.refresh_times: deque[float] = deque(maxlen=20_000)
        """Seconds each poll took, from starting its queries to the screen updated."""
        self.polls = 0
        self._lock = asyncio.Lock()
        self._last_runs_refresh = 0.0
        self._error_shown = False

    async def on_mount(self) -> None:
        """Open the run asked for (or the newest), else list the runs, then start polling."""
        self.install_screen(RunsScreen(), "runs")
        run = await asyncio.to_thread(self.store.find_run, self.run_ref)
        if run is not None:
            await self.open_run(run.id)
        else:
            await self.push_screen("runs")
            runs = self.get_screen("runs")
            assert isinstance(runs, RunsScreen)
            runs.set_note(f"Waiting for run {self.run_ref!r}…" if self.run_ref else "No runs yet: waiting for one…")
        self.set_interval(self.poll_interval, self._tick)

    # ------------------------------------------------------------------ runs

    async def open_run(self, run_id: str) -> None:
        """Follow ``run_id``: read it, make its screens and show its dashboard."""
        # Judging and distilling are checked every few polls, not every poll.
        follower = RunFollower(self.store, run_id, clock=self.clock, signature_every_s=4 * self.poll_interval)
        async with self._lock:
            delta = await asyncio.to_thread(fetch_delta, self.store, follower.fetch_state())
            follower.apply(delta)
            self.follower = follower
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        for name in RUN_SCREENS:
            if self.is_screen_installed(name):
                old = self.get_screen(name)
                self.uninstall_screen(name)
                if old.is_mounted:
                    await old.remove()
        self.install_screen(DashboardScreen(follower), "dashboard")
        self.install_screen(ConsultationsScreen(follower), "consultations")
        self.install_screen(MistakesScreen(follower), "mistakes")
        self.install_screen(QAScreen(follower), "qa")
        await self.push_screen("dashboard")
        runs = self.get_screen("runs")
        if isinstance(runs, RunsScreen) and runs.is_mounted:
            runs.set_note("")

    def open_consultation(self, consultation_id: str) -> None:
        """Show one consultation over the current screen (escape goes back)."""
        if self.follower is not None:
            self.push_screen(ConsultationScreen(self.follower, consultation_id))

    async def action_show(self, name: str) -> None:
        """Switch to one of the main screens."""
        if name != "runs" and self.follower is None:
            self.notify("No run open yet.", severity="warning", timeout=2)
            return
        while len(self.screen_stack) > 2:
            await self.pop_screen()
        target = self.get_screen(name)
        if len(self.screen_stack) < 2:
            await self.push_screen(name)
        elif self.screen is not target:
            await self.switch_screen(name)
        if isinstance(target, RunsScreen):
            target.refresh_runs()

    # ------------------------------------------------------------------ polling

    async def _tick(self) -> None:
        self.polls += 1
        if not self.is_running:
            return
        try:
            if self.follower is None:
                run = await asyncio.to_thread(self.store.find_run, self.run_ref)
                if run is not None:
                    await self.open_run(run.id)
            else:
                update = await self.poll_once()
                if update is not None and update.more:
                    # A backlog of turns (a replayed or fast run): keep reading.
                    self.call_later(self.poll_once)
            now = time.monotonic()
            if not self.is_running:
                return
            # The runs list refreshes every few polls while it is shown.
            if isinstance(self.screen, RunsScreen) and now - self._last_runs_refresh >= 4 * self.poll_interval:
                self._last_runs_refresh = now
                self.screen.refresh_runs()
            self._error_shown = False
        except SQLAlchemyError as exc:
            # A busy or briefly unreachable database: say so once, retry next tick.
            if self.follower is not None:
                self.follower.resync()
            if not self._error_shown:
                self._error_shown = True
                self.notify(error_line(exc, limit=200), title="store", severity="error", timeout=5)

    async def poll_once(self) -> Update | None:
        """Read what changed since the last poll and show it; None when no run is open."""
        follower = self.follower
        if follower is None:
            return None
        async with self._lock:
            t0 = time.perf_counter()
            delta = await asyncio.to_thread(fetch_delta, self.store, follower.fetch_state())
            if follower is not self.follower or not self.is_running:
                # Another run was opened, or the app is shutting down and its
                # screens are going: drop what was read.
                return None
            update = follower.apply(delta)
            screen = self.screen
            if isinstance(screen, RunScreen) and screen.follower is follower:
                # One repaint for everything this poll changed.
                with self.batch_update():
                    screen.follow(update)
            self.refresh_times.append(time.perf_counter() - t0)
        return update


def make_app(
    store_url: str,
    run_ref: str | None = None,
    *,
    poll_interval: float = 0.5,
    clock: Callable[[], datetime] = utcnow,
) -> ArenaApp:
    """Build the app (the factory tests and the CLI use).

    Args:
        store_url: SQLAlchemy URL of the store.
        run_ref: Run id, name or ``latest``; None for the newest run.
        poll_interval: Seconds between polls of the store.
        clock: Wall clock for elapsed time and ETA.

    Returns:
        The app, not yet running.
    """
    return ArenaApp(store_url, run_ref, poll_interval=poll_interval, clock=clock)
