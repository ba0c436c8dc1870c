"""A model-played patient: what a turn records is what its text says, and the case's silences are
answered as the built-in patient answers them."""

from __future__ import annotations

import asyncio

from arena.core.types import Case, SynthesisRule
from arena.models import get_model
from personas.catalog import get_persona
from personas.llm_patient import LLMPatient
from personas.plausible import PlausibleAnswers


def _reply(case: Case, said: str, question: str):
    patient = LLMPatient(get_model(f"mock/patient?reply={said}"), case, get_persona("plain"))
    asyncio.run(patient.open())
    return patient, asyncio.run(patient.reply(question))


def test_a_reply_reveals_only_what_it_says_not_what_was_asked(stemi: Case):
    rad = next(f for f in stemi.facts if f.topic == "radiation")
    patient, r = _reply(stemi, "No, I haven't had a rash.", "Does the pain spread to your arm or jaw?")
    assert rad.id in patient.fallback.answer("Does the pain spread to your arm or jaw?").revealed
    assert r.text == "No, I haven't had a rash." and r.guard == []
    assert r.revealed == []


def test_not_sure_about_a_fact_the_patient_knows_is_sent_back_then_replaced(stemi: Case):
    rad = next(f for f in stemi.facts if f.topic == "radiation")
    _, r = _reply(stemi, "I'm not sure.", "Does the pain spread to your arm or jaw?")
    assert [e.action for e in r.guard] == ["regenerated", "regenerated", "replaced"]
    assert {e.reason for e in r.guard} == {"withholds a fact the patient knows"}
    assert "not sure" not in r.text.lower() and rad.id in r.revealed


def test_not_sure_where_the_case_is_silent_is_replaced_by_a_plausible_answer(stemi: Case):
    assert not any(f.topic == "rash" for f in stemi.facts)
    _, r = _reply(stemi, "Hmm, I'm not sure, doctor.", "Have you noticed any rash?")
    assert r.guard and r.guard[-1].action == "replaced"
    assert r.guard[0].reason == "not sure where a patient would answer"
    assert "not sure" not in r.text.lower()
    assert [(s.topic, s.rule) for s in r.synthesized] == [("rash", SynthesisRule.DENIAL)]


def test_not_sure_about_what_a_relative_could_not_know_stands(stemi: Case):
    proxy = get_persona("caregiver")
    assert proxy.third_person and stemi.speaker == "self"
    assert not any(f.topic == "sexual_history" for f in stemi.facts)
    patient = LLMPatient(get_model("mock/patient?reply=I'm not sure, he's never said."), stemi, proxy)
    asyncio.run(patient.open())
    r = asyncio.run(patient.reply("Any new sexual partners recently?"))
    assert r.guard == [] and r.text == "I'm not sure, he's never said."


def test_a_fact_said_in_its_own_words_is_revealed(stemi: Case):
    rad = next(f for f in stemi.facts if f.topic == "radiation")
    _, r = _reply(stemi, rad.lay, "Does the pain spread anywhere?")
    assert r.revealed == [rad.id] and r.guard == []


def test_a_bare_yes_answers_what_was_asked(stemi: Case):
    smoking = next(f for f in stemi.facts if f.topic == "smoking")
    _, r = _reply(stemi, "Yes, I do.", "Do you smoke?")
    assert smoking.id in r.revealed


def test_a_denial_of_what_the_case_leaves_out_carries_the_rule(stemi: Case):
    assert not any(f.topic == "rash" for f in stemi.facts)
    _, r = _reply(stemi, "No, no rash at all.", "Have you noticed any rash?")
    assert r.revealed == []
    assert [(s.topic, s.rule, s.text) for s in r.synthesized] == [("rash", SynthesisRule.DENIAL, "No, no rash at all.")]


def test_the_prompt_asks_for_plain_denials_and_carries_the_typical_findings():
    from cases.synthesizer import generate

    case = next(c for c in generate(40, 5) if not c.atypical and PlausibleAnswers(c).typical() and c.speaker == "self")
    typical = PlausibleAnswers(case).typical()[0]
    patient = LLMPatient(get_model("mock/patient"), case, get_persona("plain"))
    system = patient.messages[0]["content"]
    assert "a natural denial or an ordinary answer" in system
    assert f"[{typical.fact.id}] {typical.fact.lay}" in system
    rule = next(line for line in system.splitlines() if line.startswith("3. "))
    # "Not sure" only for what a real patient could not know, never for what the case leaves out.
    assert rule.endswith('Say "I\'m not sure." only about what you could not know.'), rule


def test_an_invented_finding_is_replaced_by_a_plausible_answer_not_not_sure(stemi: Case):
    assert not any(f.topic == "rash" for f in stemi.facts)
    _, r = _reply(stemi, "I've had a rash all over my arms for weeks.", "Have you noticed any rash?")
    assert r.guard and r.guard[-1].action == "replaced"
    assert "not sure" not in r.text.lower()
    assert [(s.topic, s.rule) for s in r.synthesized] == [("rash", SynthesisRule.DENIAL)]


def test_a_claim_resting_on_a_made_up_finding_but_denied_by_the_case_is_sent_back():
    from cases.synthesizer import generate

    case = next(c for c in generate(120, 3) if c.id.startswith("covid-19-587aed3f0b"))
    assert any(f.id == "neg.no_leg_swelling" for f in case.facts)
    claim = "My ankles have been really swollen lately."
    patient = LLMPatient(get_model(f"mock/patient?reply={claim}"), case, get_persona("plain"))
    asyncio.run(patient.open())
    r = asyncio.run(patient.reply("Does anything make it worse, such as exertion, breathing, eating or moving?"))
    assert r.guard and r.guard[0].reason == "contradicts neg.no_leg_swelling"
    assert claim not in r.text
