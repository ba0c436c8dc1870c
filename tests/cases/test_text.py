import pytest

from cases.text import (
    CLINICAL_FILLER,
    RECORD_STOP_WORDS,
    SALIENT_STOP_WORDS,
    SPEECH_STOP_WORDS,
    claims,
    finding_keywords,
    is_negative,
    mentions_negation,
    negated,
    negative_or_normal,
    normalise,
    phrase_in,
    record_sentences,
    salient_words,
    sentences,
    states_absence,
    stem,
    words,
)

# --------------------------------------------------------------------------- words and stems


def test_words_keep_compounds_whole_unless_asked_to_split_them():
    assert words("Gram-negative rods, follow-up at 3 o'clock") == [
        "gram-negative",
        "rods",
        "follow-up",
        "at",
        "3",
        "o'clock",
    ]
    assert words("Gram-negative rods, follow-up", split_compounds=True) == ["gram", "negative", "rods", "follow", "up"]


def test_only_the_split_reading_takes_a_typographic_apostrophe_for_a_plain_one():
    assert words("I don’t smoke", split_compounds=True) == ["i", "don't", "smoke"]
    assert words("I don’t smoke") == ["i", "don", "t", "smoke"]


def test_full_stemming_meets_verb_forms_and_plural_stemming_does_not():
    assert stem("coughing", "full") == stem("coughs", "full") == stem("coughed", "full") == "cough"
    assert stem("stopped", "full") == "stop" and stem("swelling", "full") == "swell"
    assert stem("coughing", "plural") == "coughing" and stem("coughs", "plural") == "cough"


@pytest.mark.parametrize("strength", ["plural", "full"])
def test_both_strengths_strip_plural_endings(strength):
    assert stem("allergies", strength) == "allergy"
    assert stem("boxes", strength) == "box" and stem("glasses", strength) == "glass"
    assert stem("legs", strength) == "leg"
    assert stem("glass", strength) == "glass"


def test_the_strengths_differ_on_latin_singulars_and_possessives():
    assert stem("virus", "full") == "virus" and stem("pelvis", "full") == "pelvis"
    assert stem("virus", "plural") == "viru"
    assert stem("patient's", "full") == "patient" and stem("patient's", "plural") == "patient'"


def test_phrases_match_whole_words_and_plurals():
    text = normalise("Swelling in both legs; Gram-negative rods on culture.")
    assert text.startswith(" ") and text.endswith(" ")
    assert phrase_in("leg", text) and phrase_in("swelling in both leg", text)
    assert phrase_in("rod on culture", text)
    assert not phrase_in("negative", text)  # the compound is one word
    assert not phrase_in("eg", text)
    assert not phrase_in("", text) and not phrase_in("...", text)


# --------------------------------------------------------------------------- stop words


def test_the_three_stop_lists_share_their_function_words_and_differ_where_their_readers_do():
    for w in ("the", "and", "with", "your"):
        assert w in SALIENT_STOP_WORDS and w in SPEECH_STOP_WORDS and w in RECORD_STOP_WORDS
    assert "doctor" in SPEECH_STOP_WORDS and "i'm" in SPEECH_STOP_WORDS and "doctor" not in RECORD_STOP_WORDS
    assert "seven" in RECORD_STOP_WORDS and "seven" not in SPEECH_STOP_WORDS and "seven" not in SALIENT_STOP_WORDS
    assert "ref" in SALIENT_STOP_WORDS and "ref" not in RECORD_STOP_WORDS
    assert "what" in SPEECH_STOP_WORDS and "what" in RECORD_STOP_WORDS and "what" not in SALIENT_STOP_WORDS
    assert "no" in SPEECH_STOP_WORDS and "no" in SALIENT_STOP_WORDS and "no" not in RECORD_STOP_WORDS
    assert "down" in SALIENT_STOP_WORDS and "down" in RECORD_STOP_WORDS and "down" not in SPEECH_STOP_WORDS
    assert "patient" in CLINICAL_FILLER and "patient" not in RECORD_STOP_WORDS


# --------------------------------------------------------------------------- negation


def test_spoken_negation():
    assert negated("I haven't had a fever") and negated("No cough") and not negated("I have a cough")
    assert negated("Nope") and negated("I ain’t sure")
    assert not negated("Patient denies fever")  # a clinician's word, not a speaker's


def test_clinical_mentions_of_negation():
    assert mentions_negation("Tried ibuprofen with no relief") and mentions_negation("Patient DENIES fever")
    assert mentions_negation("Strep test negative")
    assert not mentions_negation("I don't know") and not mentions_negation("Notable cough")


def test_negative_or_normal_takes_normal_findings_as_nothing_wrong_but_not_gram_negative():
    assert negative_or_normal("CT head unremarkable") and negative_or_normal("ECG: Normal sinus rhythm")
    assert negative_or_normal("Culture negative") and negative_or_normal("I haven't vomited")
    assert not negative_or_normal("Gram-negative diplococci") and not negative_or_normal("Fever 38.5")


def test_recorded_findings_that_are_pertinent_negatives():
    assert is_negative("Denies fever") and is_negative("No chest pain") and is_negative("Smoking: Never smoked")
    assert not is_negative("Patient reports cough") and not is_negative("Nausea with one episode of vomiting")
    assert is_negative("HIV test was negative") and is_negative("Allergies: none")


def test_a_negated_verb_is_negative_but_states_no_absence():
    assert states_absence("Denies fever") and states_absence("She has no rash") and states_absence("Negative for HIV")
    assert is_negative("Has not eaten because of poor appetite")
    assert not states_absence("Has not eaten because of poor appetite")


# --------------------------------------------------------------------------- sentences


def test_sentences_split_after_stops_and_optionally_at_line_breaks():
    text = "No fever. Cough; sputum!\nWorse at night? Yes"
    assert sentences(text) == ["No fever.", "Cough;", "sputum!", "Worse at night?", "Yes"]
    assert sentences("Temp 38.5 today\nPulse 110") == ["Temp 38.5 today\nPulse 110"]
    assert sentences("Temp 38.5 today\nPulse 110", line_breaks=True) == ["Temp 38.5 today", "Pulse 110"]
    assert sentences("  ") == []


def test_claims_split_at_but_and_although_too():
    assert claims("It hurts. But not much, and it's better now!") == ["It hurts.", "not much, and it's better now!"]
    assert claims("I cough although not at night") == ["I cough", "not at night"]


def test_record_sentences_keep_decimals_and_drop_numbering_and_final_stops():
    text = "Fever of 38.5 C for two days.\n2) He smokes; no alcohol\n- Lives alone. 3 siblings."
    assert record_sentences(text) == [
        "Fever of 38.5 C for two days",
        "He smokes",
        "no alcohol",
        "Lives alone",
        "3 siblings",
    ]


# --------------------------------------------------------------------------- salient words


def test_salient_words_are_the_stemmed_content_of_a_text():
    assert salient_words("The patient has crushing chest pains and 2 episodes of vomiting") == {
        "patient",
        "crushing",
        "chest",
        "pain",
        "episode",
        "vomiting",
    }


def test_finding_keywords_are_the_distinctive_words_of_a_finding_in_order():
    assert finding_keywords("Patient reports crushing chest pain radiating to the left arm for 2 days") == [
        "crushing",
        "chest",
        "radiating",
        "arm",
    ]
    assert finding_keywords("Tenderness at McBurney's point", limit=2) == ["tenderness", "mcburney"]
