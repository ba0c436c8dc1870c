"""Mistakes and QA items: a searchable table over a detail pane, with a jump to the source."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Generic, TypeVar

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Input, Static

from arena.core.types import RISK_ORDER, Mistake, QAItem
from tui import format as fmt
from tui.follow import RunFollower, Update
from tui.screens.base import RunScreen
from tui.widgets.search import SearchBox

R = TypeVar("R", Mistake, QAItem)

"""Where each risk level sorts in the mistakes table: riskiest first."""


def riskiest_first(mistakes: Iterable[Mistake]) -> list[Mistake]:
    """Return mistakes riskiest first, then by consultation and id."""
    return sorted(mistakes, key=lambda m: (-RISK_ORDER[m.risk], m.consultation_id, m.id))


class BrowseScreen(RunScreen, Generic[R]):
    """A table of records over the highlighted record's detail.

    The records are read when the screen opens and again only when the run's
    distillation signature changes.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search"),
        Binding("g", "goto", "Go to consultation"),
    ]

    columns: Sequence[tuple[str, str, int | None]] = ()
    """(key, label, width) of each column; width None takes the rest."""
    noun = "records"

    def __init__(self, follower: RunFollower, *, name: str | None = None) -> None:
        """Browse records of the run ``follower`` follows."""
        super().__init__(follower, name=name)
        self.records: list[R] = []
        self.by_id: dict[str, R] = {}
        self.text = ""

    def compose(self) -> ComposeResult:
        """Search, table, detail, footer."""
        yield SearchBox(f"search {self.noun}…", id="search")
        yield DataTable[Text](id="records", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="detail-pane"):
            yield Static(id="detail")
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> DataTable[Text]:
        """The table."""
        return self.query_one("#records", DataTable)

    def on_mount(self) -> None:
        """Add the columns and read the records."""
        for key, label, width in self.columns:
            self.table.add_column(label, key=key, width=width)
        self.ready = True
        self.reload()
        self.table.focus()

    # -------------------------------------------------------------- to implement

    def load(self) -> list[R]:
        """Read the records from the store."""
        raise NotImplementedError

    def cells(self, record: R) -> list[Text]:
        """The row of one record."""
        raise NotImplementedError

    def detail(self, record: R) -> RenderableType:
        """The detail of one record."""
        raise NotImplementedError

    def haystack(self, record: R) -> str:
        """The text the search looks in."""
        raise NotImplementedError

    def consultation_of(self, record: R) -> str | None:
        """The consultation a record came from."""
        raise NotImplementedError

    # -------------------------------------------------------------- behaviour

    def reload(self) -> None:
        """Read the records again and redraw the table."""
        self.records = self.load()
        self.by_id = {self.key(r): r for r in self.records}
        self.refill()

    @staticmethod
    def key(record: R) -> str:
        """The row key of a record."""
        return record.id

    def refill(self) -> None:
        """Show the records that match the search."""
        table = self.table
        table.clear()
        words = self.text.lower().split()
        for r in self.records:
            if words:
                hay = self.haystack(r).lower()
                if not all(w in hay for w in words):
                    continue
            table.add_row(*self.cells(r), key=self.key(r))
        table.border_title = f"{self.noun}: {table.row_count}" + (
            f" of {len(self.records)}" if table.row_count != len(self.records) else ""
        )
        self._show_detail()

    def _current(self) -> R | None:
        table = self.table
        if not table.row_count or not table.is_valid_row_index(table.cursor_row):
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.by_id.get(key or "")

    def _show_detail(self) -> None:
        record = self._current()
        detail = self.query_one("#detail", Static)
        if record is None:
            detail.update(Text(f"No {self.noun} yet." if not self.records else "Nothing matches.", style="dim"))
        else:
            detail.update(self.detail(record))

    def sync(self, update: Update | None) -> None:
        """Re-read the records when the run was re-distilled."""
        if update is None or update.distillation_changed:
            self.reload()
        self.synced_version = self.follower.version

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        """Show the highlighted record."""
        self._show_detail()

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        """Enter opens the source consultation."""
        self.action_goto()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter as search words are typed."""
        self.text = event.value.strip()
        self.refill()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        """Back to the table, search kept."""
        self.table.focus()

    def on_search_box_closed(self, _event: SearchBox.Closed) -> None:
        """Back to the table."""
        self.table.focus()

    def action_search(self) -> None:
        """Show the search box."""
        self.query_one(SearchBox).open()

    def action_goto(self) -> None:
        """Open the consultation the highlighted record came from."""
        record = self._current()
        cid = self.consultation_of(record) if record is not None else None
        if cid:
            self.arena.open_consultation(cid)
        else:
            self.notify("No source consultation.", severity="warning", timeout=2)


def _para(out: Text, label: str, value: str, style: str = "") -> None:
    if value:
        out.append(f"\n{label}\n", style="bold")
        out.append(value, style=style)


class MistakesScreen(BrowseScreen[Mistake]):
    """The run's mistake records, riskiest first."""

    columns = (("risk", "risk", 8), ("category", "category", 14), ("title", "title", None))
    noun = "mistakes"

    def load(self) -> list[Mistake]:
        """Read the run's mistakes, riskiest first."""
        return riskiest_first(self.arena.store.mistakes(self.follower.run_id))

    def cells(self, record: Mistake) -> list[Text]:
        """Risk, category, title."""
        return [
            Text(record.risk, style=fmt.RISK_STYLE.get(record.risk, "")),
            Text(record.category, overflow="ellipsis", no_wrap=True),
            Text(record.title, overflow="ellipsis", no_wrap=True),
        ]

    def detail(self, record: Mistake) -> RenderableType:
        """Title, where it happened, what happened, cause and tags."""
        out = Text()
        out.append(record.title, style="bold")
        out.append("\n")
        out.append(f" {record.risk} ", style=fmt.RISK_STYLE.get(record.risk, "reverse"))
        out.append(f" {record.category} · cause: {record.cause} · item {record.item_id}", style="dim")
        out.append(f"\n{fmt.short_id(record.consultation_id, self.follower.run_id)}", style="cyan")
        out.append(f" · {record.doctor}", style="dim")
        if record.turns:
            out.append(f" · turns {', '.join(str(t) for t in record.turns)}", style="dim")
        _para(out, "What happened", record.description)
        if record.tags:
            out.append("\n")
            out.append("  ".join(record.tags), style="dim")
        return out

    def haystack(self, record: Mistake) -> str:
        """Title, description, category, cause, risk, tags, case."""
        return " ".join(
            (record.title, record.description, record.category, record.cause, record.risk, record.case_id, *record.tags)
        )

    def consultation_of(self, record: Mistake) -> str | None:
        """The consultation the mistake was made in."""
        return record.consultation_id or None


