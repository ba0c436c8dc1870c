"""Deciding how a final diagnosis matches the case's, as a match and as a five-point grade.

The match (:data:`~arena.core.types.DiagnosisMatch`), in order:

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

The grade (:data:`~arena.core.types.DiagnosisGrade`) refines the match, so the
two never disagree: ``exact`` is ``exact``, ``partial`` is ``close``,
``missing`` is ``missing``, and a ``wrong`` answer is ``related`` or
``unrelated``. It is ``related`` when the knowledge base ties the two
conditions as differentials of each other (see :func:`related_condition`): a
doctor who suspects the one works up the other, so the right tests get done.

When a case has answer options, an answer that picks one by its letter ("B",
"B)", "Option B") or repeats its text is read as that option first
(:func:`chosen_option`).

An optional chat model grades what the rules call ``unrelated`` (free text the
rules cannot read, e.g. a description instead of a name) with the rubric of
``templates/diagnosis_grade.j2``; its grade sets the match too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from pydantic import BaseModel, field_validator, model_validator

from arena.core.templating import render
from arena.core.types import DIAGNOSIS_GRADES, GRADE_POINTS, Case, DiagnosisGrade, DiagnosisMatch, FinalAnswer
from arena.models import ChatModel, ModelError
from arena.models.ask_json import Answer, ask_json
from arena.models.registry import Role, resolve
from cases.kb import condition_of, find_condition, load_kb
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


# --------------------------------------------------------------------------- answer options

_PREFIX = r"(?i:(?:the\s+)?(?:correct\s+)?(?:option|answer|choice)(?:\s+is)?\s*:?\s*)"
# "B", "B)", "(B)", "B.", "Option B", "answer: b": nothing but the letter.
_BARE = re.compile(_PREFIX + r"?\(?([a-z])\)?[.:)]?", re.IGNORECASE)
# "B) Acute pancreatitis", "(B) ...", "Option B: ...": a capital letter, a mark, then text. The text
# must name that option, or "E. coli sepsis" would be read as option E.
_LEADING = re.compile(_PREFIX + r"?\(?([A-Z])\s*[.:)]\)?\s+(.+)", re.DOTALL)


def _letter(letter: str, options: Sequence[str]) -> str | None:
    i = ord(letter.upper()) - ord("A")
    return options[i] if 0 <= i < len(options) else None


def chosen_option(text: str, options: Sequence[str]) -> str | None:
    """Return the answer option a doctor's answer picks, or None.

    Options are lettered A, B, C... in their order. An answer picks one by its
    letter alone ("B", "B)", "(b)", "Option B", "The answer is B"), by its
    letter followed by words that name it ("B) Acute pancreatitis"), or by
    repeating its text.

    Args:
        text: The doctor's final diagnosis as written.
        options: The case's answer options (empty: nothing is picked).

    Returns:
        The option's text, or None when the answer picks none (a letter past
        the last option, or free text).
    """
    if not options:
        return None
    said = text.strip()
    for o in options:
        if normalise(o) == normalise(said):
            return o
    bare = _BARE.fullmatch(said)
    if bare:
        return _letter(bare.group(1), options)
    leading = _LEADING.fullmatch(said)
    if leading:
        option = _letter(leading.group(1), options)
        rest = normalise(leading.group(2))
        if option is not None and rest.strip() and (rest in normalise(option) or normalise(option) in rest):
            return option
    return None


def said_diagnosis(final: FinalAnswer | None, case: Case) -> str:
    """The diagnosis a final answer gives, with an answer option it picks read as the option's text.

    Returns:
        The diagnosis text; empty when there is none.
    """
    if final is None:
        return ""
    return chosen_option(final.diagnosis, case.options) or final.diagnosis


# --------------------------------------------------------------------------- rules


def match_diagnosis(final: FinalAnswer | None, case: Case) -> DiagnosisMatch:
    """Compare a doctor's final diagnosis with the case's (rules 1-4 above).

    Args:
        final: The doctor's final answer, or None if none was given.
        case: The case with its diagnosis, synonyms, ICD-10 code and answer options.

    Returns:
        ``exact``, ``partial``, ``wrong`` or ``missing``.
    """
    text = said_diagnosis(final, case)
    if not text.strip():
        return "missing"
    said = normalise(text)
    said_core = _core(text)
    names = [case.diagnosis.name, *case.diagnosis.synonyms]
    for n in names:
        if normalise(n) in said:
            return "exact"
    for n in names:
        core = _core(n)
        if said_core and core and said_core < core:
            return "partial"
    if case.diagnosis.icd10:
        cond = find_condition(load_kb(), text)
        if cond is not None:
            return icd_relation(cond.icd10, case.diagnosis.icd10)
    return "wrong"


def _names_one_of(text: str, names: Sequence[str]) -> bool:
    """Whether ``text`` holds one of ``names``, or says one of them less specifically (as rules 1-2 read it)."""
    said, said_core = normalise(text), _core(text)
    for n in names:
        core = _core(n)
        if normalise(n) in said or (said_core and core and said_core <= core):
            return True
    return False


def related_condition(text: str, case: Case) -> bool:
    """Whether a diagnosis that is not the case's names a condition that would lead to the right work-up.

    The knowledge base says which conditions a doctor must tell apart: each
    condition's ``differentials``. Two conditions listed that way are worked up
    with the same history questions and tests (an ECG and troponin for chest
    pain whether one suspects pericarditis or a STEMI), so naming one for the
    other is ``related``. Related when any of these holds:

    1. the answer names one of the case's differentials (by name or synonym,
       or less specifically, as the exact and partial rules read names), or
       names a condition with the ICD-10 code of one;
    2. the answer names a knowledge-base condition that lists the case's
       condition among its differentials, or that the case's condition lists
       among its own (the relation is read both ways: a condition considered
       instead of another is as close as the reverse).

    Sharing an ICD-10 chapter or an organ system is not enough: each holds
    conditions worked up quite differently (chapter I holds both atrial
    fibrillation and deep vein thrombosis), and the knowledge base holds no
    table of the finer ICD-10 blocks to go by.

    Args:
        text: The diagnosis said (an answer option already read as its text).
        case: The case.

    Returns:
        True when related by rule 1 or 2.
    """
    if any(_names_one_of(text, [d.name, *d.synonyms]) for d in case.differentials):
        return True
    said = find_condition(load_kb(), text)
    if said is None:
        return False
    if any(d.icd10 and _icd(d.icd10) == _icd(said.icd10) for d in case.differentials):
        return True
    truth = condition_of(case)
    if truth is None or truth.id == said.id:
        return False
    return said.id in truth.differentials or truth.id in said.differentials


GRADE_OF_MATCH: dict[DiagnosisMatch, DiagnosisGrade] = {"exact": "exact", "partial": "close", "missing": "missing"}
"""The grade each match other than ``wrong`` is; a ``wrong`` match is ``related`` or ``unrelated``."""
MATCH_OF_GRADE: dict[DiagnosisGrade, DiagnosisMatch] = {
    "exact": "exact",
    "close": "partial",
    "related": "wrong",
    "unrelated": "wrong",
    "missing": "missing",
}
"""The match each grade implies, so a grade decided by a model sets the match consistently."""


def _grade(match: DiagnosisMatch, text: str, case: Case) -> DiagnosisGrade:
    if match != "wrong":
        return GRADE_OF_MATCH[match]
    return "related" if related_condition(text, case) else "unrelated"


def grade_diagnosis(final: FinalAnswer | None, case: Case) -> DiagnosisGrade:
    """Grade a doctor's final diagnosis on the five-point scale, by the knowledge base's ICD-10 codes and names.

    ``exact`` and ``close`` are :func:`match_diagnosis`'s ``exact`` and
    ``partial`` (a name or synonym, the same or a more specific code; a less
    specific name or code, a sibling code); a ``wrong`` answer is ``related``
    when :func:`related_condition` holds, else ``unrelated``; no diagnosis is
    ``missing``.

    Args:
        final: The doctor's final answer, or None if none was given.
        case: The case.

    Returns:
        The grade.
    """
    return _grade(match_diagnosis(final, case), said_diagnosis(final, case), case)


# --------------------------------------------------------------------------- the model's grade

_GRADE_WORDS: dict[str, DiagnosisGrade] = {
    **{g: g for g in DIAGNOSIS_GRADES},
    "same": "exact",
    "partial": "close",
    "wrong": "unrelated",
    "different": "unrelated",
    "none": "missing",
}
"""Words a reply may grade with: the grade names, and the words of the older match scale."""
_BY_POINTS: dict[int, DiagnosisGrade] = {points: g for g, points in GRADE_POINTS.items()}
_POINTS = re.compile(r"([1-5])(?:\s*/\s*5)?")
_WORD = re.compile(r"[a-z]+")


def read_grade(value: object) -> DiagnosisGrade:
    """Read a grade a model wrote: a grade name in any case, or its number on the 1-5 scale.

    Raises:
        ValueError: for anything else (null, a bool, a number off the scale, an unknown word).
    """
    if value is None or isinstance(value, bool):
        raise ValueError("a grade, not null, true or false")
    if isinstance(value, int | float):
        if value in _BY_POINTS:
            return _BY_POINTS[int(value)]
        raise ValueError(f"{value} is not a grade from 1 to 5")
    text = str(value).strip().lower()
    points = _POINTS.fullmatch(text)
    if points:
        return _BY_POINTS[int(points.group(1))]
    word = _WORD.match(text)
    if word and word.group(0) in _GRADE_WORDS:
        return _GRADE_WORDS[word.group(0)]
    raise ValueError(f"not a grade: one of {', '.join(DIAGNOSIS_GRADES)} or 1-5")


DIAGNOSIS_JUDGE_OPTION = "--diagnosis-judge"


def diagnosis_judge_model(name: str) -> ChatModel:
    """Return the chat model called ``name``, to grade diagnoses the rules call unrelated.

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
    """The model's grade of a diagnosis the rules call unrelated."""

    grade: DiagnosisGrade
    """The grade; the reply may give its name, its number (5 exact .. 1 missing) or a word of ``_GRADE_WORDS``."""

    @model_validator(mode="before")
    @classmethod
    def _match_key(cls, data: object) -> object:
        # A model that remembers the older reply shape says "match"; what it means is still readable.
        if isinstance(data, dict) and "grade" not in data and "match" in data:
            return {**data, "grade": data["match"]}
        return data

    @field_validator("grade", mode="before")
    @classmethod
    def _read(cls, v: object) -> DiagnosisGrade:
        return read_grade(v)


