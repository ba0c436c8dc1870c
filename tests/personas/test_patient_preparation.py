"""A model-played patient's per-case preparation is made once per case in a worker, and shared safely."""

import asyncio

from personas import factory
from personas.catalog import get_persona


def get_patient(*args, **kwargs):
    """The patient that answers the questions (a model-played one is prepared after it opens)."""
    patient = factory.get_patient(*args, **kwargs)
    if not hasattr(patient, "patient"):
        return patient

    async def opened():
        await patient.open()
        return await patient.patient()

    return asyncio.run(opened())


def test_patients_of_one_case_share_its_guard_and_answers(stemi):
    plain = get_persona("plain")
    a = get_patient("mock/patient", stemi, plain)
    b = get_patient("mock/patient", stemi, plain)
    assert a is not b and a.messages is not b.messages  # each consultation has its own dialogue
    assert a.guard is b.guard
    assert a.fallback.plausible is b.fallback.plausible


def test_another_persona_or_an_equal_copy_of_the_case_gets_its_own(stemi):
    plain = get_persona("plain")
    a = get_patient("mock/patient", stemi, plain)
    assert get_patient("mock/patient", stemi, get_persona("anxious")).guard is not a.guard
    # Same id, another object: a case is only trusted to be the same when it is the same object.
    assert get_patient("mock/patient", stemi.model_copy(deep=True), plain).guard is not a.guard


def test_a_guard_with_a_verifier_is_never_shared(stemi):
    plain = get_persona("plain")
    a = get_patient("mock/patient", stemi, plain, guard_verifier="mock/verifier")
    b = get_patient("mock/patient", stemi, plain, guard_verifier="mock/verifier")
    assert a.guard is not b.guard
