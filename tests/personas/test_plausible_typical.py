"""The typical findings a model-played patient is given are those of the full set of made-up answers."""

from cases.synthesizer import generate
from personas.catalog import personas
from personas.guard import Guard
from personas.plausible import PlausibleAnswers, SynthesisRule


def test_typical_answers_are_exactly_the_condition_typical_ones_of_every_answer():
    cases = generate(60, seed=5)
    checked = 0
    for i, case in enumerate(cases):
        persona = list(personas().values())[i % len(personas())]
        check = Guard(case, persona=persona).contradicted

        def fresh(case=case, persona=persona, check=check) -> PlausibleAnswers:
            return PlausibleAnswers(case, proxy=persona.third_person, check=check)

        # Two separate instances, so neither list is read from answers the other already made.
        everything = [a for a in fresh().every() if a.record and a.record.rule == SynthesisRule.CONDITION_TYPICAL]
        quick = fresh().typical()
        assert [(a.fact.id, a.fact.lay) for a in quick] == [(a.fact.id, a.fact.lay) for a in everything], case.id
        checked += len(quick)
    assert checked > 20  # the sample really contains typical answers
