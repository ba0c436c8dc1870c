"""The guard reads lay speech: idioms put plainly, spans of time backing nothing, everyday words read by topic."""

from arena.core.types import Case
from personas.guard import Guard
from personas.matching.idioms import plainly
from personas.matching.intents import phrasebook
from personas.matching.topic_reader import topic_reader


def _with_lay(case: Case, topic: str, lay: str) -> Case:
    """``case`` with the lay wording of its fact on ``topic`` replaced by ``lay``."""
    facts = [f.model_copy(update={"lay": lay}) if f.topic == topic else f for f in case.facts]
    return case.model_copy(update={"facts": facts})


def test_idioms_are_put_plainly_and_other_text_is_left_alone():
    assert plainly("I've had the runs as well.") == "I've had diarrhoea as well."
    assert "family history" in plainly("Nothing runs in the family that I know of.")
    assert plainly("It really gets him down.") == "It really low mood."
    assert plainly("I can't keep anything down.") == "I can't vomiting."
    assert plainly("My voice has gone croaky.") == "My voice has gone hoarse voice."
    assert plainly("It started last night.") == "It started recently."
    assert plainly("It goes down into my left arm.") == "It goes down into my left arm."


def test_every_lay_wording_of_the_knowledge_base_is_put_plainly_as_the_whole_table_would():
    from cases.kb import load_kb
    from personas.matching.idioms import _table

    def one_by_one(text: str) -> str:
        for pattern, means in _table():
            text = pattern.sub(means, text)
        return text

    lays = {
        line
        for cond in load_kb().conditions
        for f in (*cond.findings, *cond.negatives)
        for line in (*f.lay, *(f.lay_caregiver or ()))
    }
    changed = [t for t in lays if one_by_one(t) != t]
    assert len(lays) > 1000 and changed  # the quick check that skips a wording must see these
    assert [t for t in lays if plainly(t) != one_by_one(t)] == []


def test_a_word_the_claim_and_a_fact_share_in_different_idioms_backs_nothing(stemi: Case):
    g = Guard(_with_lay(stemi, "family_history", "Nothing runs in the family that I know of."))
    # "the runs" is diarrhoea, a finding the case does not hold; "runs in the family" is family history.
    assert [c.supported for c in g.check("I've had the runs as well.")] == [False]
    assert all(c.supported for c in g.check("Nothing runs in my family."))
    # "It goes down into my left arm" does not back low mood.
    assert [c.supported for c in Guard(stemi).check("It really gets me down.")] == [False]


def test_a_span_of_time_or_a_vague_amount_backs_nothing(stemi: Case):
    g = Guard(stemi)
    alcohol = next(f.id for f in stemi.facts if f.topic == "alcohol")
    # The alcohol fact says "fourteen units a week"; being 32 weeks pregnant or croaky for weeks is no paraphrase of it.
    for claim in ("I'm about 32 weeks along.", "I've gone croaky for a few weeks."):
        backers = {g._wordings[s.key].fact_id for s in g._supports(claim, g._singles)}
        assert alcohol not in backers
        assert [c.supported for c in g.check(claim)] == [False]
    # The words that say something still back a paraphrase.
    assert all(c.supported for c in g.check("I have a few pints most weekends."))


def test_the_topic_reader_learns_everyday_words_for_each_topic():
    book = {(c.key.split("\x1f")[0], c.texts[0]) for c in phrasebook()}
    assert ("injury", "I was in a car crash") in book
    assert ("mood", "it gets me down") in book
    read = topic_reader("lexical")
    odds = read.read(["I keep bringing everything back up."])[0]
    assert max(odds, key=odds.__getitem__) == "nausea"


def test_a_claim_read_as_a_covered_topic_must_be_somewhat_like_a_fact_there(bank: tuple[Case, ...]):
    dka = next(c for c in bank if c.id == "dka")
    g = Guard(dka)
    # The sore-throat fact is "a sore throat and a cold about four days ago": a cold is what it says ...
    assert all(c.supported for c in g.check("I've just got over a cold."))
    # ... a hoarse voice reads as the same topic, yet is like nothing the facts there say.
    assert [c.supported for c in g.check("I sound hoarse.")] == [False]


def test_a_claim_both_readers_put_on_one_fact_s_topic_rests_on_that_fact(stemi: Case, monkeypatch):
    g = Guard(stemi)
    claim = "Quux blorp."  # no word any fact uses: only the readers can back it
    sweating = next(f.id for f in stemi.facts if f.topic == "sweating")

    def readers(odds: dict[str, float], likeness: float) -> None:
        monkeypatch.setattr(g, "_topic_odds", lambda _: odds)
        monkeypatch.setattr(g, "_likeness_by_fact", lambda _: {sweating: likeness})

    readers({"sweating": 0.4, "ear": 0.6}, 0.45)
    got = g.check_claim(claim)
    assert got.supported and got.fact_id == sweating and not got.firm
    readers({"nausea": 0.3, "sweating": 0.2, "ear": 0.5}, 0.45)  # the reader's likeliest covered topic is another
    assert not g.check_claim(claim).supported
    readers({"sweating": 0.4, "ear": 0.6}, 0.2)  # too unlike the fact's wordings
    assert not g.check_claim(claim).supported
    readers({"sweating": 0.2, "ear": 0.8}, 0.45)  # too likely about a topic the facts never touch
    assert not g.check_claim(claim).supported


def test_a_claim_sharing_only_its_topic_s_words_with_a_fact_is_backed_loosely(stemi: Case):
    g = Guard(stemi)
    # "colicky" is a word of the character topic's vocabulary, not of the crushing pain the fact describes:
    # the backing is left for the readers (and a verifier, if any) to weigh.
    loose = g.check("It's colicky.")
    assert loose[0].fact_id == "hpi.chest_pain" and not loose[0].firm
    # A claim that says what the fact says is backed firmly.
    firm = g.check("It's a crushing pain.")
    assert firm[0].supported and firm[0].firm
