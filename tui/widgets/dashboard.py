"""Pieces of the run dashboard: title line, progress, usage, per-doctor scores, failures."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, ProgressBar, Static

from arena.core.types import Run, Usage
from tui import format as fmt
from tui.follow import ConsultationView, DoctorRow, Progress


def render_title(run: Run | None, waiting_for: str | None = None) -> Text:
    """One line naming the run, its state, its models and when it started."""
    out = Text(no_wrap=True, overflow="ellipsis")
    if run is None:
        out.append(f"waiting for run {waiting_for!r}…" if waiting_for else "no run", style="italic")
        return out
    out.append(run.name, style="bold")
    if run.name != run.id:
        out.append(f" ({run.id})", style="dim")
    out.append("  ")
    out.append(fmt.status(run.status))
    out.append(f"  {run.config.doctor}", style="cyan")
    patient = run.config.patient
    if patient:
        out.append(f" vs {patient}", style="green")
    out.append(f"  {fmt.stamp(run.created_at)}", style="dim")
    return out


def render_progress(p: Progress, live: bool) -> Text:
    """The counts, throughput and ETA under the progress bar."""
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(f"{p.done}", style="bold green")
    out.append(" done  ")
    out.append(f"{p.running}", style="bold yellow")
    out.append(" in flight  ")
    out.append(f"{p.failed}", style="bold red" if p.failed else "dim")
    out.append(" failed", style="" if p.failed else "dim")
    out.append(f"  of {p.planned}")
    out.append("  │ ", style="dim")
    out.append(f"{p.per_min:.1f}/min" if p.per_min is not None else "—/min")
    if p.turns_per_s is not None:
        out.append(f"  {p.turns_per_s:.1f} turns/s")
    out.append("  │ ", style="dim")
    if live:
        out.append(f"ETA {fmt.duration(p.eta_s)}", style="bold")
        out.append(f"  elapsed {fmt.duration(p.elapsed_s)}")
    else:
        out.append(f"took {fmt.duration(p.elapsed_s)}")
    return out


class RunTitle(Static):
    """The dashboard's first line."""


class ProgressPanel(Vertical):
    """A progress bar over a line of counts, throughput and ETA."""

    def compose(self) -> ComposeResult:
        """A bar and a line."""
        yield ProgressBar(total=1, show_eta=False, id="bar")
        yield Static(id="progress-line")

    def show(self, p: Progress, live: bool) -> None:
        """Show this progress."""
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, p.planned), progress=p.finished)
        self.query_one("#progress-line", Static).update(render_progress(p, live), layout=False)


class UsageTable(DataTable[Text | str]):
    """Calls, tokens and cost by role, with a total."""

    def on_mount(self) -> None:
        """Add the columns."""
        self.cursor_type = "none"
        self.add_column("role", key="role", width=11)
        for key, width in (("calls", 6), ("prompt", 7), ("completion", 10), ("cost", 9)):
            self.add_column(key, key=key, width=width)

    def show(self, rows: Sequence[tuple[str, Usage]]) -> None:
        """Replace the rows (a handful: one per role)."""
        self.clear()
        total = Usage()
        for role, u in rows:
            total.add(u)
            self.add_row(
                Text(role, style=fmt.ROLE_STYLE.get(role, "")),
                *self._cells(u),
                key=role,
            )
        self.add_row(Text("total", style="bold"), *self._cells(total), key="__total__")

    @staticmethod
    def _cells(u: Usage) -> list[Text]:
        return [
            fmt.right(fmt.count(u.calls), 6),
            fmt.right(fmt.count(u.prompt_tokens), 7),
            fmt.right(fmt.count(u.completion_tokens), 10),
            fmt.right(fmt.cost(u.cost_usd), 9),
        ]


class DoctorTable(DataTable[Text | str]):
    """Per doctor model: consultations done, in flight, failed, and committee scores."""

    def on_mount(self) -> None:
        """Add the columns."""
        self.cursor_type = "none"
        self.add_column("doctor", key="doctor", width=15)
        for key, width in (("done", 5), ("run", 4), ("fail", 4), ("scored", 6), ("mean", 5), ("dx", 4)):
            self.add_column(key, key=key, width=width)

    def show(self, rows: Sequence[DoctorRow]) -> None:
        """Replace the rows (one per doctor model)."""
        self.clear()
        for r in rows:
            self.add_row(
                Text(r.doctor, style="cyan", overflow="ellipsis", no_wrap=True),
                fmt.right(str(r.done), 5),
                fmt.right(str(r.running), 4, "yellow" if r.running else "dim"),
                fmt.right(str(r.failed), 4, "red" if r.failed else "dim"),
                fmt.right(str(r.scored), 6),
                fmt.right(fmt.score(r.mean), 5, "bold"),
                fmt.right(fmt.percent(r.diagnosis_accuracy), 4),
                key=r.doctor,
            )


class FailureTable(DataTable[Text | str]):
    """Failed consultations with their errors; selecting one opens it."""

    def on_mount(self) -> None:
        """Add the columns."""
        self.cursor_type = "row"
        self.add_column("consultation", key="id", width=26)
        self.add_column("error", key="error")

    def add_failures(self, views: Sequence[ConsultationView], run_id: str) -> int:
        """Add the failures not listed yet; return how many were added."""
        added = 0
        for v in views:
            if v.id in self.rows:
                continue
            self.add_row(
                Text(fmt.short_id(v.id, run_id), overflow="ellipsis", no_wrap=True),
                Text(fmt.one_line(v.rec.error or "", 200), style="red"),
                key=v.id,
            )
            added += 1
        return added
