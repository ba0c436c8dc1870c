"""What a patient says about a topic its case is silent on.

A canned "I'm not sure" tells the doctor where the case ends, and a doctor
model can learn to read it. A real patient without a symptom says so. So for
a history topic the case does not cover the patient answers by one of three
rules (:class:`~arena.core.types.SynthesisRule`):

- ``condition_typical``: the case's condition (from the knowledge base)
  usually causes it, so the patient reports the condition's own finding, and
  the simulator never steers the doctor away from the truth;
- ``denial``: otherwise, what a patient without it says: the condition's
  pertinent negative if the knowledge base has one, else a plain answer from
  ``data/plain_answers.json``;
- ``unknowable``: what the speaker could not know (a relative asked about the
  patient's periods or sex life), in the persona's "not sure".

Each answer is drawn once per case and topic from a seeded stream, so a
consultation replays word for word and a question asked twice gets the same
answer. The answers are offered to the patient as facts whose ids start with
:data:`SYNTHESIZED_PREFIX`; the patient reports them as synthesized, never as
revealed case facts.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import get_args

from arena.core.types import Case, Fact, FactCategory, SynthesisRule, Synthesized
from cases.kb import Condition, Finding, condition_of
from cases.knowledge import topics
from cases.synthesizer import match_pronouns
from personas.leak_check import names_diagnosis
from personas.voice import to_third_person

Contradiction = Callable[[str], str | None]
"""Given a line, the id of a case fact it says the opposite of, or None (see ``Guard.contradicted``)."""

SYNTHESIZED_PREFIX = "syn."
"""Id prefix of the facts this module makes; no case fact uses it."""

TYPICAL = 0.5
"""A finding present in at least this share of a condition's cases counts as typical of it."""

PROXY_UNKNOWABLE = frozenset({"lmp", "sexual_history"})
"""Topics a relative speaking for an adult patient would not know about."""

_CATEGORY: dict[str, FactCategory] = {
    "pmh": "pmh",
    "medications": "medications",
    "allergies": "allergies",
    "family_history": "family",
    **{t: "social" for t in ("smoking", "alcohol", "social", "sexual_history", "travel", "contacts")},
}
"""The history section a topic's answer belongs to, so a persona's guarded sections hold it back too."""

assert set(_CATEGORY.values()) <= set(get_args(FactCategory))


@cache
def plain_answers() -> dict[str, dict[str, tuple[str, ...]]]:
    """Return the plain answers of ``data/plain_answers.json``: topic -> variant -> lines."""
    raw = json.loads(resources.files("personas").joinpath("data", "plain_answers.json").read_text("utf-8"))
    return {t: {k: tuple(v) for k, v in variants.items()} for t, variants in raw["topics"].items()}


def with_answers(case: Case, answers: list[Answer]) -> Case:
    """``case`` with made-up ``answers`` added to its facts.

    A model-played patient is told the typical findings among its facts, and its guard is given
    every answer, so a model that says what the built-in patient would is never sent back.
    """
    extra = [a.fact for a in answers if a.record is not None and a.fact.lay]
    return case.model_copy(update={"facts": [*case.facts, *extra]}) if extra else case


@dataclass(frozen=True)
class Answer:
    """What a patient says on a topic its case's facts leave out."""

    fact: Fact
    """The answer as a fact to tell: a made-up one (id :data:`SYNTHESIZED_PREFIX`...), or, when every
    plausible answer would contradict the case, the case fact they contradict."""
    record: Synthesized | None
    """How it was made; None when it is the case's own fact."""


def is_synthesized(fact_id: str) -> bool:
    """Whether ``fact_id`` names an answer made here rather than a fact of the case."""
    return fact_id.startswith(SYNTHESIZED_PREFIX)


