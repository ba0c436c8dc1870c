from cases.condition_summaries import conditions
from cases.kb import find_condition, load_kb
from cases.knowledge import topics


def test_at_least_ten_builtin_cases_with_unique_ids(bank):
    assert len(bank) >= 10
    assert len({c.id for c in bank}) == len(bank)


def test_every_fact_topic_is_in_the_vocabulary_of_its_kind(bank):
    vocab = topics()
    for case in bank:
        for f in case.facts:
            assert f.topic in vocab, (case.id, f.id, f.topic)
            want = {"exam": "exam", "test": "test"}.get(f.disclosure, "history")
            assert vocab[f.topic].kind == want, (case.id, f.id)


def test_each_case_volunteers_exactly_one_fact_and_has_a_rubric(bank):
    for case in bank:
        assert sum(f.disclosure == "volunteered" for f in case.facts) == 1, case.id
        kinds = [i.check.kind for i in case.rubric if i.check]
        assert "diagnose" in kinds, case.id
        assert any(i.points < 0 for i in case.rubric), case.id


def test_diagnoses_and_differentials_are_knowledge_base_conditions(bank):
    kb = load_kb()
    for case in bank:
        assert find_condition(kb, case.diagnosis.name) is not None, case.id
        for d in case.differentials:
            assert find_condition(kb, d.name) is not None, (case.id, d.name)


def test_doctor_knowledge_uses_known_topics():
    vocab = topics()
    assert len(conditions()) == len(load_kb().conditions)
    for c in conditions():
        assert c.complaints and c.features, c.name
        for t in (*c.history_topics, *c.exams, *c.workup):
            assert t in vocab, (c.name, t)
