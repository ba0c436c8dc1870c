"""How the guard reads denials and loose overlaps: what a negated sentence asserts, what a normal state denies,
and which word senses a claim and a fact cannot meet on."""

import pytest

from arena.core.types import Case
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
    ],
)
def test_a_denied_change_or_a_normal_state_is_a_denial(sentence: str):
    assert denies(sentence)


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
