import json
import re
from pathlib import Path

import pytest

import cases.importers as importers
from arena.core.types import Demographics
from cases.importers import FORMATS, ImportResult, import_cases
from cases.importers.facts import parse_demographics, split_atomic, to_lay
from cases.kb import Complaint, Condition, KnowledgeBase, load_kb
from cases.loader import CaseFileError
from personas.builtin_patient import BuiltinPatient
from personas.catalog import get_persona
from personas.measurement import CaseMeasurement

FIX = Path(__file__).parent / "fixtures"


# --------------------------------------------------------------------------- a small knowledge base


def _condition(cid, name, icd10, organ, complaint, must_ask, tests, harms, synonyms=()):
    """A valid knowledge-base condition with only what the rubric derivation reads filled in."""
    return Condition.model_validate(
        {
            "id": cid,
            "name": name,
            "icd10": icd10,
            "synonyms": list(synonyms),
            "organ_system": organ,
            "population": {"age_min": 16, "age_max": 80},
            "presentations": [{"complaint": complaint, "lay": ["It hurts."]}],
            "onsets": [{"text": "Sudden", "lay": ["It came on suddenly."]}],
            "findings": [
                {"id": f"f{i}", "topic": t, "text": t, "lay": [t]}
                for i, t in enumerate(["onset", "location", "severity", "timing"])
            ],
            "negatives": [
                {"id": "n1", "topic": "rash", "text": "No rash", "lay": ["No rash."]},
                {"id": "n2", "topic": "ear", "text": "No earache", "lay": ["No earache."]},
            ],
            "exam": [{"id": "e1", "topic": "general", "text": "Looks unwell"}],
            "tests": [{"id": tid, "topic": topic, "text": "abnormal", "key": key} for tid, topic, key in tests],
            "differentials": ["other"],
            "red_flags": ["collapse"],
            "must_ask": [
                {"id": mid, "criterion": f"Asks about {mid}", "topics": topics, "reason": "matters"}
                for mid, topics in must_ask
            ],
            "harms": [{"id": hid, "criterion": f"Omits {hid}", "missing_tests": missing} for hid, missing in harms],
            "management": ["Treat"],
            "plan_keywords": ["admit"],
        }
    )


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    conditions = [
        _condition(
            "appendicitis",
            "Acute appendicitis",
            "K35.80",
            "gastrointestinal",
            "abdominal_pain",
            [("migration", ["location", "onset"]), ("vomiting", ["nausea"]), ("urinary", ["urinary"])],
            [("wbc", "fbc", True), ("us", "ultrasound", True), ("ua", "urinalysis", False)],
            [("no_bloods", ["fbc"])],
            synonyms=["appendicitis"],
        ),
        _condition(
            "dka",
            "Diabetic ketoacidosis",
            "E10.10",
            "endocrine",
            "vomiting",
            [("thirst", ["thirst"]), ("insulin", ["medications"]), ("vomit", ["nausea"])],
            [("ketones", "ketones", True), ("gas", "blood_gas", True)],
            [("no_gas", ["blood_gas"])],
            synonyms=["DKA"],
        ),
        _condition(
            "pulmonary-embolism",
            "Pulmonary embolism",
            "I26.99",
            "respiratory",
            "shortness_of_breath",
            [("risk", ["pmh", "immobility"]), ("legs", ["leg_swelling"]), ("blood", ["cough"])],
            [("ctpa", "ctpa", True), ("dd", "d_dimer", False)],
            [("no_ctpa", ["ctpa"])],
            synonyms=["PE"],
        ),
        _condition(
            "bacterial-meningitis",
            "Bacterial meningitis",
            "G00.9",
            "neurological",
            "headache",
            [("neck", ["neck_stiffness"]), ("light", ["photophobia"]), ("rash", ["rash"])],
            [("lp", "lumbar_puncture", True)],
            [("no_lp", ["lumbar_puncture"])],
        ),
    ]
    complaints = [
        Complaint(id="abdominal_pain", label="abdominal pain", topic="location"),
        Complaint(id="vomiting", label="vomiting", topic="nausea"),
        Complaint(id="shortness_of_breath", label="shortness of breath", topic="breathlessness"),
        Complaint(id="headache", label="headache", topic="headache"),
    ]
    return KnowledgeBase(conditions, complaints)


