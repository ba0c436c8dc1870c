"""A patient played by any chat model, bounded by its facts."""

from __future__ import annotations

from arena.models import ChatModel, Message
from arena.templating import render
from arena.types import Case, GuardEvent, PatientReply, Persona, Usage
from personas.builtin_patient import BuiltinPatient
from personas.matcher import normalise, phrase_in


class LLMPatient:
    """Prompts a chat model with the persona and the history facts.

    Examination and test findings are left out of the prompt, so the model
    cannot leak them. Every reply passes an output check: a reply that names
    the hidden diagnosis is replaced by the built-in patient's answer, and the
    replacement is recorded as a guard event.
    """

    def __init__(self, model: ChatModel, case: Case, persona: Persona) -> None:
        """Prepare the patient's system prompt.

        Args:
            model: The chat model that plays the patient.
            case: The case whose facts bound every answer.
            persona: The voice to answer in.
        """
        self.name = model.name
        self.model = model
        self.fallback = BuiltinPatient(case, persona)
        history = [f for f in case.facts if f.disclosure in ("volunteered", "on_ask")]
        system = render("personas", "patient_system.j2", case=case, persona=persona, facts=history)
        self.messages: list[Message] = [{"role": "system", "content": system}]
        self._forbidden = [case.diagnosis.name, *case.diagnosis.synonyms]

    async def open(self) -> PatientReply:
        """Open with the chief complaint, exactly as the case states it."""
        first = await self.fallback.open()
        self.messages.append({"role": "user", "content": "Hello, what brings you in today?"})
        self.messages.append({"role": "assistant", "content": first.text})
        return first

    async def reply(self, question: str) -> PatientReply:
        """Answer one question through the model, then check the answer."""
        self.messages.append({"role": "user", "content": question})
        out = await self.model.complete(self.messages)
        text = out.text.strip()
        usage = Usage()
        usage.add(out.usage)
        bounded = self.fallback.answer(question)
        guard: list[GuardEvent] = []
        norm = normalise(text)
        leaked = next((d for d in self._forbidden if phrase_in(d, norm)), None)
        if leaked or not text:
            guard.append(GuardEvent(claim=leaked or "(empty reply)", action="replaced"))
            text = bounded.text
        self.messages.append({"role": "assistant", "content": text})
        return PatientReply(text=text, revealed=bounded.revealed, guard=guard, usage=usage)
