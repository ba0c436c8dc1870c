"""The finding reader: sentences are alike when they are like the same findings of the knowledge base."""

import numpy as np

from cases.kb import load_kb
from personas.matching.finding_reader import NEAREST, FindingReader, finding_reader


def _likeness(reader: FindingReader, a: str, b: str) -> float:
    profiles = reader.profiles([a, b])
    return float((profiles[0] @ profiles[1].T).toarray()[0, 0])


def test_profiles_are_unit_rows_over_a_few_findings():
    reader = finding_reader()
    profiles = reader.profiles(["I threw up twice.", "I threw up twice.", ""]).toarray()
    assert profiles.shape == (3, reader.findings)
    assert np.allclose(np.linalg.norm(profiles[:2], axis=1), 1.0)
    assert ((profiles[:2] > 0).sum(axis=1) <= NEAREST).all()
    assert np.array_equal(profiles[0], profiles[1])
    # A sentence like no phrasing at all points at no finding.
    assert not profiles[2].any()


def test_a_paraphrase_is_like_what_it_paraphrases_and_a_shared_word_is_not_enough():
    reader = finding_reader()
    paraphrase = _likeness(reader, "She's off her food.", "She's hardly eating anything.")
    # "runs" in both, about different things.
    shared_word = _likeness(reader, "I've had the runs.", "Nothing runs in the family.")
    assert paraphrase > 0.2 and paraphrase > 3 * shared_word


def test_held_out_conditions_are_left_out():
    cond = load_kb().conditions[0]
    assert FindingReader(frozenset({cond.id})).findings == finding_reader().findings - sum(
        1
        for f in (*cond.findings, *cond.negatives)
        if any("{" not in x for x in (*f.lay, *f.lay_caregiver, f.text) if x)
    )
