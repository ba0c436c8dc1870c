"""How the guard reads denials and loose overlaps: what a negated sentence asserts, what a normal state denies,
and which word senses a claim and a fact cannot meet on."""

import pytest

from arena.core.types import Case
from cases.kb import load_kb
from cases.text import claims
from personas.guard import Guard, denies
from personas.matching.idioms import plainly


@pytest.mark.parametrize(
    "sentence",
    [
        "I haven't opened my bowels for three days.",
        "She hasn't had a wet nappy today.",
        "I haven't had a period.",
        "I haven't felt the baby move today.",
        "I've had thoughts that life isn't worth living",
        "My child doesn't seem to hear me properly.",
        "I've not been able to get out of the house this week.",
        "I've never seen him like this.",
        # A normal-word that names or describes a thing.
        "Her regular tablets aren't touching the pain.",
        "He's got a fine rash on his chest.",
        # A rise from nothing, a treatment that fails, confusion, care left undone, lost sleep.
        "It went from nothing to agony in a few seconds.",
        "Nothing the nurse tried settled her.",
        "He didn't know where he was afterwards.",
        "She didn't seem to recognise me.",
        "He just isn't himself.",
        "I never had the MMR jab.",
        "I haven't had my flu vaccine this year.",
        "She hasn't slept for two nights.",
        "We're not up to date with her boosters.",
        "Meat doesn't appeal to him now.",
        # A symptom that persists, a treatment that fails to touch it, food that will not stay down.
        "The ache doesn't budge, day or night.",
        "These bruises don't seem to fade.",
        "The stiffness doesn't wear off till lunchtime.",
        "This lump isn't going away.",
        "The fever hasn't broken in four days.",
        "Painkillers don't even take the edge off it.",
        "Paracetamol hasn't made a blind bit of difference.",
        "Calpol isn't bringing his temperature down.",
        "She's not kept a single feed down today.",
        # Lost pleasure and hope, unrest, risk and hardship.
        "I don't see the point in anything anymore.",
        "I don't enjoy my garden any more.",
        "I've no interest in sex lately.",
        "I never wake up feeling rested.",
        "He's not making any sense.",
        "We didn't use a condom.",
        "I don't feel safe at home.",
        "She doesn't go a night without a bottle of wine.",
        "I've got nobody at home to help.",
        "He's not had any of his baby jabs.",
        # The negation is an aside: a time, or a relative clause.
        "I was sick not long after eating.",
        "He gets dizzy for no apparent reason.",
        "There are red patches that don't itch.",
        "I keep hearing voices that aren't there.",
        "Between episodes I'm completely fine.",
    ],
)
def test_a_negated_sentence_that_asserts_a_finding_is_no_denial(sentence: str):
    assert not denies(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "I'm not weeing more than usual.",
        "I don't feel the cold more than usual.",
        "My mind's clear.",
        "My head's clear.",
        "I was awake the whole time, I didn't pass out.",
        # A function named beside a denied symptom is still a denial.
        "It doesn't hurt to pass water.",
        "No blood when I pass water.",
        "I haven't had any pain passing water.",
        "I'm back to my usual self.",
        "I've slept fine.",
        "There's nothing that worries me.",
        "I'm sure that I don't have a temperature.",
        "Nobody at home has been ill.",
        "No one at home has a cold sore.",
    ],
)
def test_a_denied_change_or_a_normal_state_is_a_denial(sentence: str):
    assert denies(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "There are purple spots on my legs that don't fade.",
        "I keep seeing people in the room who aren't there.",
        "I didn't know where I was for a while.",
        "I didn't get the flu jab this year.",
    ],
)
def test_a_finding_worded_with_a_negation_on_a_topic_the_case_leaves_out_is_rejected(stemi: Case, sentence: str):
    # The record says nothing of a rash, confusion or vaccines: read as a denial, each would have passed.
    [check] = Guard(stemi).check(sentence)
    assert not check.supported


SAID_AS_DENIALS = {
    "croup/drinking",  # "Still drinking fluids", said "She's drinking fine": a normal state
    "febrile-convulsion/drinking_less",  # said "I'm not thirsty"
    "cystitis/sexually_active",  # said "I'm in a steady relationship", and "steady" is a normal-word
}
"""Findings of the knowledge base with a lay phrasing that the guard reads as a denial."""


def test_the_knowledge_base_s_findings_read_as_findings():
    # A finding read as a denial passes the guard on any topic the case leaves out, so a patient could
    # invent it. The phrasings are what the simulator says; each new one must read as what it is.
    kb = load_kb()
    read_as_denials = {
        f"{c.id}/{f.id}"
        for c in kb.conditions
        for f in c.findings
        for line in (*f.lay, *f.lay_caregiver)
        if "{" not in line and claims(line) and all(denies(s) for s in claims(line))
    }
    assert read_as_denials == SAID_AS_DENIALS


def test_more_than_usual_still_asserts_a_change_when_nothing_denies_it():
    assert not denies("I'm weeing more than usual.")


def test_lasting_is_a_duration_and_the_last_period_is_not():
    assert "duration" in plainly("It lasts a few hours at a time.")
    assert "duration" in plainly("They last about a minute.")
    assert plainly("My last period was three weeks ago.") == "My last period was three weeks ago."


def test_how_long_an_episode_lasts_does_not_rest_on_the_last_period(stemi: Case):
    lmp = stemi.facts[0].model_copy(
        update={"id": "bg.lmp", "topic": "lmp", "text": "LMP 3 weeks ago", "lay": "My last period was 3 weeks ago."}
    )
    case = stemi.model_copy(update={"facts": [*stemi.facts, lmp]})
    checks = Guard(case).check("It lasts a few hours at a time.")
    assert checks and all(c.fact_id != "bg.lmp" for c in checks if c.supported)
