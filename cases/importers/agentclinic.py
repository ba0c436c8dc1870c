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

import re
from typing import Any

from arena.core.types import Speaker
from cases.importers.facts import (
    FactBuilder,
    HistoryCat,
    complaint_from_vignette,
    complaint_words,
    finding_kind,
    split_atomic,
)
from cases.importers.records import (
    Draft,
    Where,
    flatten_text,
    get_list,
    get_obj,
    get_str,
    get_text,
    json_type,
    leaves,
    read_demographics,
)
from cases.text import record_sentences

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
        return _osce(obj, where, notes)
    if any(k in obj for k in ("patient_info", "answers", "physical_exams")):
        return _nejm(obj, where, notes)
    raise where.error(
        "missing required key (an OSCE case has OSCE_Examination; a NEJM case has patient_info and answers)", OSCE
    )


def _osce(obj: dict[str, Any], where: Where, notes: list[str]) -> Draft:
    osce = get_obj(obj, OSCE, where)
    actor = get_obj(osce, "Patient_Actor", where, OSCE)
    diagnosis = get_str(osce, "Correct_Diagnosis", where, OSCE)
    demo_text = get_str(actor, "Demographics", where, ACTOR)
    # "3-year-old child": the sex is then in the history's pronouns.
    story = " ".join(get_text(actor, "History", where, ACTOR) + get_text(osce, "Objective_for_Doctor", where, OSCE))
    demographics = read_demographics(where, f"{ACTOR}.Demographics", notes, demo_text, story)
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
            for sentence in record_sentences(value):
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


_IMAGE = re.compile(r"\b(?:is|are)\s+shown\b|\b(?:image|photograph|micrograph|figure|panel)s?\b", re.IGNORECASE)
_BRIEF_FRAME = re.compile(
    r"^(?:for\s+(?:your\s+role\s+as\s+)?(?:a\s+|the\s+)?patient(?:\s+actor)?|as\s+(?:a\s+|the\s+)?patient(?:\s+actor)?)"
    r"[^:,]*[:,]\s*",
    re.IGNORECASE,
)
_BRIEF_SKIP = re.compile(
    r"^(?:remember|note|your\s+knowledge|you\s+(?:are|have)\s+not\s+(?:aware|been\s+informed|been\s+told)|"
    r"you\s+do\s+not\s+know|the\s+provided\s+text|for\s+an?\s+instrument)",
    re.IGNORECASE,
)


def _vignette(question: str) -> list[str]:
    """The sentences of a question's case description: the question itself and image captions left out."""
    kept = [s for s in record_sentences(question) if not s.rstrip().endswith("?") and not _IMAGE.search(s)]
    return kept if len(kept) >= 2 else []


def _actor_brief(info: str) -> list[str]:
    """The facts of an actor's brief: its framing ("For your role as a patient, ..."), markdown and reminders out."""
    text = re.sub(r"\*\*([^*]+)\*\*:?", r"\1:", info)
    text = re.sub(r"(?:^|\s)(?:-|\d{1,2}\.)\s+", ". ", text)
    out: list[str] = []
    for sentence in record_sentences(text):
        s = _BRIEF_FRAME.sub("", sentence.strip()).strip(" .:-")
        s = re.sub(r"^[A-Z][A-Za-z /]{2,40}:\s*", "", s)  # a bullet's label ("Age and Background: ...")
        if len(s) > 3 and not _BRIEF_SKIP.search(s):
            out.append(s[:1].upper() + s[1:])
    return out


def _nejm(obj: dict[str, Any], where: Where, notes: list[str]) -> Draft:
    info = get_str(obj, "patient_info", where)
    question = get_str(obj, "question", where, required=False)
    answers = get_list(obj, "answers", where)
    correct: list[str] = []
    others: list[str] = []
    options: list[str] = []
    for i, ans in enumerate(answers):
        if not isinstance(ans, dict):
            raise where.error(f"expected an object, got {json_type(ans)}", f"answers.{i}")
        text = get_str(ans, "text", where, f"answers.{i}")
        flag = ans.get("correct")
        if not isinstance(flag, bool):
            raise where.error("expected true or false", f"answers.{i}.correct")
        (correct if flag else others).append(text)
        options.append(text)
    if len(correct) != 1:
        raise where.error(f"exactly one answer must be marked correct, found {len(correct)}", "answers")
    # The question is the source's own vignette ("A 3-year-old girl presented ... What is the most
    # likely diagnosis?"); patient_info retells it as an actor's brief, with instructions and markdown
    # around the facts. The vignette is the cleaner source; the brief is read only without one.
    vignette = _vignette(question)
    sentences = vignette or _actor_brief(info)
    if not sentences:
        raise where.error("holds no sentence about the patient", "patient_info")
    demographics = read_demographics(where, "patient_info", notes, sentences[0], question, info)
    speaker: Speaker = "caregiver" if demographics.age < 12 else "self"
    b = FactBuilder(speaker, demographics.sex)
    opening = complaint_from_vignette(sentences[0], speaker, demographics.sex)
    b.volunteered(sentences[0], lay=opening)
    b.vignette(sentences[1:])
    for text in get_text(obj, "physical_exams", where):
        for s in record_sentences(text):
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
        options=options,
        speaker=speaker,
        difficulty="hard",
    )