class DiagnosisDecision(NamedTuple):
    """How a final diagnosis matches the case's, and its grade; the two always agree (see :data:`MATCH_OF_GRADE`)."""

    match: DiagnosisMatch
    """exact, partial, wrong or missing."""
    grade: DiagnosisGrade
    """The five-point grade."""


class DiagnosisDecider:
    """Rule-based diagnosis matching and grading with an optional chat-model grader."""

    def __init__(self, model_name: str | None = None) -> None:
        """Create the decider.

        Args:
            model_name: Chat model asked when the rules say ``unrelated``; None for rules only.

        Raises:
            ModelError: if ``model_name`` is not a chat model.
        """
        self.model: ChatModel | None = diagnosis_judge_model(model_name) if model_name else None

    async def decide(self, final: FinalAnswer | None, case: Case) -> DiagnosisDecision:
        """Return how ``final`` matches the case's diagnosis, and its grade.

        The rules decide first; the model, when there is one, grades only an
        answer the rules call ``unrelated``, and its grade sets the match.
        """
        text = said_diagnosis(final, case)
        match = match_diagnosis(final, case)
        grade = _grade(match, text, case)
        if grade != "unrelated" or self.model is None or not text.strip():
            return DiagnosisDecision(match, grade)
        raw = final.diagnosis if final is not None else ""
        prompt = render("judges", "diagnosis_grade.j2", said=text, raw=raw, case=case)
        got = await ask_json(self.model, prompt, DiagnosisReply)
        if not isinstance(got, Answer):
            # Without a usable grade the rules' answer stands.
            return DiagnosisDecision(match, grade)
        return DiagnosisDecision(MATCH_OF_GRADE[got.value.grade], got.value.grade)
