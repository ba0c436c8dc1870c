"""The built-in patient: answers from the case's facts, in the persona's voice, and never shows where they end."""

from __future__ import annotations

from functools import lru_cache

from arena.core.types import Case, Fact, PatientReply, Persona, SynthesisRule
from cases.knowledge import match_topics
from cases.text import normalise, phrase_in
from personas.guard import Guard
from personas.matching import DEFAULT_MATCHER, get_matcher, match_intents
from personas.plausible import PlausibleAnswers, is_synthesized
from personas.voice import Voice

MAX_SYNTHESIZED = 2
"""Topics a question the facts do not cover gets answered on; a question rarely asks about more."""

_DIAGNOSIS_QUESTIONS = ("diagnosis", "what do you think it is", "what have i got", "what's wrong with me", "chart")


class BuiltinPatient:
    """Matches each question to facts and answers with their lay wording.

    Facts disclosed only by examination or tests are never said: the patient
    does not know them. The diagnosis is not among the facts, so it cannot be
    said either. A question on a topic the facts leave out gets what a real
    patient would say (:mod:`personas.plausible`): the condition's typical
    finding, or a natural denial, marked on the reply as synthesized.
    """

    def __init__(
        self,
        case: Case,
        persona: Persona,
        name: str = "builtin/patient",
        matcher: str = DEFAULT_MATCHER,
        guard: Guard | None = None,
        plausible: PlausibleAnswers | None = None,
    ) -> None:
        """Prepare a patient for one consultation.

        Args:
            case: The case whose facts bound every answer.
            persona: The voice to answer in.
            name: The model name recorded on the transcript.
            matcher: The matcher backend that reads which topics a question asks about.
            guard: The guard that checks what the patient makes up against the case; by default one
                over the case, built when first needed.
            plausible: What the patient says where the case is silent; by default worked out here,
                checked by ``guard``.
        """
        self.name = name
        self.case = case
        self.persona = persona
        self.matcher_name = matcher
        self.matcher = get_matcher(matcher)
        self.voice = Voice(persona, case)
        self._guard = guard
        self.plausible = plausible or PlausibleAnswers(case, proxy=persona.third_person, check=self._contradicted)
        self._history = [f for f in case.facts if f.disclosure in ("volunteered", "on_ask")]
        self._by_topic: dict[str, list[Fact]] = {}
        for f in self._history:
            self._by_topic.setdefault(f.topic, []).append(f)
        self._mentions: dict[str, list[Fact]] | None = None

    def _contradicted(self, line: str) -> str | None:
        # Built on the first made-up answer: many consultations never need one.
        if self._guard is None:
            self._guard = Guard(self.case, persona=self.persona)
        return self._guard.contradicted(line)

    def mentions(self, topic: str) -> list[Fact]:
        """History facts filed under another topic whose words name ``topic``.

        Imported records file facts loosely ("swelling in the groin" under leg
        swelling); asked about lumps, the patient must tell that fact, not deny lumps.
        """
        if self._mentions is None:
            self._mentions = {}
            for f in self._history:
                for t in _topics_named(f"{f.text}. {f.lay}"):
                    if t != f.topic:
                        self._mentions.setdefault(t, []).append(f)
        return self._mentions.get(topic, [])

    async def open(self) -> PatientReply:
        """Say the chief complaint; the volunteered facts count as disclosed."""
        text = self.voice.opening()
        return PatientReply(text=text, revealed=[f.id for f in self._history if f.disclosure == "volunteered"])

    async def reply(self, question: str) -> PatientReply:
        """Answer from the facts the question asks about."""
        return self.answer(question)

    def answer(self, question: str) -> PatientReply:
        """Synchronous core of :meth:`reply`, reused by the LLM patient's guard."""
        norm = normalise(question)
        facts: list[Fact] = []
        silent: list[str] = []
        for topic in _asked_topics(self.matcher_name, question):
            found = self._by_topic.get(topic)
            if found:
                facts.extend(found)
            else:
                silent.append(topic)
        # Compared by id: comparing the facts themselves field by field was most of this loop's cost.
        taken = {f.id for f in facts}
        for f in self._history:
            if f.id not in taken and any(phrase_in(k, norm) for k in f.keywords):
                facts.append(f)
        for topic in silent if not facts else ():
            facts.extend(self.mentions(topic))
        if facts:
            return self.voice.tell(list({f.id: f for f in facts}.values()))
        if any(phrase_in(q, norm) for q in _DIAGNOSIS_QUESTIONS):
            return PatientReply(text=self.voice.say("diagnosis"))
        if silent:
            return self._synthesized(silent[:MAX_SYNTHESIZED])
        if match_topics(question, ("exam", "test")):
            return PatientReply(text=self.voice.say("not_checked"))
        return PatientReply(text=self.voice.say("unclear"))

    def _synthesized(self, silent: list[str]) -> PatientReply:
        """Answer topics the case leaves out as a patient would (see :mod:`personas.plausible`)."""
        made = [m for m in (self.plausible.answer(t) for t in silent) if m is not None]
        unknowable = [m.record for m in made if m.record is not None and m.record.rule == SynthesisRule.UNKNOWABLE]
        if not made or unknowable:
            return PatientReply(text=self.voice.say("unknown"), synthesized=unknowable)
        reply = self.voice.tell(list({m.fact.id: m.fact for m in made}.values()))
        told = set(reply.revealed)
        records = [m.record for m in made if m.record is not None and m.fact.id in told]
        return PatientReply(
            text=reply.text,
            revealed=[i for i in reply.revealed if not is_synthesized(i)],
            synthesized=[r.model_copy(update={"text": reply.text}) for r in records],
        )


@lru_cache(maxsize=1 << 15)
def _asked_topics(matcher: str, question: str) -> tuple[str, ...]:
    # Doctors ask the same questions of thousands of patients (the built-in
    # doctor only its checklist's), so what a question asks is worked out once.
    return tuple(match_intents(get_matcher(matcher), question))


@lru_cache(maxsize=1 << 14)
def _topics_named(text: str) -> tuple[str, ...]:
    # Facts repeat across thousands of cases drawn from one knowledge base.
    return tuple(match_topics(text, ("history",)))
