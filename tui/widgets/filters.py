"""Filters of the consultations table: a row of compact selects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Select

from tui.follow import ConsultationView

SCORE_BANDS: dict[str, tuple[float, float] | None] = {
    "≥ 0.75": (0.75, 1.01),
    "0.50–0.75": (0.5, 0.75),
    "0.25–0.50": (0.25, 0.5),
    "< 0.25": (-1.0, 0.25),
    "unscored": None,
}
"""Score bands the score filter offers; ``unscored`` keeps consultations not judged yet."""

STATUSES = ("running", "done", "error")
"""Consultation statuses."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What the consultations table shows; None or empty means any."""

    doctor: str | None = None
    status: str | None = None
    organ: str | None = None
    persona: str | None = None
    score: str | None = None
    """A key of :data:`SCORE_BANDS`."""
    text: str = ""
    """Words that must occur in the id, case, diagnosis, doctor or error."""

    def matches(self, v: ConsultationView) -> bool:
        """Whether a consultation passes every filter."""
        rec = v.rec
        if self.doctor and rec.doctor != self.doctor:
            return False
        if self.status and rec.status != self.status:
            return False
        if self.organ and v.organ_system != self.organ:
            return False
        if self.persona and rec.persona != self.persona:
            return False
        if self.score:
            band = SCORE_BANDS.get(self.score)
            if band is None:
                if v.score is not None:
                    return False
            elif v.score is None or not band[0] <= v.score.overall < band[1]:
                return False
        if self.text:
            hay = " ".join(
                (
                    rec.id,
                    rec.doctor,
                    rec.persona,
                    rec.error or "",
                    v.meta.title if v.meta else "",
                    v.meta.diagnosis if v.meta else "",
                    v.organ_system,
                )
            ).lower()
            if not all(word in hay for word in self.text.lower().split()):
                return False
        return True

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any((self.doctor, self.status, self.organ, self.persona, self.score, self.text))


def _value(select: Select[str]) -> str | None:
    value = select.value
    return value if isinstance(value, str) else None


class FilterBar(Horizontal):
    """Compact selects for doctor, status, organ system, persona and score band."""

    class Changed(Message):
        """A select changed; ``filters`` holds every select's value (``text`` is left empty)."""

        def __init__(self, filters: Filters) -> None:
            """Carry the new filters."""
            super().__init__()
            self.filters = filters

    def __init__(self, *, id: str | None = None) -> None:
        """Create the bar (choices come with :meth:`set_choices`)."""
        super().__init__(id=id)
        self._offered: dict[str, list[str]] = {}

    def compose(self) -> ComposeResult:
        """One compact select per filter."""
        yield Select[str]([], prompt="doctor", compact=True, id="f-doctor")
        yield Select[str]([(s, s) for s in STATUSES], prompt="status", compact=True, id="f-status")
        yield Select[str]([], prompt="organ", compact=True, id="f-organ")
        yield Select[str]([], prompt="persona", compact=True, id="f-persona")
        yield Select[str]([(k, k) for k in SCORE_BANDS], prompt="score", compact=True, id="f-score")

    def set_choices(self, doctors: Iterable[str], organs: Iterable[str], personas: Iterable[str]) -> None:
        """Offer these values, keeping what is selected (only redraws when the set grew)."""
        for sel_id, values in (("f-doctor", doctors), ("f-organ", organs), ("f-persona", personas)):
            select: Select[str] = self.query_one(f"#{sel_id}", Select)
            wanted = sorted({v for v in values if v})
            if self._offered.get(sel_id) == wanted:
                continue
            current = _value(select)
            with select.prevent(Select.Changed):
                select.set_options([(v, v) for v in wanted])
                if current in wanted:
                    select.value = current
            self._offered[sel_id] = wanted

    def filters(self, text: str = "") -> Filters:
        """The filters the selects hold, with ``text`` as the search words."""

        def get(sel_id: str) -> str | None:
            return _value(self.query_one(f"#{sel_id}", Select))

        return Filters(
            doctor=get("f-doctor"),
            status=get("f-status"),
            organ=get("f-organ"),
            persona=get("f-persona"),
            score=get("f-score"),
            text=text,
        )

    def on_select_changed(self, event: Select.Changed) -> None:
        """Report the new filters."""
        event.stop()
        self.post_message(self.Changed(self.filters()))
