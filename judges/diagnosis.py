"""Deciding whether a final diagnosis names the case's diagnosis.

In order:

1. a name or synonym of the case's diagnosis inside the answer is ``exact``
   ("acute inferior STEMI" for "STEMI");
2. an answer whose content words are a strict subset of a name's is
   ``partial`` (a less specific form: "myocardial infarction" for "inferior
   myocardial infarction");
3. otherwise the answer is looked up in the knowledge base and the ICD-10
   codes compared: the same code or a code under the case's (more specific)
   is ``exact``, a code above it (less specific) is ``partial``, a sibling in
   the same three-character category is ``partial``;
4. a different disease is ``wrong``; no answer is ``missing``.

An optional chat model decides what rules 1-3 leave ``wrong`` (free text the
rules cannot read, e.g. a description instead of a name).
"""

from __future__ import annotations

from pydantic import BaseModel, field_validator

from arena.core.templating import render
from arena.core.types import Case, DiagnosisMatch, FinalAnswer
from arena.models import ChatModel, ModelError
from arena.models.ask_json import Answer, ask_json
from arena.models.registry import Role, resolve
from cases.kb import find_condition, load_kb
from cases.text import normalise

_FILLER = {
    "acute",
    "chronic",
    "likely",
    "probable",
    "possible",
    "suspected",
    "the",
    "of",
    "a",
    "an",
    "with",
    "and",
    "left",
    "right",
}


def _core(text: str) -> set[str]:
    return {w for w in normalise(text).split() if w not in _FILLER}


def _icd(code: str) -> str:
    return code.upper().replace(".", "").strip()


def icd_relation(said: str, truth: str) -> DiagnosisMatch:
    """Compare two ICD-10 codes.

    Returns:
        ``exact`` for the same code or a more specific one, ``partial`` for a
        less specific one or a sibling in the same category, ``wrong`` otherwise.
    """
    a, b = _icd(said), _icd(truth)
    if not a or not b:
        return "wrong"
    if a == b or a.startswith(b):
        return "exact"
    if b.startswith(a) or a[:3] == b[:3]:
        return "partial"
    return "wrong"


def match_diagnosis(final: FinalAnswer | None, case: Case) -> DiagnosisMatch:
    """Compare a doctor's final diagnosis with the case's (rules 1-4 above).

    Args:
        final: The doctor's final answer, or None if none was given.
        case: The case with its diagnosis, synonyms and ICD-10 code.

    Returns:
        ``exact``, ``partial``, ``wrong`` or ``missing``.
    """
    if final is None or not final.diagnosis.strip():
        return "missing"
    said = normalise(final.diagnosis)
    said_core = _core(final.diagnosis)
    names = [case.diagnosis.name, *case.diagnosis.synonyms]
    for n in names:
        if normalise(n) in said:
            return "exact"
    for n in names:
        core = _core(n)
        if said_core and core and said_core < core:
            return "partial"
    if case.diagnosis.icd10:
        cond = find_condition(load_kb(), final.diagnosis)
        if cond is not None:
            return icd_relation(cond.icd10, case.diagnosis.icd10)
    return "wrong"


_VERDICTS: dict[str, DiagnosisMatch] = {
    "exact": "exact",
    "same": "exact",
    "partial": "partial",
    "wrong": "wrong",
    "different": "wrong",
}


DIAGNOSIS_JUDGE_OPTION = "--diagnosis-judge"


def diagnosis_judge_model(name: str) -> ChatModel:
    """Return the chat model called ``name``, to decide diagnoses the rules leave ``wrong``.

    Raises:
        ModelError: one line naming the option, for a malformed name or a built-in policy
            (``builtin/rubric`` judges rubric items, not diagnoses).
    """
    try:
        model: ChatModel = resolve(Role.VERIFIER, name).build()
    except ModelError as e:
        raise ModelError(f"{DIAGNOSIS_JUDGE_OPTION}: {e}") from None
    return model


class DiagnosisReply(BaseModel):
    """The model's decision on a diagnosis the rules call wrong."""

    match: DiagnosisMatch
    """How the answer matches the case's diagnosis; the reply may say it in any word of ``_VERDICTS``."""

    @field_validator("match", mode="before")
    @classmethod
    def _read(cls, v: object) -> DiagnosisMatch:
        word = str(v).lower()
        if word not in _VERDICTS:
            raise ValueError(f"not one of {sorted(_VERDICTS)}")
        return _VERDICTS[word]


class DiagnosisDecider:
    """Rule-based diagnosis matching with an optional chat-model fallback."""

    def __init__(self, model_name: str | None = None) -> None:
        """Create the decider.

        Args:
            model_name: Chat model asked when the rules say ``wrong``; None for rules only.

        Raises:
            ModelError: if ``model_name`` is not a chat model.
        """
        self.model: ChatModel | None = diagnosis_judge_model(model_name) if model_name else None

    async def decide(self, final: FinalAnswer | None, case: Case) -> DiagnosisMatch:
        """Return how ``final`` matches the case's diagnosis."""
        m = match_diagnosis(final, case)
        if m != "wrong" or self.model is None or final is None:
            return m
        prompt = render("judges", "diagnosis_match.j2", said=final.diagnosis, case=case)
        got = await ask_json(self.model, prompt, DiagnosisReply)
        # Without a usable decision the rules' answer stands.
        return got.value.match if isinstance(got, Answer) else m