class QAScreen(BrowseScreen[QAItem]):
    """The run's single-shot QA items, valid and rejected."""

    columns = (("valid", "ok", 3), ("question", "question", 34), ("answer", "answer", None))
    noun = "QA items"

    def __init__(self, follower: RunFollower, *, name: str | None = None) -> None:
        """Browse the QA items of the run ``follower`` follows."""
        super().__init__(follower, name=name)
        self.sources: dict[str, str] = {}
        """The consultation each item's mistake came from, by item id."""

    def load(self) -> list[QAItem]:
        """Read the run's QA items and the consultations they came from."""
        store = self.arena.store
        self.sources = store.qa_sources(self.follower.run_id)
        return store.qa_items(self.follower.run_id)

    def cells(self, record: QAItem) -> list[Text]:
        """Valid mark, question, answer."""
        return [
            Text("✓", style="green") if record.valid else Text("✗", style="red"),
            Text(record.question, overflow="ellipsis", no_wrap=True),
            Text(record.answer, overflow="ellipsis", no_wrap=True),
        ]

    def detail(self, record: QAItem) -> RenderableType:
        """Scenario, question, options, answer, rationale, rejection."""
        out = Text()
        out.append(record.question, style="bold")
        out.append("\n")
        if record.valid:
            out.append(" valid ", style="bold black on green")
        else:
            out.append(" rejected ", style="bold white on red")
            out.append(f" {record.rejection}", style="red")
        source = self.sources.get(record.id)
        if source:
            out.append(f"  from {fmt.short_id(source, self.follower.run_id)}", style="cyan")
        _para(out, "Scenario", record.scenario)
        if record.options:
            out.append("\nOptions\n", style="bold")
            out.append("\n".join(f"  {chr(65 + i)}. {o}" for i, o in enumerate(record.options)))
        _para(out, "Answer", record.answer, "green")
        _para(out, "Rationale", record.rationale, "dim")
        return out

    def haystack(self, record: QAItem) -> str:
        """Scenario, question, answer, rationale, rejection."""
        return " ".join((record.scenario, record.question, record.answer, record.rationale, record.rejection))

    def consultation_of(self, record: QAItem) -> str | None:
        """The consultation of the mistake the item reproduces."""
        return self.sources.get(record.id)
