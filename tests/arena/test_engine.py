import asyncio

import pytest

from arena.core.types import Case, DoctorAction, PatientReply, Turn, Usage
from arena.doctors import ChecklistDoctor, get_doctor
from arena.engine import run_consultation
from cases.prices import price_of
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


@pytest.mark.parametrize("client", ["openai", "litellm"])
def test_llm_doctor_and_patient_through_either_client(stemi: Case, client: str):
    doctor = get_doctor(f"mock/doctor?questions=3&diagnosis=Inferior STEMI&client={client}", seed=0, max_turns=10)
    patient = get_patient(f"mock/patient?reply=Yes, doctor.&client={client}", stemi, get_persona("plain"))
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


# --------------------------------------------------------------------------- cost of care


def _orders(tr) -> list[Turn]:
    return [t for t in tr.turns if t.role == "doctor" and t.action and t.action.kind in ("exam", "test")]


def test_care_is_the_visit_plus_what_the_doctor_ordered(stemi: Case):
    doc = ChecklistDoctor("builtin/checklist", seed=1, diligence=1.0)
    tr, _ = _run(stemi, doc, BuiltinPatient(stemi, get_persona("plain")), max_turns=20)
    ordered = [(kind, topic) for kind, topic in doc.performed if kind in ("exam", "test")]
    assert any(kind == "test" for kind, _ in ordered)
    assert tr.care is not None and tr.care.currency == "USD"
    assert tr.care.items[0].item == "visit" and tr.care.items[0].turn is None
    # One item per order, pointing at the doctor turn that made it.
    assert [i.turn for i in tr.care.items[1:]] == [t.index for t in _orders(tr)]
    assert len(ordered) == len(tr.care.items) - 1
    # The doctor knows which topics it ordered: the bill is exactly their prices.
    assert [i.item for i in tr.care.items[1:] if i.item in {t for k, t in ordered if k == "test"}] == [
        t for k, t in ordered if k == "test"
    ]
    assert tr.care.total == pytest.approx(price_of("visit") + sum(price_of(topic) for _, topic in ordered))


def test_a_less_diligent_doctor_orders_less_care(stemi: Case):
    def bill(diligence: float) -> float:
        doc = ChecklistDoctor("builtin/checklist", seed=5, diligence=diligence)
        tr, _ = _run(stemi, doc, BuiltinPatient(stemi, get_persona("plain")), max_turns=20)
        assert tr.care is not None
        return tr.care.total

    assert bill(0.0) == price_of("visit")
    assert bill(0.0) < bill(0.4) < bill(1.0)


class _BrokenLab:
    async def measure(self, kind: str, request: str) -> PatientReply:
        raise RuntimeError("lab is closed")


class _SlowLab:
    async def measure(self, kind: str, request: str) -> PatientReply:
        await asyncio.Event().wait()  # never reports
        return PatientReply(text="")


class _Orders:
    """A doctor that orders a troponin and nothing else."""

    name = "orders"

    async def act(self, dialogue, turns_left):
        return DoctorAction(kind="test", text="Troponin, please.", request="troponin"), Usage(), ""


@pytest.mark.parametrize(
    ("lab", "stop", "kw"), [(_BrokenLab(), "error", {}), (_SlowLab(), "timeout", {"timeout_s": 0.05})]
)
def test_care_is_recorded_when_a_consultation_fails(stemi: Case, lab, stop, kw):
    tr = asyncio.run(
        run_consultation(
            stemi, _Orders(), BuiltinPatient(stemi, get_persona("plain")), lab, consultation_id="c1", run_id="r1", **kw
        )
    )
    assert tr.stop_reason == stop
    assert tr.care is not None
    assert [(i.item, i.turn) for i in tr.care.items] == [("visit", None), ("troponin", 1)]
    assert tr.care.total == pytest.approx(price_of("visit") + price_of("troponin"))


def test_a_dropped_connection_is_stored_with_what_dropped_it(stemi: Case):
    # The client's own message is generic; the stored error keeps the transport's reason too.
    doctor = get_doctor("mock/doctor?fail=1&faults=reset&retries=0", 0, 10)
    tr = asyncio.run(
        run_consultation(
            stemi,
            doctor,
            get_patient("builtin/patient", stemi, get_persona("plain")),
            CaseMeasurement(stemi),
            consultation_id="c",
            run_id="r",
        )
    )
    assert tr.stop_reason == "error"
    assert tr.error is not None
    assert tr.error.startswith("APIConnectionError: ") and "connection reset by peer" in tr.error


def test_a_consultation_that_streams_its_turns_keeps_none_and_prices_the_same_care(stemi: Case):
    def play(keep: bool):
        doc = ChecklistDoctor("builtin/checklist", seed=1, diligence=1.0)
        return _run(stemi, doc, BuiltinPatient(stemi, get_persona("plain")), max_turns=20, keep_turns=keep)

    kept, _ = play(True)
    streamed, streamed_seen = play(False)
    assert streamed.turns == [] and len(streamed_seen) == len(kept.turns)
    assert [(t.index, t.role, t.content) for t in streamed_seen] == [(t.index, t.role, t.content) for t in kept.turns]
    assert len(_orders(kept)) >= 2, "the case must order care for the comparison to mean anything"
    assert streamed.care is not None and streamed.care.model_dump() == kept.care.model_dump()
    assert (streamed.final, streamed.stop_reason, streamed.usage) == (kept.final, kept.stop_reason, kept.usage)