@pytest.fixture(scope="module")
def agentclinic(kb) -> ImportResult:
    return import_cases("agentclinic", FIX / "agentclinic.jsonl", kb)


@pytest.fixture(scope="module")
def mediq(kb) -> ImportResult:
    return import_cases("mediq", FIX / "mediq.jsonl", kb)


@pytest.fixture(scope="module")
def healthbench(kb) -> ImportResult:
    return import_cases("healthbench", FIX / "healthbench.jsonl", kb)


def _case(result, case_id):
    return next(c for c in result.cases if c.id == case_id)


def _by_text(case, text):
    return next(f for f in case.facts if f.text == text)


# --------------------------------------------------------------------------- shared free-text handling


def test_symptom_lists_split_into_one_fact_each_keeping_the_lead():
    assert split_atomic("Patient reports fever, cough and night sweats.") == [
        "Patient reports fever",
        "Patient reports cough",
        "Patient reports night sweats",
    ]
    assert split_atomic("Denies diarrhea, dysuria or hematuria. No chest pain or shortness of breath.") == [
        "Denies diarrhea",
        "Denies dysuria",
        "Denies hematuria",
        "No chest pain",
        "No shortness of breath",
    ]
    # Two qualities of one feeling stay together; decimals do not end a sentence.
    assert split_atomic("She reports feeling low and irritable. Temperature 38.5 C.") == [
        "She reports feeling low and irritable",
        "Temperature 38.5 C",
    ]


def test_lay_wording():
    assert to_lay("Patient reports chest pain") == "I have chest pain"
    assert to_lay("He reports that bright light hurts his eyes") == "Bright light hurts my eyes"
    assert to_lay("She smokes 10 cigarettes a day") == "I smoke 10 cigarettes a day"
    assert to_lay("Denies fever") == "I haven't had any fever"
    assert to_lay("Patient reports fever", speaker="caregiver", sex="male") == "He has fever"
    assert to_lay("Tenderness at McBurney's point") == "Tenderness at McBurney's point"


def test_demographics_from_free_text():
    assert parse_demographics("45-year-old male") == Demographics(age=45, sex="male")
    assert parse_demographics("A 6-month-old girl") == Demographics(age=0, sex="female")
    assert parse_demographics("adult patient") is None


# --------------------------------------------------------------------------- AgentClinic


def test_agentclinic_reads_every_line_including_the_nejm_variant(agentclinic):
    assert [c.id for c in agentclinic.cases] == ["agentclinic-1", "agentclinic-2", "agentclinic-3", "agentclinic-5"]
    assert {c.source for c in agentclinic.cases} == {"agentclinic"}
    assert [c.diagnosis.name for c in agentclinic.cases] == [
        "Acute appendicitis",
        "Wilson disease",
        "Diabetic ketoacidosis",
        "Pulmonary embolism",
    ]


def test_agentclinic_primary_symptom_is_the_opening_and_the_only_volunteered_fact(agentclinic):
    c = _case(agentclinic, "agentclinic-1")
    assert c.chief_complaint == "I have right lower quadrant abdominal pain."
    volunteered = [f for f in c.facts if f.disclosure == "volunteered"]
    assert [f.text for f in volunteered] == ["Right lower quadrant abdominal pain"]
    assert c.demographics == Demographics(age=22, sex="male")
    assert _case(agentclinic, "agentclinic-2").chief_complaint == "I have tremor of the right hand."


