import re
from collections import Counter

import pytest

from arena.core.types import Fact
from cases.kb import load_kb
from cases.synthesizer import consistency_problems, content_hash, generate


@pytest.fixture(scope="module")
def bank():
    return generate(400, seed=11)


def test_same_seed_same_cases_other_seed_other_cases():
    a = [c.model_dump_json() for c in generate(40, seed=5)]
    b = [c.model_dump_json() for c in generate(40, seed=5)]
    c = [c.model_dump_json() for c in generate(40, seed=6)]
    assert a == b
    assert a != c


def test_cases_are_unique_consistent_and_rich(bank):
    assert len({content_hash(c) for c in bank}) == len(bank)
    assert len({c.id for c in bank}) == len(bank)
    for c in bank:
        assert consistency_problems(c) == [], c.id
        assert len(c.facts) >= 15, c.id
        assert len(c.rubric) >= 8, c.id
        kinds = {f.disclosure for f in c.facts}
        assert {"volunteered", "on_ask", "exam", "test"} <= kinds, c.id
        assert any(f.negative for f in c.facts if f.disclosure == "on_ask"), c.id
        assert any(i.points < 0 for i in c.rubric), c.id
        tags = {t for i in c.rubric for t in i.tags}
        assert {"axis:history", "axis:diagnosis", "axis:safety", "priority:must"} <= tags, c.id


def test_first_pass_covers_every_condition(bank):
    kb = load_kb()
    names = Counter(c.diagnosis.name for c in bank[: len(kb.conditions)])
    assert set(names) == {c.name for c in kb.conditions}


def test_demographics_are_plausible(bank):
    kb = load_kb()
    by_name = {c.name: c for c in kb.conditions}
    for c in bank:
        pop = by_name[c.diagnosis.name].population
        assert pop.age_min <= c.demographics.age <= pop.age_max, c.id
        if pop.sex != "any":
            assert c.demographics.sex == pop.sex, c.id
        assert (c.speaker == "caregiver") == (c.demographics.age < 12), c.id
        if c.demographics.sex == "male":
            assert not any(f.topic == "lmp" or "pregnan" in f.text.lower() for f in c.facts), c.id


def test_atypical_rate_is_controlled():
    assert not any(c.atypical for c in generate(60, seed=2, atypical_rate=0.0))
    assert all(c.atypical and c.difficulty == "hard" for c in generate(60, seed=2, atypical_rate=1.0))
    share = sum(c.atypical for c in generate(600, seed=3)) / 600
    assert 0.10 <= share <= 0.20
    assert {"easy", "medium", "hard"} <= {c.difficulty for c in generate(300, seed=4)}


def test_consistency_check_catches_contradictions(bank):
    case = bank[0]
    fever = Fact(id="x.fever", category="ros", disclosure="on_ask", text="Fever", topic="fever")
    nofever = Fact(id="x.nofever", category="ros", disclosure="on_ask", text="No fever", topic="fever", negative=True)
    bad = case.model_copy(update={"facts": [*case.facts, fever, nofever]})
    assert any("fever" in p for p in consistency_problems(bad))
    lost = Fact(id="x.lost", category="ros", disclosure="on_ask", text="Lost 5 kg in a month", topic="appetite_weight")
    appetite = Fact(
        id="x.app",
        category="ros",
        disclosure="on_ask",
        text="Appetite unchanged",
        topic="appetite_weight",
        negative=True,
    )
    fine = case.model_copy(update={"facts": [f for f in case.facts if f.topic != "appetite_weight"] + [lost, appetite]})
    assert consistency_problems(fine) == []
    man = case.model_copy(
        update={
            "demographics": case.demographics.model_copy(update={"sex": "male", "age": 40}),
            "facts": [
                *case.facts,
                Fact(id="p", category="pmh", disclosure="on_ask", text="12 weeks pregnant", topic="lmp"),
            ],
        }
    )
    assert any("male" in p for p in consistency_problems(man))


def test_caregiver_pronouns_agree_with_the_child(bank):
    from cases.synthesizer import match_pronouns

    assert (
        match_pronouns("I picked her up and her tummy felt hard", "male") == "I picked him up and his tummy felt hard"
    )
    assert match_pronouns("He won't feed and his nappy is dry", "female") == "She won't feed and her nappy is dry"
    children = [c for c in generate(300, seed=8) if c.speaker == "caregiver"]
    assert children
    for c in children:
        wrong = r"\b(she|her|hers|herself)\b" if c.demographics.sex == "male" else r"\b(he|him|his|himself)\b"
        for f in c.facts:
            assert not re.search(wrong, f.lay, re.IGNORECASE), (c.id, f.lay)
