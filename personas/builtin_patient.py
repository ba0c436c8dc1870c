"""The built-in patient: answers only from the case's facts, in the persona's voice."""

from __future__ import annotations

from functools import lru_cache

from arena.core.types import Case, Fact, PatientReply, Persona
from cases.knowledge import match_topics
from cases.text import normalise, phrase_in
from personas.matching import DEFAULT_MATCHER, get_matcher, match_intents
from personas.voice import Voice

_DIAGNOSIS_QUESTIONS = ("diagnosis", "what do you think it is", "what have i got", "what's wrong with me", "chart")


class BuiltinPatient:
    """Matches each question to facts and answers with their lay wording.

    Facts disclosed only by examination or tests are never said: the patient
    does not know them. The diagnosis is not among the facts, so it cannot be
    said either.
    """

    def __init__(
        self, case: Case, persona: Persona, name: str = "builtin/patient", matcher: str = DEFAULT_MATCHER
    ) -> None:
        """Prepare a patient for one consultation.

        Args:
            case: The case whose facts bound every answer.
            persona: The voice to answer in.
            name: The model name recorded on the transcript.
            matcher: The matcher backend that reads which topics a question asks about.
        """
        self.name = name
        self.case = case
        self.persona = persona
        self.matcher_name = matcher
        self.matcher = get_matcher(matcher)
        self.voice = Voice(persona, case)
        self._history = [f for f in case.facts if f.disclosure in ("volunteered", "on_ask")]
        self._by_topic: dict[str, list[Fact]] = {}
        for f in self._history:
            self._by_topic.setdefault(f.topic, []).append(f)

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
        unknown = False
        for topic in _asked_topics(self.matcher_name, question):
            found = self._by_topic.get(topic)
            if found:
                facts.extend(found)
            else:
                unknown = True
        for f in self._history:
            if f not in facts and any(phrase_in(k, norm) for k in f.keywords):
                facts.append(f)
        if facts:
            return self.voice.tell(list({f.id: f for f in facts}.values()))
        if any(phrase_in(q, norm) for q in _DIAGNOSIS_QUESTIONS):
            return PatientReply(text=self.voice.say("diagnosis"))
        if unknown:
            return PatientReply(text=self.voice.say("unknown"))
        if match_topics(question, ("exam", "test")):
            return PatientReply(text=self.voice.say("not_checked"))
        return PatientReply(text=self.voice.say("unclear"))


@lru_cache(maxsize=1 << 15)
def _asked_topics(matcher: str, question: str) -> tuple[str, ...]:
    # Doctors ask the same questions of thousands of patients (the built-in
    # doctor only its checklist's), so what a question asks is worked out once.
    return tuple(match_intents(get_matcher(matcher), question))