def test_agentclinic_history_sections_keep_their_category(agentclinic):
    c = _case(agentclinic, "agentclinic-1")
    assert _by_text(c, "No known drug allergies").category == "allergies"
    assert _by_text(c, "Took ibuprofen 400 mg once last night").category == "medications"
    dysuria = _by_text(c, "Denies dysuria")
    assert (dysuria.category, dysuria.disclosure, dysuria.topic, dysuria.negative) == ("ros", "on_ask", "urinary", True)
    smoke = _by_text(c, "Does not smoke")
    assert (smoke.category, smoke.topic, smoke.negative) == ("social", "smoking", True)
    assert _by_text(c, "Low-grade fever").topic == "fever"

    wilson = _case(agentclinic, "agentclinic-2")
    uncle = _by_text(wilson, "Her paternal uncle died of liver disease in his twenties")
    assert (uncle.category, uncle.topic) == ("family", "family_history")
    assert _by_text(wilson, "Alcohol: Rarely drinks alcohol").topic == "alcohol"
    assert not any(f.category == "allergies" for f in wilson.facts)  # the case has no Allergies key

    dka = _case(agentclinic, "agentclinic-3")
    # "Excessive thirst, frequent urination and fatigue" became three facts.
    assert {"Excessive thirst", "Frequent urination", "Fatigue"} <= {f.text for f in dka.facts}
    assert sorted(f.text for f in dka.facts if f.category == "medications") == [
        "Insulin aspart with meals",
        "Insulin glargine 20 units at night",
    ]


def test_agentclinic_exam_and_test_leaves_become_exam_and_test_facts(agentclinic):
    c = _case(agentclinic, "agentclinic-1")
    exams = [f for f in c.facts if f.disclosure == "exam"]
    tests = [f for f in c.facts if f.disclosure == "test"]
    assert len(exams) == 8  # four vital signs, inspection, palpation, two special tests
    assert len(tests) == 6  # three blood-count values, CRP, urinalysis, ultrasound
    assert all(f.category == "exam" for f in exams) and all(f.category == "test" for f in tests)
    palpation = next(f for f in exams if "McBurney" in f.text)
    assert palpation.topic == "abdominal_exam"
    assert palpation.keywords == ["abdominal", "palpation"]
    assert next(f for f in exams if "104 bpm" in f.text).topic == "vitals"
    assert next(f for f in tests if "14,800" in f.text).topic == "fbc"
    # A leaf no exam topic names falls back to other_exam.
    wilson = _case(agentclinic, "agentclinic-2")
    assert next(f for f in wilson.facts if "Ceruloplasmin" in f.text).topic == "other_test"


def test_measurement_agent_finds_imported_results_by_name(agentclinic):
    wilson = CaseMeasurement(_case(agentclinic, "agentclinic-2"))
    r = wilson.answer("test", "serum ceruloplasmin")
    assert "8 mg/dL (reference 20-40 mg/dL)" in r.text and len(r.revealed) == 1
    assert "210 µg/24 h" in wilson.answer("test", "24-hour urinary copper").text
    appendix = CaseMeasurement(_case(agentclinic, "agentclinic-1"))
    assert "48 mg/L" in appendix.answer("test", "CRP").text
    assert "Non-compressible tubular structure" in appendix.answer("test", "abdominal ultrasound").text
    abdomen = appendix.answer("exam", "abdominal examination").text
    assert "McBurney" in abdomen and "No distension" in abdomen
    tft = appendix.answer("test", "thyroid function tests")
    assert tft.revealed == [] and [s.rule for s in tft.synthesized] == ["reference_normal"]


def test_builtin_patient_answers_from_imported_history_but_never_exam_findings(agentclinic):
    c = _case(agentclinic, "agentclinic-1")
    patient = BuiltinPatient(c, get_persona("plain"))
    r = patient.answer("Any burning when you pass urine?")
    assert "I haven't had any dysuria." in r.text
    r = patient.answer("Do you have any allergies?")
    assert r.text == "I don't have known drug allergies."
    r = patient.answer("Does your abdomen hurt when I palpate it?")
    assert all(c.fact(i).disclosure in ("volunteered", "on_ask") for i in r.revealed)


