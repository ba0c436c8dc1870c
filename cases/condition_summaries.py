"""Condition summaries: what the built-in doctor knows of each knowledge-base condition.

The summary sits above the knowledge base (:mod:`cases.kb`), which itself
checks its findings against the topic vocabulary in :mod:`cases.knowledge`.
"""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from cases.kb import load_kb
from cases.text import salient_words


class Condition(BaseModel):
    """What the built-in doctor knows of a condition, derived from the knowledge base."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Preferred name."""
    icd10: str = ""
    """ICD-10 code."""
    synonyms: tuple[str, ...] = ()
    """Other names."""
    organ_system: str = ""
    """Organ system."""
    complaints: tuple[str, ...] = ()
    """Lay words of the chief complaints it presents with."""
    history_topics: tuple[str, ...] = ()
    """History topics worth asking, most important first."""
    exams: tuple[str, ...] = ()
    """Examinations worth doing."""
    workup: tuple[str, ...] = ()
    """Tests worth ordering, key tests first."""
    features: tuple[str, ...] = Field(default=())
    """Salient words of its findings, examination signs and results."""


@cache
def conditions() -> tuple[Condition, ...]:
    """Return what the built-in doctor knows, one entry per knowledge-base condition."""
    kb = load_kb()
    out = []
    for c in kb.conditions:
        complaint_words: list[str] = []
        for p in c.presentations:
            for w in kb.complaints[p.complaint].keywords:
                if w not in complaint_words:
                    complaint_words.append(w)
        history: list[str] = []
        for topic in [*(t for m in c.must_ask for t in m.topics), *(f.topic for f in c.findings)]:
            if topic not in history:
                history.append(topic)
        words: set[str] = set()
        for f in c.findings:
            words |= salient_words(f.text)
            for lay in f.lay:
                words |= salient_words(lay)
        for e in c.exam:
            words |= salient_words(e.text)
        for test in c.tests:
            words |= salient_words(test.text.replace("{value}", ""))
        exams = tuple(dict.fromkeys(e.topic for e in c.exam))
        workup = tuple(dict.fromkeys(t.topic for t in sorted(c.tests, key=lambda t: not t.key)))
        out.append(
            Condition(
                name=c.name,
                icd10=c.icd10,
                synonyms=tuple(c.synonyms),
                organ_system=c.organ_system,
                complaints=tuple(complaint_words),
                history_topics=tuple(history),
                exams=exams,
                workup=workup,
                features=tuple(sorted(words)),
            )
        )
    return tuple(out)
