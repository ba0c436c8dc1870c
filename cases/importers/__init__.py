"""Importers: public medical-dialogue datasets turned into arena cases.

Each format module reads one JSON object (one line of a JSONL file) into a
:class:`Draft`: the patient's facts, the chief complaint, the demographics and
the diagnosis as the source states it. This module reads the file, finishes
each draft into a :class:`~arena.core.types.Case` (the diagnosis looked up in the
knowledge base, the rubric derived from the matched condition or a minimal
one) and turns every problem into a :class:`~cases.loader.CaseFileError`
that names file, line and key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from arena.core.errors import error_line
from arena.core.types import Case, Diagnosis, RubricCheck, RubricItem
from cases.importers import agentclinic, healthbench, mediq
from cases.importers.records import Draft, Where, json_type
from cases.kb import Condition, KnowledgeBase, find_condition, load_kb
from cases.loader import CaseFileError, iter_jsonl_lines
from cases.rubric_from_kb import SAFETY_NET_WORDS, derive_rubric
from cases.synthesizer import consistency_problems, contradictions
from cases.text import normalise, phrase_in, states_absence

FORMATS = ("agentclinic", "mediq", "healthbench")
"""The formats :func:`import_cases` reads."""

NO_DIAGNOSIS = "not specified"
"""Diagnosis name of cases whose source states none (HealthBench conversations)."""


class Skipped(BaseModel):
    """A record an import left out, and why."""

    line: int
    """Its line in the file, from 1."""
    reason: str
    """What is wrong with it, without the file and line (records with the same fault share it)."""
    message: str
    """The whole one-line message: ``<file>:<line>: [field <key>: ]<reason>``."""


class ImportResult(BaseModel):
    """What an import produced."""

    read: int = 0
    """Records (non-blank lines) read from the file."""
    cases: list[Case] = Field(default_factory=list)
    """The cases, in file order."""
    skipped: list[Skipped] = Field(default_factory=list)
    """Records that could not be made into a case, in file order."""
    matched: int = 0
    """Cases whose diagnosis named a knowledge-base condition (rubric derived from it)."""
    unmatched: list[str] = Field(default_factory=list)
    """Diagnosis texts with no knowledge-base condition (minimal rubric)."""
    notes: list[str] = Field(default_factory=list)
    """Things left out on the way, each ``<file>:<line>: <what>``."""


# --------------------------------------------------------------------------- reading and finishing


def _records(path: Path) -> Iterator[tuple[Where, object]]:
    seen = False
    for n, obj in iter_jsonl_lines(path):
        seen = True
        yield Where(path, n), obj
    if not seen:
        lines = len(path.read_text(encoding="utf-8-sig").splitlines())
        raise CaseFileError(f"{path}:{max(1, lines)}: no cases in file (it is empty)")


def _first_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(case)"
    return loc, str(err["msg"])


def _diagnosis(text: str, cond: Condition | None) -> Diagnosis:
    if cond is None:
        return Diagnosis(name=text)
    own = normalise(text)
    synonyms: list[str] = []
    for s in (cond.name, *cond.synonyms):
        if normalise(s) != own and normalise(s) not in {normalise(x) for x in synonyms}:
            synonyms.append(s)
    return Diagnosis(name=text, icd10=cond.icd10, synonyms=synonyms)


def _options(draft: Draft, diagnosis: Diagnosis) -> list[str]:
    """The draft's answer options, each once, with the case's own wording of the diagnosis.

    Options that do not include the diagnosis are dropped (none rather than a
    question without its answer).
    """
    out: list[str] = []
    found = False
    for o in draft.options:
        text = o.strip()
        if draft.diagnosis is not None and normalise(text) == normalise(draft.diagnosis):
            text, found = diagnosis.name, True
        if text and text not in out:
            out.append(text)
    return out if found else []


def minimal_rubric(diagnosis: str) -> list[RubricItem]:
    """The rubric of a case whose diagnosis is not in the knowledge base.

    Args:
        diagnosis: The diagnosis as the source states it.

    Returns:
        A ``diagnose`` item (10 points) and a safety-netting ``mention`` item.
    """
    return [
        RubricItem(
            id="dx",
            criterion=f"Gives {diagnosis} as the most likely diagnosis",
            points=10,
            tags=["axis:diagnosis"],
            check=RubricCheck(kind="diagnose"),
        ),
        RubricItem(
            id="safety_net",
            criterion="Tells the patient when and how to seek urgent help (safety-netting)",
            points=3,
            tags=["axis:communication"],
            check=RubricCheck(kind="mention", targets=list(SAFETY_NET_WORDS)),
        ),
    ]


def _complaint_id(kb: KnowledgeBase, cond: Condition | None, said: str) -> str:
    """The knowledge-base complaint whose label the opening names, preferring the condition's own."""
    norm = normalise(said)
    own = [p.complaint for p in cond.presentations] if cond else []
    for pool in (own, list(kb.complaints)):
        named = [c for c in pool if c in kb.complaints and phrase_in(kb.complaints[c].label, norm)]
        if named:
            return max(named, key=lambda c: len(kb.complaints[c].label))
    return ""