def test_nejm_variant_uses_the_correct_answer_and_the_others_as_differentials(agentclinic):
    c = _case(agentclinic, "agentclinic-5")
    assert c.diagnosis.name == "Pulmonary embolism"
    assert [d.name for d in c.differentials] == ["Pneumothorax", "Acute pericarditis", "Pneumonia", "Aortic dissection"]
    assert c.difficulty == "hard"
    assert c.demographics == Demographics(age=58, sex="female")
    assert c.chief_complaint == (
        "I've had sudden shortness of breath and pleuritic chest pain that began 6 hours earlier."
    )
    calf = _by_text(c, "The left calf was swollen and tender")
    assert calf.disclosure == "exam"
    knee = _by_text(c, "She had undergone a total knee replacement 2 weeks before presentation")
    assert knee.disclosure == "on_ask"
    assert "filling defects" in CaseMeasurement(c).answer("test", "CTPA").text
    assert "4.2 mg/L" in CaseMeasurement(c).answer("test", "d-dimer").text
    assert any(
        n.endswith("agentclinic.jsonl:5: the case's image is not imported (the doctor cannot see it)")
        for n in agentclinic.notes
    )


def test_kb_matched_diagnosis_gets_the_derived_rubric(agentclinic):
    assert agentclinic.matched == 3
    assert agentclinic.unmatched == ["Wilson disease"]
    c = _case(agentclinic, "agentclinic-1")
    assert [i.id for i in c.rubric] == [
        "ask.migration",
        "ask.vomiting",
        "ask.urinary",
        "exam.vitals",
        "order.wbc",
        "order.us",
        "dx",
        "harm.no_bloods",
        "plan",
        "safety_net",
    ]
    items = {i.id: i for i in c.rubric}
    assert items["ask.urinary"].check.kind == "elicit"
    assert {c.fact(t).text for t in items["ask.urinary"].check.targets} == {"Denies dysuria", "Denies hematuria"}
    assert items["order.us"].check.kind == "order"
    assert [c.fact(t).text for t in items["order.us"].check.targets] == [
        "Imaging > Ultrasound Abdomen: Non-compressible tubular structure in the right lower quadrant, "
        "9 mm in diameter, with surrounding fat stranding."
    ]
    assert items["harm.no_bloods"].check.met_when == "absent"
    assert c.diagnosis.icd10 == "K35.80" and c.diagnosis.synonyms == ["appendicitis"]
    assert (c.organ_system, c.complaint) == ("gastrointestinal", "abdominal_pain")
    pe = _case(agentclinic, "agentclinic-5")
    legs = next(i for i in pe.rubric if i.id == "ask.legs")
    assert [pe.fact(t).text for t in legs.check.targets] == [
        "She reported swelling of her left calf over the past 3 days"
    ]


def test_unmatched_diagnosis_gets_the_minimal_rubric(agentclinic):
    c = _case(agentclinic, "agentclinic-2")
    assert [(i.id, i.points, i.check.kind) for i in c.rubric] == [("dx", 10, "diagnose"), ("safety_net", 3, "mention")]
    assert (c.organ_system, c.diagnosis.icd10, c.diagnosis.synonyms) == ("", "", [])


# --------------------------------------------------------------------------- MediQ


def test_mediq_cases_opening_and_ids(mediq):
    assert [c.id for c in mediq.cases] == ["mediq-mq-0101", "mediq-mq-0202", "mediq-303"]
    c = mediq.cases[0]
    assert c.chief_complaint == "I've had a day of severe headache and fever."
    assert [f.text for f in c.facts if f.disclosure == "volunteered"] == [
        "A 19-year-old man is brought to the emergency department because of a 1-day history of severe headache "
        "and fever"
    ]
    assert c.demographics == Demographics(age=19, sex="male")
    assert c.diagnosis.name == "Bacterial meningitis"
    assert [d.name for d in c.differentials] == ["Migraine", "Subarachnoid hemorrhage", "Viral encephalitis"]