class PlausibleAnswers:
    """The answers one case's patient gives on the topics its facts leave out."""

    def __init__(self, case: Case, *, proxy: bool = False, check: Contradiction | None = None) -> None:
        """Prepare the answers for ``case``.

        Args:
            case: The case played.
            proxy: Whether a relative speaks for an adult patient (a third-person persona), who
                cannot know some things.
            check: Finds a case fact a line contradicts (the guard's quick check); None trusts every line.
        """
        self.case = case
        self.check = check
        self.condition: Condition | None = condition_of(case)
        self.proxy = proxy and case.speaker == "self"
        self.covered = frozenset(f.topic for f in case.facts if f.disclosure in ("volunteered", "on_ask"))
        # A caregiver speaks of the child; a child old enough to speak for themselves says "I".
        self.child = case.speaker == "caregiver"
        self._made: dict[str, Answer | None] = {}

    def every(self) -> list[Answer]:
        """The made-up answer on every history topic the case leaves out (none for what is unknowable)."""
        out = []
        for topic in topics().values():
            if topic.kind == "history" and topic.topic not in self.covered:
                made = self.answer(topic.topic)
                if made is not None and made.record is not None and made.fact.lay:
                    out.append(made)
        return out

    def typical(self) -> list[Answer]:
        """The condition's typical findings on every topic the case leaves out, in :meth:`every`'s order.

        Only the topics the condition typically affects are answered here: every patient a model
        plays needs these at once, and making the plain answers too cost more than the consultation's
        own bookkeeping.
        """
        cond = self.condition
        if cond is None:
            return []
        out = []
        for topic in topics().values():
            if topic.kind != "history" or topic.topic in self.covered or self._typical(cond, topic.topic) is None:
                continue
            made = self.answer(topic.topic)
            rule = made.record.rule if made is not None and made.record is not None else None
            if made is not None and made.fact.lay and rule == SynthesisRule.CONDITION_TYPICAL:
                out.append(made)
        return out

    def answer(self, topic: str) -> Answer | None:
        """The answer on ``topic``; None if the case covers the topic or nothing fits it.

        The fact's ``lay`` is in the speaker's person (a caregiver's answers speak of the child);
        the persona's voice is applied when it is told.
        """
        if topic in self.covered:
            return None
        if topic not in self._made:
            self._made[topic] = self._make(topic)
        return self._made[topic]

    def _make(self, topic: str) -> Answer | None:
        if self.proxy and topic in PROXY_UNKNOWABLE:
            return self._answer(topic, "", SynthesisRule.UNKNOWABLE, "speaker")
        contradicted: str | None = None
        for line, rule, source in self._candidates(topic):
            if self._names_diagnosis(line):
                continue
            against = self.check(line) if self.check is not None else None
            if against is None:
                return self._answer(topic, line, rule, source)
            contradicted = contradicted or against
        if contradicted is not None:
            # Every plausible answer would deny what the case says elsewhere: the case's fact is the answer.
            return Answer(self.case.fact(contradicted), None)
        return None

    def _candidates(self, topic: str) -> list[tuple[str, SynthesisRule, str]]:
        """Every line that could answer ``topic``, best first.

        The condition's typical finding, else its pertinent negative, then the plain answers; each
        group in a seeded order.
        """
        rng = random.Random(f"{self.case.id}|{topic}|plausible")
        out: list[tuple[str, SynthesisRule, str]] = []
        cond = self.condition
        if cond is not None:
            typical = self._typical(cond, topic)
            if typical is not None:
                source = f"kb:{cond.id}/{typical.id}"
                out += [(line, SynthesisRule.CONDITION_TYPICAL, source) for line in self._lays(typical, rng)]
                # A condition that typically causes it is never denied: better a fact than a denial.
                return out
            for neg in cond.negatives:
                if neg.topic == topic:
                    source = f"kb:{cond.id}/{neg.id}"
                    out += [(line, SynthesisRule.DENIAL, source) for line in self._lays(neg, rng)]
        variants = plain_answers().get(topic)
        if variants:
            lines, spoken_by_proxy = self._variant(topic, variants)
            shuffled = list(lines)
            rng.shuffle(shuffled)
            for line in shuffled:
                if self.child and not spoken_by_proxy:
                    line = to_third_person(line, self.case.demographics.sex)
                elif spoken_by_proxy:
                    line = match_pronouns(line, self.case.demographics.sex)
                out.append((line, SynthesisRule.DENIAL, f"plain:{topic}"))
        return out

    def _names_diagnosis(self, line: str) -> bool:
        # The knowledge base's lay lines are the patient's own words; only naming the disease gives it away.
        return names_diagnosis(line, self.case.diagnosis) is not None

    def _typical(self, cond: Condition, topic: str) -> Finding | None:
        # An atypical case lacks its condition's hallmarks on purpose: the patient denies them.
        found = [
            f
            for f in cond.findings
            if f.topic == topic and f.probability >= TYPICAL and not (self.case.atypical and f.hallmark)
        ]
        return max(found, key=lambda f: f.probability) if found else None

    def typical_phrasings(self, topic: str) -> list[str]:
        """Every phrasing of the condition's typical finding on ``topic``, as the speaker says it ([] if none)."""
        finding = self._typical(self.condition, topic) if self.condition is not None else None
        return self._phrasings(finding) if finding is not None else []

    def _phrasings(self, finding: Finding) -> list[str]:
        pool = finding.lay_caregiver if self.child and finding.lay_caregiver else finding.lay
        lines = [x for x in pool if "{" not in x]
        if not self.child:
            return lines
        sex = self.case.demographics.sex
        return [match_pronouns(x, sex) if finding.lay_caregiver else to_third_person(x, sex) for x in lines]

    def _lays(self, finding: Finding, rng: random.Random) -> list[str]:
        lines = self._phrasings(finding)
        rng.shuffle(lines)
        return lines

    def _variant(self, topic: str, variants: dict[str, tuple[str, ...]]) -> tuple[tuple[str, ...], bool]:
        """The lines that fit this patient, and whether they are already a caregiver's words."""
        d = self.case.demographics
        if self.child and "child" in variants:
            return variants["child"], True
        if d.sex == "male" and "male" in variants:
            return variants["male"], False
        if d.sex == "female" and d.age >= 55 and "older" in variants:
            return variants["older"], False
        return variants["adult"], False

    def _answer(self, topic: str, line: str, rule: SynthesisRule, source: str) -> Answer:
        fact = Fact(
            id=f"{SYNTHESIZED_PREFIX}{topic}",
            category=_CATEGORY.get(topic, "ros"),
            disclosure="on_ask",
            text=line or "(not known to the speaker)",
            lay=line,
            topic=topic,
            negative=rule != SynthesisRule.CONDITION_TYPICAL,
        )
        return Answer(fact, Synthesized(topic=topic, rule=rule, text=line, source=source))
