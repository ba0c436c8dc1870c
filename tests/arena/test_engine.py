import asyncio

from arena.core.types import Case, PatientReply, Turn
from arena.doctors import ChecklistDoctor, get_doctor
from arena.engine import run_consultation
from personas.builtin_patient import BuiltinPatient
from personas.catalog import get_persona
from personas.factory import get_patient
from personas.measurement import CaseMeasurement


def _run(case, doctor, patient, **kw):
    turns: list[Turn] = []
    tr = asyncio.run(
        run_consultation(
            case, doctor, patient, CaseMeasurement(case), consultation_id="c1", run_id="r1", on_turn=turns.append, **kw
        )
    )
    return tr, turns


def test_builtin_consultation_ends_with_a_parsed_final_answer(stemi: Case):
    doc = ChecklistDoctor("builtin/checklist", seed=1, diligence=1.0)
    tr, turns = _run(stemi, doc, BuiltinPatient(stemi, get_persona("plain")), max_turns=20)
    assert tr.stop_reason == "final_answer" and tr.error is None
    assert tr.final is not None and tr.final.diagnosis
    assert tr.turns[0].role == "patient" and tr.turns[0].content == stemi.chief_complaint
    # Every doctor turn is answered by the patient or the measurement agent, except the last.
    roles = [t.role for t in tr.turns]
    for i, r in enumerate(roles[1:-1], start=1):
        if r == "doctor":
            assert roles[i + 1] in ("patient", "measurement")
    assert roles[-1] == "doctor"
    assert sum(r == "doctor" for r in roles) <= 20
    # on_turn saw each turn once, in order, as it happened.
    assert [t.index for t in turns] == list(range(len(tr.turns)))
    assert turns == tr.turns


def test_turn_cap_sets_stop_reason(stemi: Case):
    doctor = get_doctor("mock/doctor?questions=50", seed=0, max_turns=4)
    patient = get_patient("mock/patient", stemi, get_persona("plain"))
    tr, _ = _run(stemi, doctor, patient, max_turns=4)
    assert tr.stop_reason == "max_turns" and tr.final is None
    assert sum(t.role == "doctor" for t in tr.turns) == 4
    assert tr.usage["doctor"].calls == 4 and tr.usage["patient"].calls == 4


def test_llm_doctor_and_patient_through_litellm(stemi: Case):
    doctor = get_doctor("mock/doctor?questions=3&diagnosis=Inferior STEMI", seed=0, max_turns=10)
    patient = get_patient("mock/patient?reply=Yes, doctor.", stemi, get_persona("plain"))
    tr, _ = _run(stemi, doctor, patient, max_turns=10)
    assert tr.stop_reason == "final_answer"
    assert tr.final is not None and tr.final.diagnosis == "Inferior STEMI"
    assert [t.content for t in tr.turns if t.role == "patient"][1:] == ["Yes, doctor."] * 3
    assert tr.usage["doctor"].calls == 4 and tr.usage["doctor"].prompt_tokens > 0


def test_exam_and_test_requests_go_to_the_measurement_agent(stemi: Case):
    doc = ChecklistDoctor("builtin/checklist", seed=1, diligence=1.0)
    tr, _ = _run(stemi, doc, BuiltinPatient(stemi, get_persona("plain")), max_turns=20)
    measured = [t for t in tr.turns if t.role == "measurement"]
    assert measured, "the checklist doctor should examine or test"
    hidden = {f.id for f in stemi.facts if f.disclosure in ("exam", "test")}
    assert {i for t in measured for i in t.revealed} <= hidden


class _BrokenPatient:
    name = "broken"

    async def open(self) -> PatientReply:
        return PatientReply(text="It hurts.")

    async def reply(self, question: str) -> PatientReply:
        raise RuntimeError("patient fell over")


def test_an_error_ends_only_this_consultation(stemi: Case):
    doc = ChecklistDoctor("builtin/checklist", seed=1, diligence=1.0)
    tr, turns = _run(stemi, doc, _BrokenPatient(), max_turns=5)
    assert tr.stop_reason == "error"
    assert tr.error == "RuntimeError: patient fell over"
    assert len(turns) == 2  # the opening and the doctor's first question were kept


class _SlowPatient(_BrokenPatient):
    async def reply(self, question: str) -> PatientReply:
        await asyncio.Event().wait()  # never answers
        return PatientReply(text="")


def test_timeout_is_recorded(stemi: Case):
    doc = ChecklistDoctor("builtin/checklist", seed=1, diligence=1.0)
    tr, _ = _run(stemi, doc, _SlowPatient(), max_turns=5, timeout_s=0.05)
    assert tr.stop_reason == "timeout" and "0.05" in (tr.error or "")


def test_diligence_skips_are_recorded_and_seeded(stemi: Case):
    def skipped(seed):
        doc = ChecklistDoctor("builtin/checklist", seed=seed, diligence=0.5)
        _run(stemi, doc, BuiltinPatient(stemi, get_persona("plain")), max_turns=20)
        return doc.skipped

    assert skipped(3) == skipped(3)
    assert skipped(3)
    full = ChecklistDoctor("builtin/checklist", seed=3, diligence=1.0)
    _run(stemi, full, BuiltinPatient(stemi, get_persona("plain")), max_turns=20)
    assert full.skipped == []