def test_mediq_numbered_facts_are_stripped_and_sorted_into_history_exam_and_tests(mediq):
    c = mediq.cases[0]
    assert _by_text(c, "He reports neck stiffness").topic == "neck_stiffness"
    assert _by_text(c, "He reports that bright light hurts his eyes").lay == "Bright light hurts my eyes"
    assert not any(f.text[0].isdigit() for f in c.facts)
    assert _by_text(c, "Nuchal rigidity").disclosure == "exam"
    assert _by_text(c, "A positive Kernig sign").disclosure == "exam"
    vitals = next(f for f in c.facts if f.text.startswith("His temperature is 39.4"))
    assert (vitals.disclosure, vitals.topic) == ("exam", "vitals")
    lp = CaseMeasurement(c).answer("test", "lumbar puncture")
    assert "cloudy cerebrospinal fluid" in lp.text
    assert _by_text(c, "He takes no medications").negative


def test_mediq_context_without_facts_and_patient_object(mediq):
    wilson = mediq.cases[1]
    assert wilson.demographics == Demographics(age=24, sex="male")
    assert wilson.chief_complaint == "I've had yellowing of my eyes for 2 weeks."
    assert "7 mg/dL" in CaseMeasurement(wilson).answer("test", "ceruloplasmin").text
    appendix = mediq.cases[2]
    hcg = _by_text(appendix, "A urine pregnancy test is negative")
    assert (hcg.disclosure, hcg.topic, hcg.negative) == ("test", "pregnancy_test", True)
    assert _by_text(appendix, "She denies dysuria").disclosure == "on_ask"


def test_mediq_kb_matching(mediq):
    assert mediq.matched == 2
    assert mediq.unmatched == ["Wilson disease"]
    appendix = mediq.cases[2]
    wbc = next(i for i in appendix.rubric if i.id == "order.wbc")
    assert [appendix.fact(t).text for t in wbc.check.targets] == ["Leukocyte count is 13,900/mm3"]
    meningitis = mediq.cases[0]
    neck = next(i for i in meningitis.rubric if i.id == "ask.neck")
    assert [meningitis.fact(t).text for t in neck.check.targets] == ["He reports neck stiffness"]


# --------------------------------------------------------------------------- HealthBench


def test_healthbench_rubric_is_carried_over(healthbench):
    assert [c.id for c in healthbench.cases] == [
        "healthbench-hb-chest-001",
        "healthbench-hb-fever-002",
        "healthbench-hb-headache-003",
    ]
    c = healthbench.cases[0]
    assert [(i.id, i.points, i.tags, i.check) for i in c.rubric] == [
        ("hb.1", 10, ["level:example", "axis:completeness"], None),
        ("hb.2", 5, ["level:example", "axis:accuracy"], None),
        ("hb.3", -9, ["level:example", "axis:accuracy"], None),
    ]
    assert c.rubric[0].criterion.startswith("Tells the user to call emergency services immediately")
    assert any("healthbench.jsonl:1: rubric item 4 has 0 points" in n for n in healthbench.notes)
    assert "HealthBench conversation" in c.title
    assert c.diagnosis.name == "not specified"
    assert c.source == "healthbench"
    assert healthbench.matched == 0 and healthbench.unmatched == []


def test_healthbench_user_messages_become_the_facts(healthbench):
    c = healthbench.cases[0]
    assert c.chief_complaint.startswith("I'm a 52 year old man and for the last hour")
    assert c.demographics == Demographics(age=52, sex="male")
    child = healthbench.cases[1]
    assert child.chief_complaint == "My daughter is 2 years old and has had a fever of 39.5 since yesterday."
    assert child.speaker == "caregiver" and child.demographics == Demographics(age=2, sex="female")
    rash = _by_text(child, "No rash")
    assert (rash.disclosure, rash.topic, rash.negative) == ("on_ask", "rash", True)
    assert not any("sorry" in f.text for f in child.facts)  # assistant turns are not facts
    assert BuiltinPatient(child, get_persona("plain")).answer("Has she had her vaccinations?").text == (
        "She had all her vaccines on schedule."
    )
    headache = healthbench.cases[2]
    assert not any("helpful health assistant" in f.text for f in headache.facts)  # nor system turns
    assert any("healthbench.jsonl:3: the conversation states no age or sex" in n for n in healthbench.notes)