def _finish(draft: Draft, fmt: str, where: Where, kb: KnowledgeBase | None) -> tuple[Case, Condition | None]:
    cond: Condition | None = None
    complaint = ""
    if draft.diagnosis is None:
        diagnosis = Diagnosis(name=NO_DIAGNOSIS)
        differentials: list[Diagnosis] = []
        rubric = draft.rubric or []
    else:
        assert kb is not None
        cond = find_condition(kb, draft.diagnosis)
        diagnosis = _diagnosis(draft.diagnosis, cond)
        differentials = []
        seen = {normalise(draft.diagnosis)}
        for d in draft.differentials:
            if d.strip() and normalise(d) not in seen:
                seen.add(normalise(d))
                differentials.append(_diagnosis(d.strip(), find_condition(kb, d)))
        if draft.rubric is not None:
            rubric = draft.rubric
        elif cond is not None:
            rubric = derive_rubric(cond, draft.facts)
        else:
            rubric = minimal_rubric(draft.diagnosis)
        opening = " ".join([draft.chief_complaint, *(f.text for f in draft.facts if f.disclosure == "volunteered")])
        complaint = _complaint_id(kb, cond, opening)
    try:
        case = Case(
            id=f"{fmt}-{draft.source_id}",
            title=draft.title,
            source=fmt,
            chief_complaint=draft.chief_complaint,
            organ_system=cond.organ_system if cond else "",
            difficulty=draft.difficulty,
            complaint=complaint,
            demographics=draft.demographics,
            speaker=draft.speaker,
            facts=draft.facts,
            diagnosis=diagnosis,
            differentials=differentials,
            rubric=rubric,
            options=_options(draft, diagnosis),
        )
    except ValidationError as exc:
        loc, msg = _first_error(exc)
        raise where.error(f"the imported case is invalid: {msg}", loc) from None
    return case, cond


def _repair_polarity(draft: Draft, where: Where, notes: list[str]) -> None:
    # Free text like "has not eaten because of poor appetite" reads as a denial
    # to the negation cues but asserts a symptom; when the record also asserts
    # it ("loss of appetite"), the denial reading was the parser's mistake. A
    # fact that opens by stating an absence ("denies itching", "no fever") is
    # a denial whatever else the record says. One denial may agree with
    # several findings: it is repaired once, naming them all.
    agrees: dict[str, list[str]] = {}
    for pos, neg in contradictions(draft.facts, loose=True):
        if not states_absence(neg.text):
            agrees.setdefault(neg.id, []).append(pos.text)
    for i, fact in enumerate(draft.facts):
        if fact.id in agrees and fact.negative:
            draft.facts[i] = fact.model_copy(update={"negative": False})
            named = "; ".join(repr(t) for t in agrees[fact.id])
            notes.append(where.note(f"fact {fact.text!r} read as a finding, not a denial (it agrees with {named})"))


