import json
from importlib import resources

import pytest

from arena.core.types import Case
from cases.knowledge import match_topics, topics
from personas.builtin_patient import BuiltinPatient
from personas.catalog import get_persona
from personas.matching import (
    Candidate,
    Matcher,
    MatcherError,
    Scored,
    fact_candidates,
    get_matcher,
    match_intents,
    select,
    topic_candidates,
)
from personas.matching.terms import unigrams


def test_get_matcher_knows_the_backends_and_rejects_others():
    lex = get_matcher("lexical")
    assert isinstance(lex, Matcher) and lex.name == "lexical"
    assert get_matcher("lexical") is lex
    with pytest.raises(MatcherError, match="lexical"):
        get_matcher("nonsense")


def test_select_keeps_close_seconds_and_drops_weak_ones():
    ranked = [Scored("a", 0.9), Scored("b", 0.8), Scored("c", 0.3)]
    assert select(ranked, minimum=0.5, ratio=0.6) == ["a", "b"]
    assert select(ranked, minimum=0.95) == []
    assert select([], minimum=0.1) == []


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("Does the pain spread to your arm or jaw?", "radiation"),
        ("Have you had diarhoea?", "bowel"),
        ("Any haemoptysis?", "cough"),
        ("Have you been breatheless?", "breathlessness"),
        ("When did it start?", "onset"),
    ],
)
def test_lexical_ranks_the_asked_topic_first(question, topic):
    ranked = get_matcher("lexical").rank(question, topic_candidates())
    assert ranked[0].key == topic
    assert all(0.0 < s.score <= 1.0 for s in ranked)
    assert [s.score for s in ranked] == sorted((s.score for s in ranked), reverse=True)


def test_compound_question_gets_every_topic_and_a_shared_word_does_not():
    m = get_matcher("lexical")
    assert set(match_intents(m, "Any fever, or a cough?")) == {"fever", "cough"}
    # "drinking" is a keyword of both thirst and alcohol; the old counter answered with both.
    q = "Are you drinking a lot more water than normal?"
    assert {"thirst", "alcohol"} <= set(match_topics(q))
    assert match_intents(m, q) == ["thirst"]


def test_unrelated_question_matches_no_topic():
    assert match_intents(get_matcher("lexical"), "What is your diagnosis?") == []


def test_support_prefers_the_fact_a_claim_paraphrases(stemi: Case):
    m = get_matcher("lexical")
    facts = fact_candidates(f for f in stemi.facts if f.disclosure in ("volunteered", "on_ask"))
    rad = next(f for f in stemi.facts if f.topic == "radiation")
    got = m.support("The pain goes into my left arm and up to my jaw.", facts)
    assert got is not None and got.key == rad.id and got.score >= m.support_min
    made_up = m.support("I've had a blistering rash on my shins.", facts)
    assert made_up is None or made_up.score < m.support_min


def test_support_meets_derived_word_forms_and_leaves_real_words_unrepaired():
    m = get_matcher("lexical")
    fact = (Candidate("constipation", ("Constipation for a week",)),)
    got = m.support("I've been constipated.", fact)
    assert got is not None and got.score == 1.0
    assert unigrams("dizziness heavier painful") == unigrams("dizzy heavy pain")
    # "along" is a word of its own, not a misspelling of "long": only "weeks" is shared.
    onset = (Candidate("onset", ("It has been going on a long time, some weeks",)),)
    along = m.support("I'm about 35 weeks along.", onset)
    assert along is not None and 0 < along.score < 0.5


def test_builtin_patient_no_longer_discloses_on_a_shared_keyword(stemi: Case):
    p = BuiltinPatient(stemi, get_persona("plain"))
    r = p.answer("Are you drinking a lot more water than normal?")
    alcohol = [f.id for f in stemi.facts if f.topic == "alcohol"]
    assert alcohol and not set(alcohol) & set(r.revealed)


def test_labelled_questions_are_well_formed():
    known = {t for t, v in topics().items() if v.kind == "history"}
    for name, minimum in (("questions.jsonl", 300), ("questions_heldout.jsonl", 50)):
        lines = resources.files("personas").joinpath("data", name).read_text("utf-8").splitlines()
        rows = [json.loads(x) for x in lines if x.strip()]
        assert len(rows) >= minimum
        assert len({r["question"] for r in rows}) == len(rows)
        for r in rows:
            assert r["kind"] in {"lay", "clinical", "compound", "negated"}
            assert r["topics"] and set(r["topics"]) <= known, r
            assert (len(r["topics"]) > 1) == (r["kind"] == "compound"), r


def test_minilm_embeds_offline_and_ranks_by_meaning():
    m = get_matcher("minilm")
    v = m.vectors(["chest pain", "chest pain", "a sore knee"])
    assert v.shape == (3, 384)
    assert abs(float(v[0] @ v[0]) - 1.0) < 1e-4
    assert float(v[0] @ v[1]) > 0.999 > float(v[0] @ v[2])
    cands = (Candidate("breath", ("Are you short of breath?",)), Candidate("rash", ("Any rash or spots?",)))
    assert m.rank("Do you get puffed out walking upstairs?", cands)[0].key == "breath"
    assert m.rank("Have you noticed any marks on your skin?", cands)[0].key == "rash"


def test_litellm_backend_embeds_through_a_litellm_provider():
    import zlib

    from litellm import CustomLLM

    from arena.models import load_litellm

    calls: list[list[str]] = []

    class WordHash(CustomLLM):
        def embedding(self, model, input, model_response, *args, **kwargs):
            calls.append(list(input))
            data = []
            for i, text in enumerate(input):
                v = [0.0] * 64
                for w in text.lower().replace("?", " ").split():
                    v[zlib.crc32(w.encode()) % 64] += 1.0
                data.append({"object": "embedding", "index": i, "embedding": v})
            model_response.data = data
            return model_response

        async def aembedding(self, *args, **kwargs):
            return self.embedding(*args, **kwargs)

    litellm = load_litellm()
    litellm.custom_provider_map = [
        *[p for p in litellm.custom_provider_map if p["provider"] != "wordhash"],
        {"provider": "wordhash", "custom_handler": WordHash()},
    ]
    from litellm.utils import custom_llm_setup

    custom_llm_setup()
    m = get_matcher("wordhash/bag")
    cands = (Candidate("breath", ("short of breath",)), Candidate("rash", ("any rash",)))
    ranked = m.rank("are you short of breath", cands)
    assert ranked[0].key == "breath" and ranked[0].score > 0.5
    assert calls
    n = len(calls)
    m.rank("are you short of breath", cands)
    assert len(calls) == n  # cached