def test_healthbench_needs_no_knowledge_base(monkeypatch):
    def broken():
        raise AssertionError("the knowledge base must not be loaded")

    monkeypatch.setattr(importers, "load_kb", broken)
    assert len(import_cases("healthbench", FIX / "healthbench.jsonl").cases) == 3


# --------------------------------------------------------------------------- the real knowledge base


def test_real_knowledge_base_matches_the_common_conditions():
    load_kb()  # fails loudly if the knowledge base is broken
    ac = import_cases("agentclinic", FIX / "agentclinic.jsonl")
    assert (ac.matched, ac.unmatched) == (3, ["Wilson disease"])
    mq = import_cases("mediq", FIX / "mediq.jsonl")
    assert (mq.matched, mq.unmatched) == (2, ["Wilson disease"])
    for c in [*ac.cases, *mq.cases]:
        if c.diagnosis.name == "Wilson disease":
            assert [i.id for i in c.rubric] == ["dx", "safety_net"]
            continue
        kinds = {i.check.kind for i in c.rubric if i.check}
        assert {"elicit", "order", "diagnose", "mention"} <= kinds, c.id
        assert c.organ_system and c.diagnosis.icd10, c.id


# --------------------------------------------------------------------------- malformed input


def _line(name: str, n: int = 1) -> dict:
    lines = [ln for ln in (FIX / name).read_text("utf-8").splitlines() if ln.strip()]
    return json.loads(lines[n - 1])


def _write(tmp_path, name, lines):
    p = tmp_path / name
    p.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return p


def _without(d: dict, *path: str) -> dict:
    d = json.loads(json.dumps(d))
    target = d
    for k in path[:-1]:
        target = target[k]
    del target[path[-1]]
    return d


def _with(d: dict, value, *path: str) -> dict:
    d = json.loads(json.dumps(d))
    target = d
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    return d


OSCE = _line("agentclinic.jsonl", 1)
NEJM = _line("agentclinic.jsonl", 4)
MEDIQ = _line("mediq.jsonl", 1)
HB = _line("healthbench.jsonl", 1)