def import_cases(fmt: str, path: str | Path, kb: KnowledgeBase | None = None, *, strict: bool = False) -> ImportResult:
    """Read a dataset file in one of :data:`FORMATS` into arena cases.

    A record that cannot be made into a case (not JSON, a key missing or of
    the wrong type, text the parser cannot read, a duplicate id) is skipped
    with a one-line reason, and the rest of the file is read.

    Args:
        fmt: ``agentclinic`` (OSCE or NEJM lines), ``mediq`` or ``healthbench``.
        path: A JSONL file, one record per line (blank lines allowed).
        kb: Knowledge base to match diagnoses against; None loads the built-in one
            (only when a record has a diagnosis to match).
        strict: Raise on the first record that would be skipped.

    Returns:
        The cases, the records skipped and why, how many diagnoses matched a
        condition, the ones that did not, and notes on what was left out.

    Raises:
        CaseFileError: for an unknown format, a missing, unreadable or empty
            file, or (with ``strict``) a record that would be skipped; the
            message names the file, the line and the key.
    """
    readers = {"agentclinic": agentclinic.convert, "mediq": mediq.convert, "healthbench": healthbench.convert}
    if fmt not in readers:
        raise CaseFileError(f"unknown import format {fmt!r}; known formats: {', '.join(FORMATS)}")
    convert = readers[fmt]
    p = Path(path)
    result = ImportResult()
    first_line: dict[str, int] = {}
    for where, obj in _records(p):
        result.read += 1
        notes: list[str] = []
        try:
            case, cond, draft = _import_record(convert, fmt, obj, where, notes, kb, first_line)
        except CaseFileError as exc:
            if strict:
                raise
            result.skipped.append(_skip(where, str(exc)))
            continue
        first_line[case.id] = where.line
        result.cases.append(case)
        result.notes.extend(notes)
        if draft.diagnosis is not None:
            if cond is not None:
                result.matched += 1
            else:
                result.unmatched.append(draft.diagnosis)
    return result


Converter = Callable[[dict[str, Any], Where, list[str]], Draft]


def _import_record(
    convert: Converter,
    fmt: str,
    obj: object,
    where: Where,
    notes: list[str],
    kb: KnowledgeBase | None,
    first_line: Mapping[str, int],
) -> tuple[Case, Condition | None, Draft]:
    """One record made into a case, or a :class:`CaseFileError` saying why it cannot be."""
    try:
        return _make_case(convert, fmt, obj, where, notes, kb, first_line)
    except CaseFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unforeseen text breaks one record, never the import
        raise where.error(
            f"cannot make a case from this record ({type(exc).__name__}: {error_line(exc, limit=200)})"
        ) from None


def _make_case(
    convert: Converter,
    fmt: str,
    obj: object,
    where: Where,
    notes: list[str],
    kb: KnowledgeBase | None,
    first_line: Mapping[str, int],
) -> tuple[Case, Condition | None, Draft]:
    if isinstance(obj, CaseFileError):  # the line is not JSON
        raise obj
    if not isinstance(obj, dict):
        raise where.error(f"expected a JSON object, got {json_type(obj)}", "(record)")
    try:
        draft = convert(obj, where, notes)
    except ValidationError as exc:  # a fact or item built from unusable text
        loc, msg = _first_error(exc)
        raise where.error(f"cannot make a case from this record ({loc}: {msg})") from None
    if draft.diagnosis is not None and kb is None:
        kb = load_kb()
    _repair_polarity(draft, where, notes)
    case, cond = _finish(draft, fmt, where, kb)
    problems = consistency_problems(case)
    if problems:  # what `arena cases validate` would refuse is never written
        raise where.error(f"the record contradicts itself: {problems[0]}")
    if case.id in first_line:
        raise where.error(f"duplicate case id {case.id!r} (first on line {first_line[case.id]})", "id")
    return case, cond, draft


def _skip(where: Where, message: str) -> Skipped:
    prefix = f"{where.path}:{where.line}: "
    return Skipped(line=where.line, reason=message.removeprefix(prefix), message=message)


__all__ = [
    "FORMATS",
    "NO_DIAGNOSIS",
    "Draft",
    "ImportResult",
    "Skipped",
    "Where",
    "import_cases",
    "json_type",
    "minimal_rubric",
]
