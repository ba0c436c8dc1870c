import pytest

from arena.core.types import Case
from cases.loader import builtin_cases
from cases.synthesizer import generate
from personas.catalog import personas
from personas.leak_check import LeakCheck


def _case(cid: str) -> Case:
    return next(c for c in builtin_cases() if c.id == cid)


def test_diagnosis_name_and_synonyms_in_any_spelling(stemi: Case):
    check = LeakCheck(stemi)
    names = [stemi.diagnosis.name, *stemi.diagnosis.synonyms]
    for name in names:
        for said in (name, name.upper(), name.lower(), name.replace("-", " ")):
            leak = check.find(f"Fine, the letter says {said}, happy now?")
            assert leak is not None and leak.kind == "diagnosis", said
    short = min(names, key=len)
    assert " " not in short
    for spelled in (".".join(short), " ".join(short), "-".join(short.lower())):
        leak = check.find(f"It's {spelled}.")
        assert leak is not None and leak.kind == "diagnosis", spelled


def test_icd10_code_with_or_without_its_dot(stemi: Case):
    code = stemi.diagnosis.icd10
    assert code
    check = LeakCheck(stemi)
    for said in (code, code.lower(), code.replace(".", ""), code.split(".")[0], " ".join(code.replace(".", ""))):
        leak = check.find(f"The form says {said}.")
        assert leak is not None and leak.kind in ("icd10", "diagnosis"), said
    assert check.find("I'm 21 and I walked 2 miles.") is None


def test_a_diagnosis_word_inside_the_fact_being_told_is_history_not_a_leak():
    case = next(
        c
        for c in generate(300, seed=4)
        if any(c.diagnosis.name.lower() in (f.lay or "").lower() for f in c.facts if f.disclosure == "on_ask")
    )
    fact = next(f for f in case.facts if f.disclosure == "on_ask" and case.diagnosis.name.lower() in f.lay.lower())
    check = LeakCheck(case)
    assert check.find(fact.lay, allowed=[fact.id]) is None
    leak = check.find(fact.lay)
    assert leak is not None and leak.kind == "diagnosis"


def test_every_hidden_test_result_is_caught_and_no_history_fact_is_flagged():
    cases = [*builtin_cases(), *generate(200, seed=6)]
    missed, flagged, tests, history = [], [], 0, 0
    for case in cases:
        check = LeakCheck(case)
        for f in case.facts:
            if f.disclosure == "test":
                tests += 1
                if check.find(f"They told me: {f.text}") is None:
                    missed.append((case.id, f.text))
            elif f.disclosure in ("volunteered", "on_ask"):
                history += 1
                if check.find(f.lay or f.text, allowed=[f.id]) is not None:
                    flagged.append((case.id, f.lay))
    assert tests > 800 and history > 3000
    assert missed == []
    assert flagged == []


def test_a_result_already_revealed_may_be_repeated(stemi: Case):
    ecg = next(f for f in stemi.facts if f.topic == "ecg")
    check = LeakCheck(stemi)
    assert check.find(f"The nurse said {ecg.text}") is not None
    assert check.find(f"The nurse said {ecg.text}", allowed=[ecg.id]) is None


@pytest.mark.parametrize(
    "said",
    [
        "My potassium came back high last week.",
        "My troponin was 300.",
        "The chest X-ray was normal, they said.",
        "My blood pressure was 190 over 110 on the machine.",
    ],
)
def test_results_the_patient_cannot_know_are_caught(stemi: Case, said: str):
    leak = LeakCheck(stemi).find(said)
    assert leak is not None and leak.kind == "result", said


def test_prompt_echo_is_caught(stemi: Case):
    check = LeakCheck(stemi)
    assert check.find("[hpi.onset] It started an hour ago.").kind == "prompt"  # type: ignore[union-attr]
    assert check.find("Everything you know about your health is in this list.").kind == "prompt"  # type: ignore[union-attr]


def test_persona_lines_are_never_flagged(bank):
    for case in bank:
        check = LeakCheck(case)
        for p in personas().values():
            lines = [p.unknown_reply, p.denial_reply, p.diagnosis_reply, p.not_checked_reply, p.unclear_reply]
            lines += [*p.lead_ins, *p.tails, *(p.willingness.deflections if p.willingness else [])]
            for line in lines:
                assert (
                    check.find(line.format(complaint="", relation="son", name="", he="he", him="him", his="his"))
                    is None
                )
