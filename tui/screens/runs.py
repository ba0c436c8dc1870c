"""Every run in the database, newest first; enter opens one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from arena.core.queries import RunListing
from tui import format as fmt

if TYPE_CHECKING:
    from tui.app import ArenaApp

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("name", "name", 16),
    ("started", "started", 12),
    ("status", "status", 10),
    ("done", "done", 5),
    ("flight", "flight", 6),
    ("failed", "failed", 6),
    ("cost", "cost", 7),
)
"""(key, label, width) of each column."""


class RunsScreen(Screen[None]):
    """The runs list. Live runs' counts are refreshed; finished runs are read once."""

    def __init__(self, note: str = "") -> None:
        """Create the list; ``note`` is shown above it (e.g. what the app waits for)."""
        super().__init__()
        self.note = note
        self._newest: Any = None
        self._listings: dict[str, RunListing] = {}
        self.ready = False

    @property
    def arena(self) -> ArenaApp:
        """The app, typed."""
        return cast("ArenaApp", self.app)

    def compose(self) -> ComposeResult:
        """A note line, the table, the footer."""
        note = Static(self.note, id="runs-note")
        note.display = bool(self.note)
        yield note
        table: DataTable[Text] = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        table.border_title = "runs"
        yield table
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        """Add the columns and list the runs."""
        table = self.query_one("#runs", DataTable)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        self.ready = True
        self.refresh_runs()
        table.focus()

    def on_screen_resume(self) -> None:
        """Refresh when shown again."""
        self.refresh_runs()

    def set_note(self, note: str) -> None:
        """Change the line above the table."""
        self.note = note
        if not self.is_mounted:
            return
        line = self.query_one("#runs-note", Static)
        line.update(note)
        line.display = bool(note)

    def refresh_runs(self) -> None:
        """Re-list every run if a run was added, else refresh the live runs only."""
        if not self.ready:
            return
        store = self.arena.store
        newest = store.newest_run_time()
        if newest != self._newest or not self._listings:
            self._newest = newest
            listings = store.run_listings()
        else:
            live = [k for k, v in self._listings.items() if v.run.status == "running"]
            if not live:
                return
            listings = store.run_listings(live)
        for listing in listings:
            self._listings[listing.run.id] = listing
        self._draw(listings)

    def _draw(self, listings: list[RunListing]) -> None:
        table = self.query_one("#runs", DataTable)
        ordered = sorted(self._listings.values(), key=lambda x: x.run.created_at, reverse=True)
        if [str(k.value) for k in table.rows] != [x.run.id for x in ordered]:
            table.clear()
            for x in ordered:
                table.add_row(*self._cells(x), key=x.run.id)
        else:
            for x in listings:
                for key, cell in zip((k for k, _, _ in COLUMNS), self._cells(x), strict=True):
                    table.update_cell(x.run.id, key, cell)
        table.border_subtitle = f"{len(ordered)} run(s) · enter opens"

    @staticmethod
    def _cells(x: RunListing) -> list[Text]:
        return [
            Text(x.run.name, style="bold", overflow="ellipsis", no_wrap=True),
            Text(fmt.short_stamp(x.run.created_at)),
            fmt.status(x.run.status),
            fmt.right(str(x.done), 5, "green"),
            fmt.right(str(x.running), 6, "yellow" if x.running else "dim"),
            fmt.right(str(x.failed), 6, "red" if x.failed else "dim"),
            fmt.right(fmt.cost(x.cost_usd), 7),
        ]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open the run."""
        if event.row_key.value:
            self.arena.run_worker(self.arena.open_run(event.row_key.value), exclusive=True, group="open-run")
