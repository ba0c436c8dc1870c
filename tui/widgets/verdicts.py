"""The rubric verdicts of a consultation: each judge's, the committee's, and where they split."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui import format as fmt
from tui.format import OUTCOME_MARK
from tui.rubric import ConsultationVerdicts


def judge_label(name: str) -> str:
    """A short column label for a judge: the model name without provider or options."""
    return fmt.model(name)


def _mark(outcome: str | None, points: float) -> Text:
    # The colour says whether the outcome is good for the patient: a harmful
    # item (negative points) that is "met" is red.
    if outcome is None:
        return Text("·", style="dim")
    mark, style = OUTCOME_MARK.get(outcome, (outcome, ""))
    if points < 0 and outcome in ("met", "not_met"):
        style = "red" if outcome == "met" else "green"
    return Text(mark, style=style)


def render_verdicts(verdicts: ConsultationVerdicts | None) -> RenderableType:
    """Render every rubric item with each judge's verdict and the committee's.

    Items the judges split on carry a ``≠`` mark and are highlighted.
    """
    if verdicts is None or not verdicts.items:
        return Text("Not judged yet.", style="dim italic")
    table = Table(expand=True, box=None, padding=(0, 1), show_edge=False, header_style="bold")
    table.add_column("item", ratio=1, overflow="fold")
    table.add_column("pts", justify="right", width=4)
    labels = [judge_label(j) for j in verdicts.judges]
    for label in labels:
        table.add_column(label[:8], justify="center", min_width=3, max_width=8)
    table.add_column("cmte", justify="center", width=4)
    table.add_column("", width=1)
    for item in verdicts.items:
        name = Text()
        name.append(item.criterion or item.item_id)
        name.append(f"  {item.item_id}", style="dim")
        points = Text(f"{item.points:+g}", style="red" if item.points < 0 else "")
        cells = [_mark(item.by_judge.get(j), item.points) for j in verdicts.judges]
        flag = Text("≠", style="bold yellow") if item.split else Text("")
        table.add_row(
            name, points, *cells, _mark(item.committee, item.points), flag, style="on #3b2f00" if item.split else None
        )
    splits = verdicts.splits
    head = Text()
    head.append("Rubric", style="bold underline")
    head.append(f"  {len(verdicts.items)} items · {len(verdicts.judges)} judge(s)", style="dim")
    if splits:
        head.append(f" · {splits} split", style="bold yellow")
    legend = Text(
        "✓ met  ✗ not met (red: bad for the patient)  ? unscored  · no verdict  ≠ judges disagree", style="dim"
    )
    return Group(head, table, legend)


class VerdictsView(Static):
    """Shows :func:`render_verdicts`; call :meth:`show` when the verdicts change."""

    def __init__(self, *, id: str | None = None) -> None:
        """Create an empty view."""
        super().__init__(render_verdicts(None), id=id, classes="verdicts")
        self.verdicts: ConsultationVerdicts | None = None

    def show(self, verdicts: ConsultationVerdicts | None) -> None:
        """Show these verdicts."""
        self.verdicts = verdicts
        self.update(render_verdicts(verdicts))
