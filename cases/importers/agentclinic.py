"""AgentClinic cases: OSCE examinations and the NEJM image-challenge variant.

An OSCE line holds ``{"OSCE_Examination": {"Patient_Actor": {...},
"Physical_Examination_Findings": {...}, "Test_Results": {...},
"Correct_Diagnosis": ...}}``. The primary symptom is what the patient opens
with; the rest of the actor's script becomes history told when asked, each
section with its category; every leaf of the examination findings is an
``exam`` fact and every leaf of the test results a ``test`` fact, with the
key path as keywords so a request by name ("ceruloplasmin") finds it.

A NEJM line holds ``{"question", "patient_info", "physical_exams",
"answers": [{"text", "correct"}], "image_url"}``: the first sentence of
``patient_info`` is the opening, the rest history (or exam/test findings when
they read like them); the correct answer is the diagnosis and the other
answers the differentials.
"""

from __future__ import annotations

from typing import Any

from arena.types import Speaker
from cases.importers import Draft, Where, flatten_text, get_list, get_obj, get_str, get_text, json_type, leaves
from cases.importers.facts import (
    FactBuilder,
    HistoryCat,
    complaint_from_vignette,
    complaint_words,
    finding_kind,
    parse_demographics,
    split_atomic,
    split_sentences,
)

OSCE = "OSCE_Examination"
ACTOR = f"{OSCE}.Patient_Actor"

# Patient_Actor sections in the order a history is taken, with their category.
_SECTIONS: list[tuple[str, HistoryCat]] = [
    ("History", "hpi"),
    ("History_of_Present_Illness", "hpi"),
    ("Past_Medical_History", "pmh"),
    ("Past_Surgical_History", "pmh"),
    ("Current_Medications", "medications"),
    ("Medications", "medications"),
    ("Allergies", "allergies"),
    ("Social_History", "social"),
    ("Family_History", "family"),
    ("Review_of_Systems", "ros"),
]
_SKIP = {"Demographics", "Symptoms"}


def _section_category(key: str) -> HistoryCat:
    """Category of an actor section the format does not name, from its key."""
    k = key.lower()
    if "famil" in k:
        return "family"
    if "allerg" in k:
        return "allergies"
    if "medication" in k or ("drug" in k and "illicit" not in k):
        return "medications"
    if any(w in k for w in ("social", "travel", "sexual", "occupation", "habit", "lifestyle", "substance")):
        return "social"
    if any(w in k for w in ("past", "surgical", "obstetric", "gyn", "immuni", "vaccin", "birth", "developmental")):
        return "pmh"
    if "review" in k or "systems" in k:
        return "ros"
    return "hpi"


def convert(obj: dict[str, Any], where: Where, notes: list[str]) -> Draft:
    """Read one AgentClinic line (OSCE or NEJM) into a draft case.

    Args:
        obj: The parsed JSON object.
        where: File and line, for errors.
        notes: Notes on what was left out are appended here.

    Returns:
        The draft.

    Raises:
        CaseFileError: naming the missing or malformed key.
    """
    if OSCE in obj:
        return _osce(obj, where)
    if any(k in obj for k in ("patient_info", "answers", "physical_exams")):
        return _nejm(obj, where, notes)
    raise where.error(
        "missing required key (an OSCE case has OSCE_Examination; a NEJM case has patient_info and answers)", OSCE
    )