@pytest.mark.parametrize(
    ("fmt", "lines", "pattern"),
    [
        ("agentclinic", [OSCE, "{not json"], r"bad\.jsonl:2: invalid JSON"),
        ("agentclinic", [{"Patient": {}}], r"bad\.jsonl:1: field OSCE_Examination: missing required key"),
        (
            "agentclinic",
            [OSCE, "", _without(OSCE, "OSCE_Examination", "Correct_Diagnosis")],
            r"bad\.jsonl:3: field OSCE_Examination\.Correct_Diagnosis: missing required key",
        ),
        (
            "agentclinic",
            [_with(OSCE, ["a"], "OSCE_Examination", "Patient_Actor")],
            r"bad\.jsonl:1: field OSCE_Examination\.Patient_Actor: expected an object, got a list",
        ),
        (
            "agentclinic",
            [_with(OSCE, 42, "OSCE_Examination", "Patient_Actor", "Symptoms", "Primary_Symptom")],
            r"bad\.jsonl:1: field OSCE_Examination\.Patient_Actor\.Symptoms\.Primary_Symptom: expected a string",
        ),
        (
            "agentclinic",
            [_with(OSCE, "an adult", "OSCE_Examination", "Patient_Actor", "Demographics")],
            r"bad\.jsonl:1: field OSCE_Examination\.Patient_Actor\.Demographics: cannot read the patient's age",
        ),
        (
            "agentclinic",
            [_with(OSCE, 7, "OSCE_Examination", "Test_Results")],
            r"bad\.jsonl:1: field OSCE_Examination\.Test_Results: expected an object, a list or text",
        ),
        (
            "agentclinic",
            [OSCE, _with(NEJM, [{"text": "Pneumonia", "correct": "yes"}], "answers")],
            r"bad\.jsonl:2: field answers\.0\.correct: expected true or false",
        ),
        ("agentclinic", [["not", "an", "object"]], r"bad\.jsonl:1: field \(record\): expected a JSON object"),
        ("mediq", [MEDIQ, _with(MEDIQ, 5, "context")], r"bad\.jsonl:2: field context: expected a list"),
        ("mediq", [_without(MEDIQ, "options")], r"bad\.jsonl:1: field options: missing required key"),
        (
            "mediq",
            [_with(_without(MEDIQ, "answer"), "F", "answer_idx")],
            r"bad\.jsonl:1: field answer_idx: 'F' is not one of the options",
        ),
        ("mediq", [MEDIQ, MEDIQ], r"bad\.jsonl:2: field id: duplicate case id 'mediq-mq-0101' \(first on line 1\)"),
        (
            "healthbench",
            [_with(HB, [{"criterion": "Says hello", "points": "ten"}], "rubrics")],
            r"bad\.jsonl:1: field rubrics\.0\.points: expected a number",
        ),
        (
            "healthbench",
            [_with(HB, [{"criterion": "Says hello", "points": 0}], "rubrics")],
            r"bad\.jsonl:1: field rubrics: needs at least one criterion with positive points",
        ),
        ("healthbench", [_without(HB, "prompt")], r"bad\.jsonl:1: field prompt: missing required key"),
        (
            "healthbench",
            [_with(HB, [{"role": "assistant", "content": "Hi"}], "prompt")],
            r"bad\.jsonl:1: field prompt: the conversation has no user message",
        ),
    ],
)
def test_malformed_input_names_file_line_and_key(tmp_path, kb, fmt, lines, pattern):
    p = _write(tmp_path, "bad.jsonl", lines)
    with pytest.raises(CaseFileError, match=pattern):
        import_cases(fmt, p, kb, strict=True)
    # Without --strict the same record is skipped with that line as its reason, and the rest is read.
    result = import_cases(fmt, p, kb)
    assert len(result.skipped) == 1
    assert re.search(pattern, result.skipped[0].message), result.skipped[0].message
    assert result.read == len([ln for ln in lines if ln != ""])
    assert len(result.cases) == result.read - 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_file_is_an_error_naming_file_and_line(tmp_path, kb, fmt):
    p = tmp_path / "empty.jsonl"
    p.write_text("", encoding="utf-8")
    with pytest.raises(CaseFileError, match=r"empty\.jsonl:1: no cases in file"):
        import_cases(fmt, p, kb)
    p.write_text("\n\n   \n", encoding="utf-8")
    with pytest.raises(CaseFileError, match=r"empty\.jsonl:3: no cases in file"):
        import_cases(fmt, p, kb)


def test_missing_or_unreadable_file(tmp_path, kb):
    with pytest.raises(CaseFileError, match=r"nope\.jsonl: no such file"):
        import_cases("mediq", tmp_path / "nope.jsonl", kb)
    with pytest.raises(CaseFileError, match="cannot read"):
        import_cases("mediq", tmp_path, kb)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CaseFileError, match=r"binary\.jsonl: cannot read"):
        import_cases("mediq", binary, kb)


def test_unknown_format_names_the_known_ones(tmp_path):
    with pytest.raises(CaseFileError, match="known formats: agentclinic, mediq, healthbench"):
        import_cases("medqa", tmp_path / "x.jsonl")


@pytest.mark.parametrize("fmt", ["agentclinic", "mediq", "healthbench"])
def test_imported_cases_pass_the_consistency_check(fmt):
    from cases.synthesizer import consistency_problems

    result = import_cases(fmt, FIX / f"{fmt}.jsonl")
    for case in result.cases:
        assert consistency_problems(case) == [], case.id


def test_a_symptom_phrased_with_not_is_kept_as_a_finding():
    result = import_cases("agentclinic", FIX / "agentclinic.jsonl")
    fact = next(f for c in result.cases for f in c.facts if "poor appetite" in f.text)
    assert not fact.negative
    assert any("read as a finding" in n for n in result.notes)
