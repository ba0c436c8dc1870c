"""Clinical text: words, stems, phrases, stop words, negation, sentences and salient words.

Cases, patients, doctors and judges all read free text through this package,
so they agree on what a word is. Each module holds one concern:
:mod:`~cases.text.tokens` (words, stems, phrase lookup),
:mod:`~cases.text.stopwords`, :mod:`~cases.text.negation`,
:mod:`~cases.text.sentences` and :mod:`~cases.text.salient`.
"""

from cases.text.negation import (
    ABSENCE_WORDS,
    DENIAL_WORDS,
    UNSURE,
    is_negative,
    mentions_negation,
    negated,
    negative_or_normal,
    states_absence,
)
from cases.text.salient import finding_keywords, salient_words
from cases.text.sentences import RECORD_LABEL, claims, record_sentences, sentences
from cases.text.stopwords import CLINICAL_FILLER, RECORD_STOP_WORDS, SALIENT_STOP_WORDS, SPEECH_STOP_WORDS
from cases.text.tokens import StemStrength, normalise, phrase_in, stem, words

__all__ = [
    "ABSENCE_WORDS",
    "CLINICAL_FILLER",
    "DENIAL_WORDS",
    "RECORD_LABEL",
    "RECORD_STOP_WORDS",
    "SALIENT_STOP_WORDS",
    "SPEECH_STOP_WORDS",
    "UNSURE",
    "StemStrength",
    "claims",
    "finding_keywords",
    "is_negative",
    "mentions_negation",
    "negated",
    "negative_or_normal",
    "normalise",
    "phrase_in",
    "record_sentences",
    "salient_words",
    "sentences",
    "states_absence",
    "stem",
    "words",
]