def _osce(obj: dict[str, Any], where: Where) -> Draft:
    osce = get_obj(obj, OSCE, where)
    actor = get_obj(osce, "Patient_Actor", where, OSCE)
    diagnosis = get_str(osce, "Correct_Diagnosis", where, OSCE)
    demo_text = get_str(actor, "Demographics", where, ACTOR)
    demographics = parse_demographics(demo_text)
    if demographics is None:
        raise where.error(f"cannot read age and sex from {demo_text!r}", f"{ACTOR}.Demographics")
    speaker: Speaker = "caregiver" if demographics.age < 12 else "self"
    symptoms = get_obj(actor, "Symptoms", where, ACTOR)
    primary = get_str(symptoms, "Primary_Symptom", where, f"{ACTOR}.Symptoms")
    if not any(ch.isalnum() for ch in primary):
        raise where.error("must name a symptom", f"{ACTOR}.Symptoms.Primary_Symptom")

    b = FactBuilder(speaker, demographics.sex)
    opening = complaint_words(primary, speaker, demographics.sex)
    b.volunteered(primary, lay=opening)
    sections = [(key, cat) for key, cat in _SECTIONS if key in actor]
    named = {key for key, _ in _SECTIONS}
    sections += [(key, _section_category(key)) for key in actor if key not in named and key not in _SKIP]
    # The story first, then the secondary symptoms and any other symptom details, then the rest.
    for key, category in sections:
        if category == "hpi":
            for text in get_text(actor, key, where, ACTOR):
                b.history(text, category)
    for text in get_text(symptoms, "Secondary_Symptoms", where, f"{ACTOR}.Symptoms"):
        b.history(text, "hpi")
    for key, value in symptoms.items():
        if key not in ("Primary_Symptom", "Secondary_Symptoms"):
            for text in flatten_text(value, key.replace("_", " ")):
                b.history(text, "hpi")
    for key, category in sections:
        if category != "hpi":
            for text in get_text(actor, key, where, ACTOR):
                b.history(text, category)
    for key, kind in (("Physical_Examination_Findings", "exam"), ("Test_Results", "test")):
        value = osce.get(key)
        if value is None:
            continue
        if not isinstance(value, dict | list | str):
            raise where.error(f"expected an object, a list or text, got {json_type(value)}", f"{OSCE}.{key}")
        if isinstance(value, str):
            for sentence in split_sentences(value):
                b.free_finding("exam" if kind == "exam" else "test", sentence)
            continue
        for path, text in leaves(value):
            b.finding("exam" if kind == "exam" else "test", path, text)
    return Draft(
        source_id=str(where.line),
        title=f"AgentClinic OSCE: {diagnosis}",
        chief_complaint=opening,
        demographics=demographics,
        facts=b.facts,
        diagnosis=diagnosis,
        speaker=speaker,
    )


def _nejm(obj: dict[str, Any], where: Where, notes: list[str]) -> Draft:
    info = get_str(obj, "patient_info", where)
    question = get_str(obj, "question", where, required=False)
    answers = get_list(obj, "answers", where)
    correct: list[str] = []
    others: list[str] = []
    for i, ans in enumerate(answers):
        if not isinstance(ans, dict):
            raise where.error(f"expected an object, got {json_type(ans)}", f"answers.{i}")
        text = get_str(ans, "text", where, f"answers.{i}")
        flag = ans.get("correct")
        if not isinstance(flag, bool):
            raise where.error("expected true or false", f"answers.{i}.correct")
        (correct if flag else others).append(text)
    if len(correct) != 1:
        raise where.error(f"exactly one answer must be marked correct, found {len(correct)}", "answers")
    sentences = split_sentences(info)
    demographics = parse_demographics(sentences[0], fallback=info)
    if demographics is None:
        raise where.error("cannot read age and sex from the text", "patient_info")
    speaker: Speaker = "caregiver" if demographics.age < 12 else "self"
    b = FactBuilder(speaker, demographics.sex)
    opening = complaint_from_vignette(sentences[0], speaker, demographics.sex)
    b.volunteered(sentences[0], lay=opening)
    b.vignette(sentences[1:])
    for text in get_text(obj, "physical_exams", where):
        for s in split_sentences(text):
            kind = finding_kind(s) or "exam"
            for item in split_atomic(s):
                b.free_finding(kind, item)
    if get_str(obj, "image_url", where, required=False):
        notes.append(where.note("the case's image is not imported (the doctor cannot see it)"))
    title = f"AgentClinic NEJM: {correct[0]}"
    if question:
        title += f" ({question})"
    return Draft(
        source_id=str(where.line),
        title=title,
        chief_complaint=opening,
        demographics=demographics,
        facts=b.facts,
        diagnosis=correct[0],
        differentials=others,
        speaker=speaker,
        difficulty="hard",
    )
