"""Planning a run's consultations: doctors, trials, seeds and personas."""

from collections import Counter

import pytest

from arena.core.types import RunConfig
from arena.pipeline import plan_jobs, validate_config
from cases.synthesizer import generate
from personas.catalog import PersonaError, needs_proxy, personas


@pytest.fixture(scope="module")
def cases():
    return generate(60, seed=5)


def test_each_doctor_gets_every_case_and_trial_with_the_same_seed_and_persona(cases):
    config = RunConfig(doctors=["builtin/checklist", "mock/doctor"], trials=3, persona="mix", seed=9)
    jobs = plan_jobs("r", config, cases)
    assert len(jobs) == 60 * 3 * 2
    assert len({j.consultation_id for j in jobs}) == len(jobs)
    by_key: dict[tuple[str, int], set[tuple[int, str]]] = {}
    for j in jobs:
        by_key.setdefault((j.case_id, j.trial), set()).add((j.seed, j.persona))
    assert all(len(v) == 1 for v in by_key.values())


def test_a_persona_mix_is_varied_reproducible_and_uses_a_proxy_where_needed(cases):
    config = RunConfig(persona="mix", seed=4)
    first = {j.case_id: j.persona for j in plan_jobs("r", config, cases)}
    again = {j.case_id: j.persona for j in plan_jobs("other-run", config, list(reversed(cases)))}
    assert first == again, "the draw depends on the seed and the case, not the run id or the order"
    catalogue = personas()
    assert len(set(first.values())) >= 8
    for case in cases:
        kind = catalogue[first[case.id]].kind
        assert (kind == "proxy") == needs_proxy(case), case.id
    assert any(needs_proxy(c) for c in cases) and not all(needs_proxy(c) for c in cases)
    other_seed = {j.case_id: j.persona for j in plan_jobs("r", RunConfig(persona="mix", seed=5), cases)}
    assert other_seed != first


def test_a_named_persona_plays_every_case(cases):
    jobs = plan_jobs("r", RunConfig(persona="stoic"), cases)
    assert Counter(j.persona for j in jobs) == {"stoic": 60}


def test_an_unknown_persona_is_refused_before_anything_runs():
    with pytest.raises(PersonaError, match="shy"):
        validate_config(RunConfig(persona="shy"))
    validate_config(RunConfig(persona="mix"))
