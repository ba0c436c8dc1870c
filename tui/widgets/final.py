"""The end of a consultation: the doctor's final answer against the case's diagnosis."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from arena.core.queries import ConsultationRecord
from arena.core.types import FinalAnswer, Score
from tui.format import DIAGNOSIS_STYLE, STATUS_STYLE


def render_final(
    rec: ConsultationRecord | None,
    final: FinalAnswer | None,
    truth: str,
    score: Score | None,
) -> Text:
    """Render the outcome of a consultation.

    Args:
        rec: The consultation's row (None before it is known).
        final: Its final answer (diagnosis, differential, plan), if any.
        truth: The case's diagnosis.
        score: Its committee score, once judged.
    """
    out = Text()
    if rec is None or rec.status == "running":
        out.append("In progress…", style=STATUS_STYLE["running"])
        return out
    out.append("Outcome", style="bold underline")
    out.append(f"  stopped: {rec.stop_reason or '—'}", style="dim")
    if rec.error:
        out.append("\n")
        out.append(" ERROR ", style="bold white on red")
        out.append(f" {rec.error}", style="red")
    if final is not None:
        out.append("\nDiagnosis     ", style="bold")
        out.append(final.diagnosis or "—", style="bold cyan")
        if final.differential:
            out.append("\nDifferential  ", style="bold")
            out.append(", ".join(final.differential))
        plan = final.plan
        if plan:
            out.append("\nPlan          ", style="bold")
            out.append(plan)
    elif not rec.error:
        out.append("\nNo final answer.", style="yellow")
    out.append("\nCase's        ", style="bold")
    out.append(truth or "—")
    if score is not None:
        out.append("\nScore         ", style="bold")
        out.append(f"{score.overall:.2f}")
        out.append("  diagnosis ")
        out.append(score.diagnosis, style=DIAGNOSIS_STYLE.get(score.diagnosis, ""))
        if score.must_ask_coverage is not None:
            out.append(f"  must-ask {score.must_ask_coverage * 100:.0f}%")
    return out


class FinalAnswerView(Static):
    """Shows :func:`render_final`."""

    def __init__(self, *, id: str | None = None) -> None:
        """Create an empty view."""
        super().__init__(render_final(None, None, "", None), id=id, classes="final")

    def show(self, rec: ConsultationRecord | None, final: FinalAnswer | None, truth: str, score: Score | None) -> None:
        """Show this outcome."""
        self.update(render_final(rec, final, truth, score))
