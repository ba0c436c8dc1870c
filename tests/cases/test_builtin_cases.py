from cases.knowledge import conditions, topics


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


def test_differentials_and_diagnoses_are_known_conditions(bank):
    names = {c.name for c in conditions()}
    for case in bank:
        assert case.diagnosis.name in names, case.id
        for d in case.differentials:
            assert d.name in names, (case.id, d.name)


def test_condition_topics_exist():
    vocab = topics()
    for c in conditions():
        for t in (*c.history_topics, *c.exams, *c.workup):
            assert t in vocab, (c.name, t)
