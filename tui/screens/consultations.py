"""Every consultation of the run in a table: filtered, searched, sorted, live."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Input, Select, Static

from tui import format as fmt
from tui.follow import ConsultationView, RunFollower, Update
from tui.screens.base import RunScreen
from tui.widgets.filters import FilterBar, Filters
from tui.widgets.search import SearchBox

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("id", "consultation", 19),
    ("doctor", "doctor", 11),
    ("organ", "organ", 10),
    ("status", "status", 7),
    ("turns", "turns", 5),
    ("score", "score", 5),
    ("dx", "dx", 7),
    ("persona", "persona", 10),
)
"""(key, label, width) of each column; they fit 80 columns up to ``dx``."""

LIVE_COLUMNS = ("organ", "status", "turns", "score", "dx")
"""Columns that change after a row is added."""


def sort_value(cell: Any) -> tuple[int, float, str]:
    """Sort key of a cell: numbers by value, text alphabetically, blanks last."""
    plain = (cell.plain if isinstance(cell, Text) else str(cell)).strip()
    if plain in ("", "—"):
        return (1, 0.0, "")
    try:
        return (0, float(plain), "")
    except ValueError:
        return (0, 0.0, plain.lower())


class ConsultationsTable(DataTable[Text]):
    """The consultations, one row per consultation keyed by its id."""


class ConsultationsScreen(RunScreen):
    """The run's consultations; enter opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search"),
        Binding("f", "filters", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse", "Reverse", show=False),
        Binding("x", "clear_filters", "Clear", show=False),
    ]

    def __init__(self, follower: RunFollower) -> None:
        """List the consultations of the run ``follower`` follows."""
        super().__init__(follower)
        self.filters = Filters()
        self.sort_column: str | None = None
        self.sort_reverse = False
        self._doctors: set[str] = set()
        self._organs: set[str] = set()
        self._personas: set[str] = set()
        self._shown: dict[str, tuple[str, str, int, float | None, str | None]] = {}
        """Rows in the table, with what their live columns show."""
        self._status_line: Text | None = None

    def compose(self) -> ComposeResult:
        """Filters, search, the table, a status line."""
        yield FilterBar(id="filters")
        yield SearchBox("search id, case, diagnosis, error…", id="search")
        yield ConsultationsTable(id="consultations", cursor_type="row", zebra_stripes=True)
        yield Static(id="table-status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        """Add the columns and the rows the follower knows."""
        table = self.table
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        self.ready = True
        self.sync(None)
        table.focus()

    @property
    def table(self) -> ConsultationsTable:
        """The table."""
        return self.query_one(ConsultationsTable)

    # ------------------------------------------------------------------ rows

    def _live(self, v: ConsultationView) -> tuple[str, str, int, float | None, str | None]:
        """What the live columns show, compared before touching the table."""
        sc = v.score
        return (
            v.organ_system,
            v.rec.status,
            v.turns,
            sc.overall if sc else None,
            sc.diagnosis if sc else None,
        )

    def _cells(self, v: ConsultationView) -> dict[str, Text]:
        rec = v.rec
        organ, status, turns, overall, dx = self._live(v)
        return {
            "id": Text(fmt.short_id(rec.id, self.follower.run_id), overflow="ellipsis", no_wrap=True),
            "doctor": Text(fmt.model(rec.doctor), style="cyan", overflow="ellipsis", no_wrap=True),
            "persona": Text(rec.persona, overflow="ellipsis", no_wrap=True),
            "organ": Text(organ, overflow="ellipsis", no_wrap=True),
            "status": fmt.status(status),
            "turns": fmt.right(str(turns), 5),
            "score": fmt.right(fmt.score(overall), 5),
            "dx": Text(dx or "—", style=fmt.DIAGNOSIS_STYLE.get(dx, "") if dx else "dim"),
        }

    def _apply(self, v: ConsultationView) -> bool:
        """Add, update or drop one row; return whether the table changed."""
        table = self.table
        shown = v.id in self._shown
        if not self.filters.matches(v):
            if shown:
                table.remove_row(v.id)
                del self._shown[v.id]
            return shown
        live = self._live(v)
        if shown:
            before = self._shown[v.id]
            if before == live:
                # Most polls change a row's turn count only, or nothing: every
                # update_cell makes the table redraw, so touch what changed.
                return False
            cells = self._cells(v)
            for i, key in enumerate(LIVE_COLUMNS):
                if before[i] != live[i]:
                    table.update_cell(v.id, key, cells[key])
        else:
            cells = self._cells(v)
            table.add_row(*(cells[k] for k, _, _ in COLUMNS), key=v.id)
        self._shown[v.id] = live
        return True

    def _note_choices(self, views: list[ConsultationView]) -> None:
        grew = False
        for v in views:
            for values, value in (
                (self._doctors, v.rec.doctor),
                (self._organs, v.organ_system),
                (self._personas, v.rec.persona),
            ):
                if value and value not in values:
                    values.add(value)
                    grew = True
        if grew:
            self.query_one(FilterBar).set_choices(self._doctors, self._organs, self._personas)

    def sync(self, update: Update | None) -> None:
        """Apply changed consultations to the table, then re-sort if sorted."""
        f = self.follower
        if update is None:
            views = f.changed_since(self.synced_version) if self.synced_version >= 0 else list(f.views.values())
        else:
            views = [f.views[i] for i in update.changed if i in f.views]
        self._note_choices(views)
        touched = False
        for v in views:
            touched = self._apply(v) or touched
        if touched and self.sort_column is not None:
            self._sort()
        self._status()
        self.synced_version = f.version

    def rebuild(self) -> None:
        """Show the rows that pass the filters, from scratch (after a filter changes)."""
        table = self.table
        table.clear()
        self._shown.clear()
        for v in self.follower.views.values():
            self._apply(v)
        if self.sort_column is not None:
            self._sort()
        self._status()

    def _sort(self) -> None:
        table = self.table
        if self.sort_column is None or not table.row_count:
            return
        keep = None
        if table.is_valid_row_index(table.cursor_row):
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        table.sort(self.sort_column, key=sort_value, reverse=self.sort_reverse)
        if keep is not None:
            table.move_cursor(row=table.get_row_index(keep), scroll=False)

    def _status(self) -> None:
        table = self.table
        total = len(self.follower.views)
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"{table.row_count}", style="bold")
        line.append(f" of {total} consultations")
        if self.filters.active:
            line.append(" (filtered: x clears)", style="yellow")
        if self.sort_column is not None:
            label = next(lbl for k, lbl, _ in COLUMNS if k == self.sort_column)
            line.append(f" · sorted by {label} {'▼' if self.sort_reverse else '▲'}", style="dim")
        if line != self._status_line:
            self._status_line = line
            self.query_one("#table-status", Static).update(line, layout=False)

    # ------------------------------------------------------------------ events

    def on_filter_bar_changed(self, event: FilterBar.Changed) -> None:
        """Re-filter when a select changes."""
        self.filters = Filters(
            doctor=event.filters.doctor,
            status=event.filters.status,
            organ=event.filters.organ,
            persona=event.filters.persona,
            score=event.filters.score,
            text=self.filters.text,
        )
        self.rebuild()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Re-filter as search words are typed."""
        if event.input.id == "search":
            bar = self.query_one(FilterBar)
            self.filters = bar.filters(text=event.value.strip())
            self.rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Go back to the table with the search kept."""
        self.table.focus()

    def on_search_box_closed(self, _event: SearchBox.Closed) -> None:
        """Return focus to the table."""
        self.table.focus()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Sort by the clicked column; clicking it again reverses."""
        key = str(event.column_key.value)
        if self.sort_column == key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = key, False
        self._sort()
        self._status()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open the consultation."""
        if event.row_key.value:
            self.arena.open_consultation(event.row_key.value)

    # ------------------------------------------------------------------ actions

    def action_search(self) -> None:
        """Show the search box."""
        self.query_one(SearchBox).open()

    def action_filters(self) -> None:
        """Focus the first filter (tab moves to the next, enter opens one)."""
        self.query_one("#f-doctor", Select).focus()

    def action_sort(self) -> None:
        """Sort by the next column (then back to the order started)."""
        keys = [k for k, _, _ in COLUMNS]
        if self.sort_column is None:
            self.sort_column = keys[0]
        else:
            i = keys.index(self.sort_column) + 1
            self.sort_column = keys[i] if i < len(keys) else None
        self.sort_reverse = False
        if self.sort_column is None:
            self.rebuild()
        else:
            self._sort()
            self._status()

    def action_reverse(self) -> None:
        """Reverse the sort order."""
        if self.sort_column is None:
            self.sort_column = "id"
        self.sort_reverse = not self.sort_reverse
        self._sort()
        self._status()

    def action_clear_filters(self) -> None:
        """Clear every filter and the search."""
        bar = self.query_one(FilterBar)
        for select in bar.query(Select):
            select.clear()
        search = self.query_one(SearchBox)
        search.value = ""
        self.filters = Filters()
        self.rebuild()
