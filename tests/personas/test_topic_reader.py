"""The topic reader and the guard's use of it: what a claim is about decides whether a fact may back it."""

from dataclasses import replace

import pytest

from arena.core.types import Case
from cases.kb import load_kb
from personas.guard import Guard
from personas.matching.base import NEVER
from personas.matching.intents import phrasebook
from personas.matching.topic_reader import topic_reader

HELD_OUT = frozenset({"stemi", "asthma-exacerbation"})


def _phrasings(condition_id: str) -> list[tuple[str, str]]:
    cond = load_kb().by_id[condition_id]
    return [(f.topic, x) for f in cond.findings for x in f.lay if "{" not in x]


def test_phrasebook_leaves_out_held_out_conditions_and_their_wording():
    held = {x for c in HELD_OUT for _, x in _phrasings(c)}
    full = {c.texts[0] for c in phrasebook()}
    kept = {c.texts[0] for c in phrasebook(HELD_OUT)}
    assert held <= full
    assert not held & kept
    # Topic vocabulary stays, whoever is held out.
    assert "palpitations" in kept
    assert all(c.key.split("\x1f")[0] for c in phrasebook(HELD_OUT))


# Building the MiniLM reader embeds the whole phrasebook, half a minute of CPU: its tests are in the slow tier.
@pytest.mark.parametrize("backend", ["lexical", pytest.param("minilm", marks=pytest.mark.slow)])
def test_reader_puts_unseen_phrasings_on_their_topics(backend: str):
    reader = topic_reader(backend, HELD_OUT)
    unseen = [p for c in HELD_OUT for p in _phrasings(c)]
    odds = reader.read([x for _, x in unseen])
    assert all(abs(sum(o.values()) - 1.0) < 1e-6 for o in odds)
    top3 = sum(topic in sorted(o, key=o.__getitem__)[-3:] for (topic, _), o in zip(unseen, odds, strict=True))
    # Phrasings the reader never saw: most land among its three likeliest topics.
    assert top3 / len(unseen) >= 0.7, f"{top3}/{len(unseen)}"


def test_reader_rejects_a_finding_on_a_topic_the_case_never_mentions(stemi: Case):
    assert "palpitations" not in {f.topic for f in stemi.facts}
    claim = "My heart has been racing for hours."
    g = Guard(stemi)
    # Leave the reader alone to judge what the claim is about.
    g.thresholds = replace(g.thresholds, off_record_margin=None)
    checks = g.check(claim)
    assert [c.reason for c in checks] == ["new finding on palpitations"]
    without = Guard(stemi)
    without.thresholds = replace(without.thresholds, off_record_margin=None, reader_off_record=None)
    assert all(c.supported for c in without.check(claim))


def test_reader_backs_a_paraphrase_that_shares_no_word_with_its_fact(stemi: Case):
    fact = next(f for f in stemi.facts if f.topic == "breathlessness")
    claim = "His breathing is really fast and you can see his ribs sucking in."
    g = Guard(stemi)
    checks = g.check(claim)
    assert [(c.supported, c.reason, c.fact_id) for c in checks] == [(True, "reads as breathlessness", fact.id)]
    strict = Guard(stemi)
    strict.thresholds = replace(strict.thresholds, reader_backs=1.01)
    assert not any(c.supported for c in strict.check(claim))


def test_loose_backing_needs_the_reader_to_place_the_claim_on_record(stemi: Case):
    # "lifting" is a trigger the case never mentions; "when it started" loosely echoes its onset fact.
    claim = "I'd been lifting when it started."
    g = Guard(stemi)
    checks = g.check(claim)
    assert [c.supported for c in checks] == [False]
    assert checks[0].reason.startswith("new finding on ")
    lenient = Guard(stemi)
    # The claim also reads unlike every wording of the case's facts, which rejects it on its own.
    lenient.thresholds = replace(
        lenient.thresholds, reader_weak_min=lenient.thresholds.reader_off_record, reader_stray_min=NEVER
    )
    assert all(c.supported for c in lenient.check(claim))


def test_a_denial_read_as_another_covered_topic_rests_there_not_on_the_fact_it_shares_words_with():
    from cases.synthesizer import generate
    from personas.guard_voice import kb_wordings

    case = next(c for c in generate(400, 5) if {"hpi.sputum", "neg.haemoptysis"} <= {f.id for f in c.facts})
    claim = "There's no blood in what I cough up."
    # The knowledge base words the haemoptysis denial exactly so; keep that wording from the guard.
    wordings = {k: tuple(x for x in v if x != claim) for k, v in kb_wordings(case).items()}
    checks = Guard(case, wordings=wordings).check(claim)
    assert [(c.supported, c.reason, c.fact_id) for c in checks] == [(True, "reads as bleeding", "neg.haemoptysis")]
    literal = Guard(case, wordings=wordings)
    literal.thresholds = replace(literal.thresholds, reader_elsewhere=1.01)
    assert [c.reason for c in literal.check(claim)] == ["contradicts hpi.sputum"]


def test_a_denial_still_contradicts_a_fact_on_the_topic_it_is_about():
    from cases.loader import builtin_cases

    pe = next(c for c in builtin_cases() if c.id == "pulmonary-embolism")
    checks = Guard(pe).check("I haven't coughed up any blood.")
    assert [c.reason for c in checks] == ["contradicts ros.cough"]


@pytest.mark.slow
def test_blended_reader_averages_readers_of_the_same_topics():
    from personas.matching.topic_reader import BlendedReader

    lexical = topic_reader("lexical", HELD_OUT)
    blend = topic_reader("minilm", HELD_OUT)
    assert isinstance(blend, BlendedReader)
    sentence = ["My heart has been racing for hours."]
    mixed, alone = blend.read(sentence)[0], lexical.read(sentence)[0]
    assert abs(sum(mixed.values()) - 1.0) < 1e-6
    assert mixed != alone
    with pytest.raises(ValueError, match="same topics"):
        BlendedReader(lexical, type("Other", (), {"topics": ("x",)})())  # type: ignore[arg-type]


def test_a_fact_backing_a_claim_only_through_its_topics_words_does_not_shield_it_from_the_reader(stemi: Case):
    fact = next(f for f in stemi.facts if f.topic == "alcohol")
    claim = "I'm not drinking much."
    g = Guard(stemi)
    # The alcohol topic's own vocabulary ("drinking") covers every word of the claim ...
    assert g._match_reading(claim, False).score >= g.thresholds.reader_veto_max
    # ... yet none of the fact's wordings says so, and the reader reads fluid intake, not alcohol.
    checks = g.check(claim)
    assert [c.supported for c in checks] == [False]
    assert checks[0].reason.startswith("new finding on ")
    # What a wording of the fact does say still stands, whatever the reader thinks.
    assert all(c.supported for c in g.check(fact.lay))
