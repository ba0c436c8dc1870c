"""The measurement agent: examination and test results from the case, never invented."""

from __future__ import annotations

from arena.core.types import Case, PatientReply
from cases.knowledge import match_topics
from cases.text import normalise, phrase_in

NOT_AVAILABLE = "Not performed / not available for this patient."


class CaseMeasurement:
    """Returns a case's exam and test findings for a request."""

    def __init__(self, case: Case) -> None:
        """Index the case's exam and test facts by topic."""
        self.case = case
        self._by_topic: dict[str, list[str]] = {}
        for f in case.facts:
            if f.disclosure in ("exam", "test"):
                self._by_topic.setdefault(f.topic, []).append(f.id)

    async def measure(self, kind: str, request: str) -> PatientReply:
        """Answer an exam or test request (see :meth:`answer`)."""
        return self.answer(kind, request)

    def answer(self, kind: str, request: str) -> PatientReply:
        """Answer an exam or test request.

        Args:
            kind: ``exam`` or ``test``.
            request: What was asked for, in words (``ECG``, ``chest exam``).

        Returns:
            The matching findings, or a "not available" reply when the case has
            none: a missing result is never filled in with a normal one.
        """
        wanted = match_topics(request, ("exam",) if kind == "exam" else ("test",))
        norm = normalise(request)
        ids: list[str] = []
        for t in wanted:
            ids.extend(self._by_topic.get(t, []))
        if not ids:
            # A request may name a finding's own keywords rather than a topic.
            for f in self.case.facts:
                if f.disclosure == kind and any(phrase_in(k, norm) for k in f.keywords):
                    ids.append(f.id)
        if not ids:
            label = request.strip() or kind
            return PatientReply(text=f"{label}: {NOT_AVAILABLE}")
        seen: list[str] = list(dict.fromkeys(ids))
        text = "; ".join(self.case.fact(i).text for i in seen)
        return PatientReply(text=text, revealed=seen)
