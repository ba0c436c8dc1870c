"""The gatekeeper: examination and test results for whatever the doctor orders.

A real ward returns a result for every test ordered, so a result the case
does not list is never "not available", which would tell the doctor the test
does not matter. Each requested item is answered, in order of preference:

1. from the case's own findings on that topic (or findings filed under another
   topic whose words name it, as imported records often do): revealed;
2. when the case's condition (from the knowledge base) is known to change that
   examination or test: the condition's typical finding;
3. with a gatekeeper model, for a case whose condition the knowledge base
   does not know: a result the model writes from the case's facts and
   diagnosis;
4. otherwise the reference-normal result for this patient
   (:mod:`cases.reference`).

Everything from 2 to 4 is marked on the reply as synthesized, with its rule
and source. Nothing synthesized may name the diagnosis or its code: such a
result falls back to the next rule.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

from arena.core.templating import render
from arena.core.types import Case, PatientReply, SynthesisRule, Synthesized, Usage
from arena.models import ChatModel, Message
from cases.kb import Condition, ExamFinding, TestResult, condition_of
from cases.knowledge import TopicKind, best_topics, match_topics
from cases.reference import normal_result
from cases.text import normalise, phrase_in
from personas.leak_check import names_diagnosis
from personas.plausible import TYPICAL

MAX_WRITTEN = 600
"""Longest result a gatekeeper model may write; a longer one is a report of something else."""

_PARTS = re.compile(r"\s*(?:,|;|\+|\band\b|\bplus\b|\balso\b|&)\s*", re.IGNORECASE)
"""Where one request lists several items ("FBC, CRP and a chest X-ray")."""


class CaseMeasurement:
    """Answers exam and test requests for one case."""

    def __init__(self, case: Case, writer: ChatModel | None = None) -> None:
        """Index the case's exam and test facts by topic.

        Args:
            case: The case whose findings are reported.
            writer: A chat model that writes results the case does not list when its condition is
                not in the knowledge base; None uses the reference-normal result.
        """
        self.case = case
        self.writer = writer
        self.condition: Condition | None = condition_of(case)
        self._by_topic: dict[str, list[str]] = {}
        self._mentions: dict[str, list[str]] = {}
        for f in case.facts:
            if f.disclosure in ("exam", "test"):
                self._by_topic.setdefault(f.topic, []).append(f.id)
        for f in case.facts:
            if f.disclosure in ("exam", "test"):
                for t in _topics_named(f.text, f.disclosure):
                    if t != f.topic and t not in self._by_topic:
                        self._mentions.setdefault(t, []).append(f.id)
        self._made: dict[str, tuple[str, Synthesized]] = {}
        self._rendered: dict[str, str] = {}

    async def measure(self, kind: str, request: str) -> PatientReply:
        """Answer an exam or test request; a gatekeeper model, if any, writes what the case lacks."""
        found, missing = self._split(kind, request)
        usage = Usage()
        if self.writer is not None and self.condition is None:
            for topic, part in missing:
                key = _key(kind, topic, part)
                if key not in self._made:
                    got = await self._write(kind, topic, part, usage)
                    if got is not None:
                        self._made[key] = got
        reply = self._reply(kind, found, missing)
        reply.usage = usage
        return reply

    def answer(self, kind: str, request: str) -> PatientReply:
        """Answer an exam or test request from the case, the knowledge base and the reference table.

        Args:
            kind: ``exam`` or ``test``.
            request: What was asked for, in words (``ECG``, ``chest exam``, ``FBC and CRP``).

        Returns:
            The case's findings for what it lists (as revealed facts) and a synthesized result for
            everything else.
        """
        found, missing = self._split(kind, request)
        return self._reply(kind, found, missing)

    def _split(self, kind: str, request: str) -> tuple[list[str], list[tuple[str, str]]]:
        """The case facts a request asks for, and the (topic, words) of each item the case lacks."""
        kinds: tuple[TopicKind, ...] = ("exam",) if kind == "exam" else ("test",)
        ids: list[str] = []
        missing: list[tuple[str, str]] = []
        for part in [p for p in _PARTS.split(request) if p.strip()] or [request]:
            wanted = _best_named(part, kinds[0])
            got = [i for t in wanted for i in self._by_topic.get(t, [])]
            if not got:
                # A request may name a finding's own keywords rather than a topic.
                norm = normalise(part)
                got = [
                    f.id
                    for f in self.case.facts
                    if f.disclosure == kinds[0] and any(phrase_in(k, norm) for k in f.keywords)
                ]
            if not got and wanted:
                got = self._mentions.get(wanted[0], [])
            if got:
                ids.extend(got)
            else:
                missing.append((wanted[0] if wanted else f"other_{kinds[0]}", part.strip() or kinds[0]))
        return list(dict.fromkeys(ids)), list(dict.fromkeys(missing))

    def _reply(self, kind: str, found: list[str], missing: list[tuple[str, str]]) -> PatientReply:
        texts = [self.case.fact(i).text for i in found]
        made: list[Synthesized] = []
        for topic, part in missing:
            text, record = self._synthesize(kind, topic, part)
            if any(m.topic == topic and m.text == text for m in made):
                continue
            texts.append(text)
            made.append(record)
        return PatientReply(text="; ".join(texts), revealed=found, synthesized=made)

    def _synthesize(self, kind: str, topic: str, part: str) -> tuple[str, Synthesized]:
        key = _key(kind, topic, part)
        if key not in self._made:
            self._made[key] = self._from_condition(topic) or self._reference(topic, part)
        return self._made[key]

    def _from_condition(self, topic: str) -> tuple[str, Synthesized] | None:
        """The condition's typical finding on ``topic``, or None where it has none or it would name the diagnosis."""
        cond = self.condition
        if cond is None:
            return None
        rng = random.Random(f"{self.case.id}|{topic}|gatekeeper")
        entries: list[ExamFinding | TestResult] = [*cond.exam, *cond.tests]
        for entry in entries:
            if entry.topic != topic:
                continue
            if entry.probability >= TYPICAL:
                text = entry.text
                if isinstance(entry, TestResult) and entry.low is not None and entry.high is not None:
                    value = f"{rng.uniform(entry.low, entry.high):.{entry.decimals}f}"
                    text = text.replace("{value}", value)
                rule = SynthesisRule.CONDITION_FINDING
            elif entry.normal_text:
                text, rule = entry.normal_text, SynthesisRule.REFERENCE_NORMAL
            else:
                continue
            if self._names_diagnosis(text):
                return None
            return text, Synthesized(topic=topic, rule=rule, text=text, source=f"kb:{cond.id}/{entry.id}")
        return None

    def _reference(self, topic: str, part: str) -> tuple[str, Synthesized]:
        ref = normal_result(topic, self.case, part)
        rule = SynthesisRule.REFERENCE_NORMAL
        return ref.text, Synthesized(topic=topic, rule=rule, text=ref.text, source=f"reference:{ref.source}")

    def _names_diagnosis(self, text: str) -> bool:
        return names_diagnosis(text, self.case.diagnosis) is not None

    async def _write(self, kind: str, topic: str, part: str, usage: Usage) -> tuple[str, Synthesized] | None:
        """A result the gatekeeper model writes for an item the case lacks, or None if it is unusable."""
        assert self.writer is not None
        prompt = render(
            "personas",
            "gatekeeper_result.j2",
            case=self.case,
            kind=kind,
            request=part,
            normal=normal_result(topic, self.case, part).text,
        )
        messages: list[Message] = [{"role": "user", "content": prompt}]
        out = await self.writer.complete(messages)
        usage.add(out.usage)
        text = " ".join(out.text.split())
        if not text or len(text) > MAX_WRITTEN or self._names_diagnosis(text):
            return None
        rule = SynthesisRule.GATEKEEPER_MODEL
        return text, Synthesized(topic=topic, rule=rule, text=text, source=self.writer.name)


def _key(kind: str, topic: str, part: str) -> str:
    """What a made-up result is kept under: its topic, and for an unnamed test its words too."""
    return f"{kind}|{topic}|{normalise(part)}" if topic.startswith("other_") else f"{kind}|{topic}"


@lru_cache(maxsize=1 << 14)
def _best_named(text: str, kind: str) -> tuple[str, ...]:
    # The topics a request names most plainly: "Chest X-ray" is not a request for a neck X-ray.
    return tuple(best_topics(text, (kind,)))  # type: ignore[arg-type]


@lru_cache(maxsize=1 << 14)
def _topics_named(text: str, kind: str) -> tuple[str, ...]:
    # Doctors order the same few things of thousands of patients.
    return tuple(match_topics(text, (kind,)))  # type: ignore[arg-type]
