"""MediQ cases: MedQA vignettes split into facts for an interactive consultation.

A line holds ``{"id", "question", "context": [sentences], "options": {"A":
...}, "answer", "answer_idx", "facts": ["1. ...", ...], "patient": {...}}``.
The first context sentence is what the patient opens with; the remaining
context (or the numbered ``facts``, when given) becomes history the patient
tells when asked, except sentences that report examination signs or test
results, which only an exam or a test reveals. The answer is the diagnosis,
the other options the differentials.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from arena.core.types import Demographics, Speaker
from cases.importers.facts import FactBuilder, complaint_from_vignette, parse_age
from cases.importers.records import Draft, Where, get_list, get_str, json_type, read_demographics
from cases.text import normalise, record_sentences

_NUMBERING = re.compile(r"^\s*\d{1,3}\s*[.)]\s*")


def _with_answer(options: dict[str, str], answer: str, idx: str) -> list[str]:
    """The options in letter order, the answer among them.

    An option worded as the answer is kept as it is; otherwise the answer
    stands in for the option ``answer_idx`` marks (the same choice, worded
    differently), or, with no such option, is added at the end.
    """
    texts = [options[k] for k in sorted(options)]
    if any(normalise(t) == normalise(answer) for t in texts):
        return texts
    if idx in options:
        return [answer if k == idx else options[k] for k in sorted(options)]
    return [*texts, answer]


def _options(obj: dict[str, Any], where: Where) -> dict[str, str]:
    raw = obj.get("options")
    if raw is None:
        raise where.error("missing required key", "options")
    if isinstance(raw, list):
        raw = {chr(ord("A") + i): v for i, v in enumerate(raw)}
    if not isinstance(raw, dict):
        raise where.error(f"expected an object of lettered options, got {json_type(raw)}", "options")
    out: dict[str, str] = {}
    for k, v in raw.items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            v = str(v)
        if not isinstance(v, str):
            raise where.error(f"expected a string, got {json_type(v)}", f"options.{k}")
        out[str(k)] = v.strip()
    return out


def _context(obj: dict[str, Any], where: Where) -> list[str]:
    raw = obj.get("context")
    if raw is None:
        raise where.error("missing required key", "context")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise where.error(f"expected a list of sentences, got {json_type(raw)}", "context")
    sentences: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, str):
            raise where.error(f"expected a string, got {json_type(item)}", f"context.{i}")
        sentences.extend(record_sentences(item) if len(raw) == 1 else [item.strip()])
    sentences = [s for s in sentences if s]
    if not sentences:
        raise where.error("must hold at least one sentence", "context")
    return sentences


def _patient(obj: dict[str, Any], where: Where) -> Demographics | None:
    """Demographics from the optional ``patient`` object (``age`` and ``sex``/``gender``)."""
    raw = obj.get("patient")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise where.error(f"expected an object, got {json_type(raw)}", "patient")
    age_raw = raw.get("age")
    age = age_raw if isinstance(age_raw, int) and not isinstance(age_raw, bool) else None
    if isinstance(age_raw, str):
        age = parse_age(age_raw) if not age_raw.strip().isdigit() else int(age_raw)
    sex_raw = raw.get("sex", raw.get("gender"))
    sex: Literal["female", "male"] | None = None
    if isinstance(sex_raw, str):
        s = sex_raw.strip().lower()
        if s in ("m", "male", "man", "boy"):
            sex = "male"
        elif s in ("f", "female", "woman", "girl"):
            sex = "female"
    if age is None or sex is None or not 0 <= age <= 120:
        return None
    return Demographics(age=age, sex=sex)


def convert(obj: dict[str, Any], where: Where, notes: list[str]) -> Draft:
    """Read one MediQ line into a draft case.

    Args:
        obj: The parsed JSON object.
        where: File and line, for errors.
        notes: Notes on what was left out are appended here.

    Returns:
        The draft.

    Raises:
        CaseFileError: naming the missing or malformed key.
    """
    question = get_str(obj, "question", where)
    context = _context(obj, where)
    options = _options(obj, where)
    answer = get_str(obj, "answer", where, required=False)
    idx = get_str(obj, "answer_idx", where, required=False)
    if not answer:
        if not idx:
            raise where.error("missing required key", "answer")
        if idx not in options:
            raise where.error(f"{idx!r} is not one of the options {sorted(options)}", "answer_idx")
        answer = options[idx]
    elif idx and idx in options and normalise(options[idx]) != normalise(answer):
        notes.append(where.note(f"answer {answer!r} differs from option {idx} {options[idx]!r}; using the answer"))
    source_id = get_str(obj, "id", where, required=False, number=True) or str(where.line)

    facts_raw = get_list(obj, "facts", where, required=False)
    for i, item in enumerate(facts_raw):
        if not isinstance(item, str):
            raise where.error(f"expected a string, got {json_type(item)}", f"facts.{i}")

    demographics = _patient(obj, where) or read_demographics(where, "context.0", notes, context[0], " ".join(context))
    speaker: Speaker = "caregiver" if demographics.age < 12 else "self"
    b = FactBuilder(speaker, demographics.sex)
    opening = complaint_from_vignette(context[0], speaker, demographics.sex)
    b.volunteered(context[0], lay=opening)
    if facts_raw:
        first = normalise(context[0])
        rest = [_NUMBERING.sub("", f).strip() for f in facts_raw]
        rest = [f for f in rest if f and normalise(f) not in first]
    else:
        rest = context[1:]
    b.vignette(rest)
    differentials = [v for k, v in options.items() if v and normalise(v) != normalise(answer) and k != idx]
    return Draft(
        source_id=source_id,
        title=f"MediQ {source_id}: {answer} ({question})",
        chief_complaint=opening,
        demographics=demographics,
        facts=b.facts,
        diagnosis=answer,
        differentials=differentials,
        options=_with_answer(options, answer, idx),
        speaker=speaker,
    )
