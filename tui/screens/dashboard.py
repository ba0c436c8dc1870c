"""The run dashboard: progress with ETA, throughput, cost by role, scores by doctor, failures."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer

from tui.follow import Update
from tui.screens.base import RunScreen
from tui.widgets.dashboard import (
    DoctorTable,
    FailureTable,
    ProgressPanel,
    RunTitle,
    UsageTable,
    render_title,
)


class DashboardScreen(RunScreen):
    """Where the run stands, redrawn on every poll while it runs."""

    def compose(self) -> ComposeResult:
        """Title, progress, the two small tables, failures."""
        yield RunTitle(id="run-title")
        yield ProgressPanel(id="progress")
        with Horizontal(id="dash-tables"):
            usage = UsageTable(id="usage")
            usage.border_title = "cost and tokens by role"
            yield usage
            doctors = DoctorTable(id="doctors")
            doctors.border_title = "scores by doctor"
            yield doctors
        failures = FailureTable(id="failures")
        failures.border_title = "failures"
        yield failures
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        """Draw what the follower knows already."""
        self.ready = True
        self.sync(None)

    def follow(self, update: Update) -> None:
        """Redraw on every poll of a live run (elapsed time and ETA move), else on change."""
        live = self.follower.run is not None and self.follower.run.status == "running"
        if self.ready and (live or not update.empty):
            self.sync(update)

    def sync(self, update: Update | None) -> None:
        """Redraw every panel from the follower (they are small)."""
        f = self.follower
        run = f.run
        # Fixed-height lines: no layout pass needed when they change.
        self.query_one(RunTitle).update(render_title(run, waiting_for=None if run else f.run_id), layout=False)
        self.query_one(ProgressPanel).show(f.progress(), live=run is not None and run.status == "running")
        self.query_one(UsageTable).show(f.usage_rows())
        self.query_one(DoctorTable).show(f.doctor_rows())
        failures = self.query_one(FailureTable)
        failures.add_failures(f.failures, f.run_id)
        failures.border_subtitle = str(len(f.failures)) if f.failures else "none"
        self.synced_version = f.version

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open a failed consultation."""
        if event.data_table.id == "failures" and event.row_key.value:
            self.arena.open_consultation(event.row_key.value)
