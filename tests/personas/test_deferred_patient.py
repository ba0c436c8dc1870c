"""A model-played patient opens at once and is prepared while the doctor's first question is awaited."""

import asyncio

from arena.core.types import Case
from arena.doctors import get_doctor
from arena.engine import run_consultation
from cases.synthesizer import generate
from personas import factory
from personas.catalog import get_persona
from personas.factory import get_patient
from personas.llm_patient import LLMPatient
from personas.measurement import CaseMeasurement


def _play(case: Case, patient, doctor: str = "mock/doctor?questions=6"):
    return run_consultation(
        case,
        get_doctor(doctor, seed=3, max_turns=10),
        patient,
        CaseMeasurement(case),
        consultation_id=f"c-{case.id}",
        run_id="r",
        max_turns=10,
    )


def _contents(tr):
    return [(t.role, t.content, t.revealed, [g.action for g in t.guard]) for t in tr.turns]


def test_a_consultation_goes_as_it_does_with_the_patient_prepared_up_front():
    persona = get_persona("plain")
    for case in generate(3, seed=11):
        deferred = asyncio.run(_play(case, get_patient("mock/patient", case, persona)))
        plausible, guard = factory._patient_parts(case, persona, "lexical", None)
        eager = LLMPatient(factory.chat_model("mock/patient"), case, persona, guard=guard, plausible=plausible)
        up_front = asyncio.run(_play(case, eager))
        assert deferred.error is None and deferred.stop_reason == "final_answer"
        assert _contents(deferred) == _contents(up_front)
        counted = ("calls", "prompt_tokens", "completion_tokens", "retries")
        assert [getattr(deferred.usage["patient"], k) for k in counted] == [
            getattr(up_front.usage["patient"], k) for k in counted
        ]


def test_every_doctor_is_asked_before_any_patient_is_prepared(monkeypatch):
    events: list[str] = []
    parts = factory._patient_parts

    def preparing(*args, **kwargs):
        events.append("prepare")
        return parts(*args, **kwargs)

    monkeypatch.setattr(factory, "_patient_parts", preparing)
    persona = get_persona("plain")
    cases = generate(12, seed=5)
    patients = [get_patient("mock/patient", c, persona) for c in cases]
    assert events == []  # making the patients prepared nothing

    async def all_at_once() -> list:
        async def one(case, patient):
            doctor = get_doctor("mock/doctor?questions=2&latency=0.05", seed=1, max_turns=5)
            act = doctor.act

            async def asked(*args, **kwargs):
                events.append("ask")
                return await act(*args, **kwargs)

            doctor.act = asked
            return await run_consultation(
                case, doctor, patient, CaseMeasurement(case), consultation_id=case.id, run_id="r", max_turns=5
            )

        return await asyncio.gather(*(one(c, p) for c, p in zip(cases, patients, strict=True)))

    done = asyncio.run(all_at_once())
    assert all(tr.stop_reason == "final_answer" for tr in done)
    assert events[:12] == ["ask"] * 12 and events.count("prepare") == 12
    # Each patient was ready by the time its doctor's question came back.
    assert events.index("prepare") == 12 and events[12:24] == ["prepare"] * 12


def test_a_failed_preparation_fails_the_first_answer_and_is_never_left_unretrieved(stemi, caplog):
    from personas.deferred_patient import DeferredPatient

    def broken():
        raise RuntimeError("no guard for this case")

    async def consultation(ask: bool) -> str | None:
        patient = DeferredPatient("mock/patient", stemi, get_persona("plain"), broken)
        opening = await patient.open()
        assert opening.text  # the chief complaint needs no preparation
        if not ask:
            await asyncio.sleep(0)  # the preparation runs, and fails, while the doctor thinks
            return None
        try:
            await patient.reply("Any chest pain?")
        except RuntimeError as exc:
            return str(exc)
        return None

    assert asyncio.run(consultation(ask=True)) == "no guard for this case"
    with caplog.at_level("ERROR", logger="asyncio"):
        assert asyncio.run(consultation(ask=False)) is None
        import gc

        gc.collect()  # asyncio reports an exception never retrieved when the task is collected
    assert "never retrieved" not in caplog.text
