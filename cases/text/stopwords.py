"""Stop words: words that say nothing about what a text is about.

Three readers leave out different words, and the differences are kept
because each list was tuned with its reader: :data:`SALIENT_STOP_WORDS` for
:func:`~cases.text.salient.salient_words` (what the built-in doctor and the
rubric judge compare), :data:`SPEECH_STOP_WORDS` for the question matcher
(conversation: fillers, contractions, "doctor"), :data:`RECORD_STOP_WORDS`
for the importers' fact keywords (written records: the closed word classes
and the numbers one to ten). What they share is written once here.
:data:`CLINICAL_FILLER` is the words every clinical finding may have, which
the fact keywords leave out as well.
"""

from __future__ import annotations


def _words_of(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FUNCTION_WORDS = _words_of(
    """a about after all an and any are as at be been being but by can could did do does for from had has have he
    her his i in into is it its just me more my of on or out over she should some than that the their them they
    this to up very was were will with would you your"""
)
"""Function words every list leaves out."""

_MORE_FUNCTION_WORDS = _words_of(
    """again also am both doing having here him how if nor off our so then there these those too we what which
    while who"""
)
"""Function words the speech and record lists leave out; the salient-word list keeps them."""

_VAGUE_VERBS_AND_DENIALS = _words_of("""get got might no not""")
"""Left out by the speech and salient-word lists; the record list keeps them."""

SALIENT_STOP_WORDS = _FUNCTION_WORDS | _VAGUE_VERBS_AND_DENIALS | _words_of("down may ref")
"""Words :func:`~cases.text.salient.salient_words` leaves out ("ref" is a reference range's label)."""

SPEECH_STOP_WORDS = (
    _FUNCTION_WORDS
    | _MORE_FUNCTION_WORDS
    | _VAGUE_VERBS_AND_DENIALS
    | _words_of(
        """anything doctor done dr er gets getting go going he'd he'll he's i'd i'll i'm i've it's let oh ok okay
    please really right she'd she'll she's something that's they'd they'll they're they've um us we'd we'll
    we're we've well yes you're you've yourself"""
    )
)
"""Words that say nothing about what is asked or claimed in a consultation.

A proxy speaks of the patient in the third person, so "he's" and "she'd" say
as little as "I'm" does.
"""

RECORD_STOP_WORDS = (
    _FUNCTION_WORDS
    | _MORE_FUNCTION_WORDS
    | _words_of(
        """down above against because before below between during each eight either few five four further hers herself
    himself itself most myself nine once one only other own per same seven six such ten three through two under
    until via when where whom why yours"""
    )
)
"""Closed-class words and small numbers of written records, left out of fact keywords."""

CLINICAL_FILLER = _words_of(
    """patient patients pt reports reported report reporting complains complaint complained states stated notes
    noted describes described endorses endorsed experiences experienced presents presented presenting denies
    denied deny denying history hx no not never without none nil negative positive pain painful ache aching day
    days week weeks month months year years hour hours minute minutes ago since recent recently recurrent time
    times today yesterday morning evening night now currently past previous prior new left right mild moderate
    severe slight significant episode episodes symptom symptoms sign signs feeling feels feel felt started start
    began begin starting worsening worse gradually gradual sudden suddenly associated approximately about around
    last first second several multiple shows show showed reveals reveal revealed demonstrates demonstrated
    consistent finding findings result results level levels value values normal abnormal elevated increased
    decreased reduced raised low high mildly markedly slightly within limits unremarkable present absent seen
    male female man woman old year-old lower upper examination exam test tests study studies other well also
    like unit units mmol mg dl min bpm mmhg cm mm kg lbs due age aged has had having take takes taking"""
)
"""Words every clinical finding may have ("patient", "reports", "pain", "days"): they point at no fact in particular."""
