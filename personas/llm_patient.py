"""A patient played by any chat model, bounded by its facts."""

from __future__ import annotations

import re

from arena.core.templating import render
from arena.core.types import Case, GuardEvent, PatientReply, Persona, SynthesisRule, Synthesized, Usage
from arena.models import ChatModel, Message
from cases.text import UNSURE, claims, sentences
from personas.builtin_patient import BuiltinPatient
from personas.guard import ClaimCheck, Guard, denies
from personas.leak_check import LeakCheck
from personas.matching import Candidate
from personas.plausible import PlausibleAnswers, is_synthesized, plain_answers, with_answers

_AFFIRMS = re.compile(
    r"\s*(?:yes|yeah|yep|i do|i have|i am|i did|it does|it is|it did|that's right|correct"
    r"|he does|she does|he has|she has)\b",
    re.IGNORECASE,
)
"""How a reply with no clinical words of its own says yes to what it was asked."""

_EDGE_REASONS = frozenset({"withholds a fact the patient knows", "not sure where a patient would answer"})

DEFAULT_TRIES = 2
"""Regenerations the guard asks for before the built-in patient's answer is used."""


class LLMPatient:
    """Prompts a chat model with the persona and the history facts.

    Examination and test findings are left out of the prompt, so the model
    cannot leak them. Every reply passes two output checks. A reply that
    names the hidden diagnosis or its code, states a result or echoes the
    prompt (:mod:`personas.leak_check`) is replaced at once by the built-in
    patient's answer. A reply with a claim the facts do not support
    (:mod:`personas.guard`) is sent back with guidance and regenerated, up to
    ``tries`` times, then replaced. Each intervention is recorded as a guard
    event.
    """

    def __init__(
        self,
        model: ChatModel,
        case: Case,
        persona: Persona,
        guard: Guard | None = None,
        tries: int = DEFAULT_TRIES,
        plausible: PlausibleAnswers | None = None,
    ) -> None:
        """Prepare the patient's system prompt.

        Args:
            model: The chat model that plays the patient.
            case: The case whose facts bound every answer.
            persona: The voice to answer in.
            guard: The hallucination guard; by default one over the case, its condition's typical
                findings and the persona, with the default matcher.
            tries: Regenerations after an unsupported claim before falling back to the built-in answer.
            plausible: What the patient says where the case is silent (see :func:`plausible_answers`).
        """
        self.name = model.name
        self.model = model
        self.persona = persona
        plausible = plausible or plausible_answers(case, persona)
        # The condition's typical findings are the patient's to tell; denials it needs no list for.
        typical = plausible.typical()
        told = with_answers(case, typical)
        self.guard = guard or Guard(told, persona=persona)
        self.fallback = BuiltinPatient(case, persona, guard=self.guard, plausible=plausible)
        self.tries = tries
        self._made = {a.fact.id: a.record for a in typical if a.record is not None}
        # What the case's own facts say against a claim, without the made-up findings beside them.
        self._against_case = plausible.check or Guard(case, persona=persona).contradicted
        history = [f for f in told.facts if f.disclosure in ("volunteered", "on_ask")]
        system = render(
            "personas",
            "patient_system.j2",
            case=case,
            persona=persona,
            facts=history,
            voice=self.fallback.voice,
            plain=plain_answers()["breathlessness"]["adult"][0],
        )
        self.messages: list[Message] = [{"role": "system", "content": system}]
        self._leaks = LeakCheck(told)

    async def open(self) -> PatientReply:
        """Open with the chief complaint, exactly as the case states it."""
        first = await self.fallback.open()
        self.messages.append({"role": "user", "content": "Hello, what brings you in today?"})
        self.messages.append({"role": "assistant", "content": first.text})
        return first

    async def reply(self, question: str) -> PatientReply:
        """Answer one question through the model, then check the answer."""
        self.messages.append({"role": "user", "content": question})
        usage = Usage()
        bounded = self.fallback.answer(question)
        guard: list[GuardEvent] = []
        prompt = self.messages
        text = ""
        checks: list[ClaimCheck] = []
        for attempt in range(self.tries + 1):
            out = await self.model.complete(prompt)
            usage.add(out.usage)
            text = out.text.strip()
            leak = self._leaks.find(text, allowed=bounded.revealed)
            if leak or not text:
                reason = "leaks what the patient must not say" if leak else "empty reply"
                guard.append(
                    GuardEvent(
                        claim=leak.claim if leak else "(empty reply)", action="replaced", reason=reason, attempt=attempt
                    )
                )
                text = bounded.text
                break
            verifier_before = self.guard.usage.model_copy()
            checks = [self._as_answered(self._on_case(c), bounded) for c in await self.guard.acheck(text)]
            rejected = [c for c in checks if not c.supported]
            _add_difference(usage, self.guard.usage, verifier_before)
            edge = self._shows_edge(text, bounded)
            if edge is not None and not rejected:
                rejected = [edge]
            if not rejected:
                break
            last = attempt == self.tries
            guard.extend(
                GuardEvent(
                    claim=c.claim, action="replaced" if last else "regenerated", reason=c.reason, attempt=attempt
                )
                for c in rejected
            )
            if last:
                text = bounded.text
                break
            prompt = [*self.messages, {"role": "assistant", "content": text}, _feedback(rejected, self.persona)]
        self.messages.append({"role": "assistant", "content": text})
        if text == bounded.text:
            return PatientReply(
                text=text, revealed=bounded.revealed, synthesized=bounded.synthesized, guard=guard, usage=usage
            )
        revealed, synthesized = self._what_it_says(text, checks, bounded)
        return PatientReply(text=text, revealed=revealed, synthesized=synthesized, guard=guard, usage=usage)

    def _on_case(self, check: ClaimCheck) -> ClaimCheck:
        """``check``, rejected when it rests on a made-up finding but says the opposite of a case fact.

        A typical finding the case leaves out may share words with a claim that a fact of the case
        denies ("my ankles are swollen" beside "no leg swelling"): the case's word wins.
        """
        if not check.supported or not is_synthesized(check.fact_id):
            return check
        against = self._against_case(check.claim)
        if against is None:
            return check
        return ClaimCheck(check.claim, False, f"contradicts {against}", against, score=check.score)

    def _as_answered(self, check: ClaimCheck, bounded: PatientReply) -> ClaimCheck:
        """``check``, accepted when the claim says what the built-in patient made up for this question.

        The prompt asks for a plain denial or an ordinary answer where the case is silent ("I sleep
        all right"); such a claim rests on no fact, so the guard alone would send it back. It is
        accepted when it reads like the built-in patient's answer (a close wording, the same
        polarity), which was itself checked against the case. A claim that contradicts a fact stays
        rejected.
        """
        if check.supported or check.reason.startswith("contradicts") or not bounded.synthesized:
            return check
        # Sentence by sentence: one answer may deny one thing and describe another.
        said = claims(bounded.text)
        best = self.guard.matcher.support(check.claim, [Candidate(str(i), (s,)) for i, s in enumerate(said)])
        if best is None or best.score < self.guard.thresholds.support_min:
            return check
        if denies(check.claim) != denies(said[int(best.key)]) or self._against_case(check.claim) is not None:
            return check
        return ClaimCheck(check.claim, True, "plausible answer", score=best.score, firm=False)

    def _shows_edge(self, text: str, bounded: PatientReply) -> ClaimCheck | None:
        """A "not sure" where the patient knows the answer, as a claim to send back; else None.

        It withholds a fact the question asked about, or, where the case is silent, tells the doctor
        the topic lies outside the case, which a doctor model can learn to read. Only what the speaker
        could not know (:data:`~arena.core.types.SynthesisRule.UNKNOWABLE`) may be answered so.
        """
        # The persona's hedges ("I don't know the proper words") are voice; its own "not sure" is not.
        said = self.guard.voice_free(text)
        own = self.persona.unknown_reply.strip().rstrip(".").lower()
        found = UNSURE.search(said) or (UNSURE.search(text) if own and own in text.lower() else None)
        if found is None:
            return None
        if bounded.revealed:
            reason = "withholds a fact the patient knows"
        elif any(s.rule != SynthesisRule.UNKNOWABLE for s in bounded.synthesized):
            reason = "not sure where a patient would answer"
        else:
            return None
        claim = next((s for s in sentences(said) if UNSURE.search(s)), found.group(0))
        return ClaimCheck(claim=claim, supported=False, reason=reason)

    def _what_it_says(
        self, text: str, checks: list[ClaimCheck], bounded: PatientReply
    ) -> tuple[list[str], list[Synthesized]]:
        """The case facts a model's reply states, and what it said beyond them.

        The judges credit the doctor with what a turn reveals, so it must be what the text says,
        not what the question asked about: "I'm not sure" reveals nothing. A reply with no
        clinical claim but a plain yes ("Yes, I do") answers the question it was asked, so it tells
        what the built-in patient would have told; "Sorry, say that again?" tells nothing.
        """
        backed = list(dict.fromkeys(c.fact_id for c in checks if c.supported and c.fact_id))
        if backed:
            revealed = [i for i in backed if not is_synthesized(i)]
            synthesized = [self._made[i].model_copy(update={"text": text}) for i in backed if i in self._made]
        elif not checks and _AFFIRMS.match(text) and not UNSURE.search(text):
            revealed = bounded.revealed
            synthesized = [s.model_copy(update={"text": text}) for s in bounded.synthesized]
        else:
            revealed, synthesized = [], []
        if not revealed and not synthesized and checks and all(c.supported for c in checks):
            # Denials of what the case leaves out: the rule the built-in patient would have used.
            synthesized = [s.model_copy(update={"text": text}) for s in bounded.synthesized]
        return revealed, synthesized


def _feedback(rejected: list[ClaimCheck], persona: Persona) -> Message:
    edge = [c for c in rejected if c.reason in _EDGE_REASONS]
    content = render(
        "personas",
        "guard_feedback.j2",
        claims=[c for c in rejected if c not in edge],
        unsure=edge,
        unknown_reply=persona.unknown_reply,
    )
    return {"role": "user", "content": content}


def _add_difference(total: Usage, now: Usage, before: Usage) -> None:
    # The verifier's calls count toward the patient's usage for this turn.
    total.add(
        Usage(
            calls=now.calls - before.calls,
            prompt_tokens=now.prompt_tokens - before.prompt_tokens,
            completion_tokens=now.completion_tokens - before.completion_tokens,
            cost_usd=now.cost_usd - before.cost_usd,
        )
    )


def plausible_answers(case: Case, persona: Persona) -> PlausibleAnswers:
    """What a model-played patient of ``case`` may say where the case is silent, checked against the case.

    Its guard is given every one of these answers, so a model that answers as the built-in patient
    would is never sent back; its prompt lists the condition's typical findings among the facts.
    """
    return PlausibleAnswers(case, proxy=persona.third_person, check=Guard(case, persona=persona).contradicted)
