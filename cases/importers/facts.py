"""Free text to atomic facts, shared by every importer.

Source datasets describe a patient in sentences ("The patient reports fever,
cough and night sweats. Denies chest pain."); the arena needs one
:class:`~arena.core.types.Fact` per finding, each with a topic the built-in
patient can match a question to, keywords for questions no topic covers, a
negation flag and, where it is simple to make, the patient's own wording.
Everything here is rule-based and deterministic.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from typing import Literal

from arena.core.types import Demographics, Disclosure, Fact, FactCategory, Speaker
from cases.knowledge import TopicKind, match_topics, topics
from cases.text import (
    RECORD_LABEL,
    RECORD_STOP_WORDS,
    finding_keywords,
    is_negative,
    normalise,
    phrase_in,
    record_sentences,
    words,
)

HistoryCat = Literal["hpi", "pmh", "medications", "allergies", "social", "family", "ros"]

# --------------------------------------------------------------------------- vocabulary


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PATH_GENERIC = _wordset(
    """examination examinations exam exams findings finding test tests testing results result studies study
    other additional further the of and or a an in on for with serum plasma level levels panel profile values
    value"""
)

# A lead phrase that a list of findings shares: "Denies fever, chills and weight loss".
_LEAD = re.compile(
    r"^(?P<lead>(?:(?:the\s+)?(?:patient|pt\.?|he|she|they)\s+)?(?:also\s+)?"
    r"(?:reports|reported|endorses|endorsed|complains\s+of|complained\s+of|notes|noted|describes|described|"
    r"experiences|experienced|presents\s+with|presented\s+with|denies|denied|has\s+had|had|has|"
    r"positive\s+for|negative\s+for|associated\s+with|no|nor)"
    r"(?:\s+any)?)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
# Result sentences whose items stand alone: "Laboratory studies show: Hb 10 g/dL, WBC 15,000/mm3".
_SHOWS = re.compile(
    r"^(?P<lead>.{0,80}?\b(?:shows?|showed|reveals?|revealed|demonstrates?|demonstrated|include|includes)\b:?)"
    r"\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
_MAX_ITEM_WORDS = 6

# --------------------------------------------------------------------------- splitting


def _split_top(text: str) -> list[str]:
    """Split at ", " outside parentheses and brackets."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0 and text[i + 1 : i + 2] == " ":
            parts.append(text[start:i])
            start = i + 2
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _list_items(rest: str) -> list[str] | None:
    """Split "A, B and C" into items, or None when it is not a short list."""
    norm = re.sub(r",?\s+(?:and|or|nor)\s+(?![^()]*\))", ", ", rest)
    items = _split_top(norm)
    if len(items) < 2:
        return None
    if any(len(i.split()) > _MAX_ITEM_WORDS for i in items):
        return None
    return items


def split_atomic(text: str) -> list[str]:
    """Split free text into atomic findings.

    Each sentence is one finding, except that a short list of findings is split
    into one finding per item, keeping a shared lead phrase: "Denies fever,
    chills or night sweats" gives "Denies fever", "Denies chills" and "Denies
    night sweats"; "Laboratory studies show Hb 10 g/dL, WBC 15,000/mm3" gives
    the two results. A list that does not look like findings (long items, or a
    sentence without a lead phrase and with verbs) is left whole.

    Args:
        text: Free text.

    Returns:
        The findings, in order.
    """
    out: list[str] = []
    for s in record_sentences(text):
        out.extend(_split_sentence(s))
    return out


def _split_sentence(s: str) -> list[str]:
    m = _SHOWS.match(s)
    if m:
        items = _list_items(m.group("rest"))
        if items:
            return [_cap(i) for i in items]
    m = _LEAD.match(s)
    if m:
        rest = m.group("rest")
        # "feeling low and irritable" stays whole; "fever, cough and night sweats" and
        # "no chest pain or shortness of breath" are split.
        items = _list_items(rest) if "," in rest or is_negative(m.group("lead")) else None
        if items:
            lead = m.group("lead")
            if lead.lower() == "nor":
                lead = "No"
            return [f"{lead} {i}" for i in items]
        return [s]
    # A bare list of symptoms: "Fever, cough and night sweats".
    if "," in s:
        items = _list_items(s)
        if items and all(len(i.split()) <= 4 for i in items):
            return [_cap(i) for i in items]
    return [s]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


# --------------------------------------------------------------------------- fact attributes


def acronym(label: str) -> str:
    """Initials of a name of three or more words ("C Reactive Protein" -> "crp"), else ""."""
    ws = words(label.replace("_", " ").replace("-", " "))
    ws = [w for w in ws if w not in RECORD_STOP_WORDS or len(w) == 1]
    short = "".join(w[0] for w in ws) if len(ws) >= 2 and not any(w.isdigit() for w in ws) else ""
    return short if len(short) >= 3 else ""


def path_keywords(path: Sequence[str]) -> list[str]:
    """Keywords from the key path of a nested finding.

    Args:
        path: Keys from the outermost to the leaf, e.g. ``["Abdominal_Examination", "Palpation"]``.

    Returns:
        Their words without generic container words, e.g. ``["abdominal", "palpation"]``.
    """
    out: list[str] = []
    for key in path:
        for w in words(key.replace("_", " ")):
            if w in _PATH_GENERIC or w in RECORD_STOP_WORDS or w in out or len(w) < 2 or w.isdigit():
                continue
            out.append(w)
    if path:
        short = acronym(path[-1])
        if len(short) >= 3 and short not in out:
            out.append(short)
    return out


_CATEGORY_TOPIC: dict[str, str] = {
    "pmh": "pmh",
    "medications": "medications",
    "allergies": "allergies",
    "family": "family_history",
}
_SOCIAL_TOPICS = (
    "smoking",
    "alcohol",
    "social",
    "travel",
    "sexual_history",
    "contacts",
    "immobility",
    "vaccinations",
    "sleep",
    "feeding",
)


# Clinical terms the topic vocabulary (written for lay questions) does not list.
_TERM_TOPICS: dict[str, tuple[str, ...]] = {
    "history": (
        "urinary:dysuria,hematuria,haematuria,urination,micturition,nocturia,incontinence",
        "thirst:polyuria,polydipsia",
        "bowel:melena,melaena,hematochezia,haematochezia,tenesmus,bowel movement",
        "nausea:emesis,hematemesis,haematemesis",
        "cough:hemoptysis,haemoptysis",
        "breathlessness:orthopnea,orthopnoea,wheeze,wheezing",
        "appetite_weight:fatigue,tired,tiredness,anorexia,weight loss,lethargy",
        "neuro:tremor,shake,shaky,dysarthria,slurred,clumsy,clumsiness,handwriting,diplopia,double vision,ataxia,"
        "paresthesia",
        "fever:pyrexia,febrile,night sweats",
        "joints:arthralgia,myalgia",
        "mood:irritable,irritability,anxiety,depression,mood",
    ),
    "exam": (
        "neuro_exam:nuchal,tremor,dysarthria,gait,ataxia,tone,sensation,babinski,brudzinski,romberg,speech",
        "eye_exam:kayser-fleischer,cornea,corneal,slit-lamp,slit lamp,sclera,scleral,icterus,ophthalmologic",
        "abdominal_exam:liver edge,hepatomegaly,splenomegaly,ascites,mcburney,rovsing,psoas,obturator,murphy,"
        "bowel sounds,guarding,rebound",
        "respiratory_exam:crackles,rales,wheeze,wheezes,rhonchi,percussion,chest",
        "cardiovascular_exam:jugular venous,jvp,heart,capillary refill,peripheral pulses",
        "general:mucous membranes,dehydrated,drowsy,alert,distress,breath odor,fruity",
        "skin_exam:petechiae,petechial,purpura,jaundice,pallor,cyanosis",
    ),
    "test": (
        "fbc:leukocyte,leucocyte,wbc,white blood cell,platelet,platelets,neutrophils,hematocrit,cbc",
        "lft:ast,ggt,albumin,transaminase,liver enzymes",
        "electrolytes:bicarbonate,chloride,bun,anion gap",
        "blood_gas:arterial blood gas,venous blood gas,bicarbonate",
        "lumbar_puncture:cerebrospinal,csf",
        "glucose:capillary glucose,fingerstick",
        "ct_head:ct brain,ct of the head",
        "urinalysis:urine,urinary",
    ),
}
_TERMS: dict[str, list[tuple[str, str]]] = {
    kind: [(term.strip(), entry.split(":", 1)[0]) for entry in table for term in entry.split(":", 1)[1].split(",")]
    for kind, table in _TERM_TOPICS.items()
}


def _term_topic(kind: str, text: str) -> str | None:
    """The topic of the longest clinical term from :data:`_TERM_TOPICS` that ``text`` names."""
    norm = normalise(text)
    hits = [(len(term), topic) for term, topic in _TERMS[kind] if phrase_in(term, norm)]
    return max(hits)[1] if hits else None


def ranked_topics(text: str, kind: TopicKind) -> list[tuple[str, list[str]]]:
    """Topics of one kind that ``text`` names, with the keywords that matched, best first.

    The topics are those of :func:`~cases.knowledge.match_topics`; among
    topics with as many matching keywords, the one named earliest in the text
    comes first ("The pain is constant and worse on coughing" is about timing).
    """
    norm = normalise(text)
    vocab = topics()
    out: list[tuple[int, int, str, list[str]]] = []
    for name in match_topics(text, (kind,)):
        t = vocab[name]
        hits: list[str] = []
        seen: set[str] = set()
        for kw in (*t.keywords, name.replace("_", " ")):
            if normalise(kw) not in seen and phrase_in(kw, norm):
                seen.add(normalise(kw))
                hits.append(kw)
        first = min(norm.find(normalise(kw)) for kw in hits) if hits else len(norm)
        out.append((-len(hits), first, name, hits))
    out.sort()
    return [(name, hits) for _, _, name, hits in out]


def history_topic(text: str, category: str) -> str:
    """Choose the history topic a question must be about to elicit a finding.

    Past history, medications, allergies and family history always take their
    category's topic, since that is how a doctor asks for them; social history
    takes the best matching social topic (``smoking``, ``alcohol``, ...) or
    ``social``; presenting complaint and review of systems take the best
    matching topic, or ``character`` when none matches.

    Args:
        text: The finding.
        category: Its fact category.

    Returns:
        A history topic name from ``data/topics.json``.
    """
    if category in _CATEGORY_TOPIC:
        return _CATEGORY_TOPIC[category]
    found = [name for name, _ in ranked_topics(text, "history")]
    if category == "social":
        return next((t for t in found if t in _SOCIAL_TOPICS), "social")
    # A symptom is asked about by its own topic, not by the history headings.
    found = [t for t in found if t not in ("pmh", "medications", "allergies", "family_history")] or found
    return found[0] if found else (_term_topic("history", text) or "character")


def finding_topic(kind: Literal["exam", "test"], label: str, text: str = "") -> str:
    """Choose the exam or test topic of a finding.

    Args:
        kind: ``exam`` or ``test``.
        label: The name the source gives it (a key path or a test name).
        text: The finding itself, tried when the label matches nothing.

    Returns:
        The best matching topic, or ``other_exam`` / ``other_test``.
    """
    short = acronym(label.split(">")[-1]) if label else ""
    for source in (label, short):
        if source:
            found = match_topics(source, (kind,))
            if found:
                return found[0]
    by_term = _term_topic(kind, label) if label else None
    if by_term:
        return by_term
    if text:
        found = match_topics(text, (kind,))
        if found:
            return found[0]
        by_term = _term_topic(kind, text)
        if by_term:
            return by_term
    return "other_exam" if kind == "exam" else "other_test"


# --------------------------------------------------------------------------- categories of free text

_TEST_RE = re.compile(
    r"\b(?:laborator\w*|labs?|serum|plasma|urinalysis|urine\s+(?:studies|culture|toxicology|dipstick)|"
    r"blood\s+(?:tests?|count|cultures?|smear|film|gas)|x-?rays?|radiograph\w*|ct\b|computed\s+tomograph\w*|"
    r"mri\b|magnetic\s+resonance|ultrasound\w*|ultrasonograph\w*|sonograph\w*|echocardiogra\w*|"
    r"ecg|ekg|electrocardiogra\w*|biopsy|smear|culture|titers?|antibod\w*|hemoglobin|haemoglobin|hematocrit|"
    r"leukocyte|leucocyte|platelet|wbc|creatinine|bilirubin|troponin|d-dimer|lumbar\s+puncture|"
    r"cerebrospinal|csf|arterial\s+blood|angiogra\w*|endoscop\w*|colonoscop\w*|spirometry|scan|"
    r"(?:pregnancy|urine|blood|stool|swab|rapid|strep|covid|flu)\s+tests?|tests?\s+(?:is|was|are|were|shows?|showed))\b|"
    r"(?:mg/dl|mmol/l|g/dl|/mm3|/mm\^3|u/l|iu/l|meq/l|ng/ml|pg/ml|μmol/l|umol/l)",
    re.IGNORECASE,
)
_EXAM_RE = re.compile(
    r"\b(?:physical\s+exam\w*|on\s+exam\w*|exam\w*\s+(?:shows?|showed|reveals?|revealed|is|was)|"
    r"vital\s+signs|temperature\s+(?:is|was|of)|pulse\s+(?:is|was|of|rate)|blood\s+pressure\s+(?:is|was|of)|"
    r"respirations?\s+(?:are|is|was|were|of)|respiratory\s+rate|oxygen\s+saturation|auscultation|palpation|"
    r"percussion|tenderness|guarding|rebound|murmur|crackles|rales|wheez\w+\s+(?:on|throughout|are|is)|"
    r"bmi|mm\s*hg|funduscop\w*|fundoscop\w*|otoscop\w*|reflexes|"
    r"appears\s+(?:ill|unwell|pale|distressed|well|lethargic|jaundiced|diaphoretic)|is\s+(?:alert|oriented))\b",
    re.IGNORECASE,
)
_FAMILY_RE = re.compile(
    r"\b(?:family\s+history|runs\s+in\s+(?:the|his|her|my)\s+family|mother|father|sister|brother|parents?|grand(?:mother|father|parents?)|siblings?|aunt|uncle|"
    r"cousin|maternal|paternal)\b",
    re.IGNORECASE,
)
_ALLERGY_RE = re.compile(r"\ballerg\w*", re.IGNORECASE)
_SOCIAL_RE = re.compile(
    r"\b(?:smokes|smoked|smoking|smoker|cigarettes?|pack-years?|packs?|tobacco|vapes?|alcohol|alcoholic|drinks|"
    r"beers?|wine|units|smoke|drink|works?\s+as|worked\s+as|occupation|employed|unemployed|retired|student|lives\s+with|"
    r"lives\s+alone|lives\s+in|lives\s+on|married|divorced|sexually\s+active|sexual\s+partners?|illicit|intravenous\s+drug|cocaine|"
    r"heroin|marijuana|cannabis|recreational|travel\w*|returned\s+from)\b",
    re.IGNORECASE,
)
_MEDS_RE = re.compile(
    r"\b(?:takes|taking|took|medications?|medicines?|prescribed|daily|twice|inhalers?|tablets?|pills|"
    r"contraceptives?|supplements?|over-the-counter|dose)\b|\b\d+\s*(?:mg|mcg|units)\b",
    re.IGNORECASE,
)
_PMH_RE = re.compile(
    r"\b(?:past\s+medical|medical\s+history|history\s+of|diagnosed\s+with|underwent|surgery|"
    r"undergone|replacement|operation|appendectomy|cholecystectomy|hysterectomy|hypertension|hyperlipidemia|diabetes\s+mellitus|"
    r"type\s+[12]\s+diabetes|asthma|copd|previous(?:ly)?|prior|childhood)\b",
    re.IGNORECASE,
)
_DURATION_HISTORY = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|several|few|many)[- ](?:hour|day|week|month|year)s?[- ]history\s+of\b",
    re.IGNORECASE,
)


def history_category(text: str, default: HistoryCat = "hpi") -> HistoryCat:
    """Guess where a sentence belongs in a clinical history.

    Args:
        text: One finding the patient can tell.
        default: The category when no cue is found.

    Returns:
        ``family``, ``allergies``, ``social``, ``medications``, ``pmh`` or ``default``.
    """
    if _FAMILY_RE.search(text):
        return "family"
    if _ALLERGY_RE.search(text):
        return "allergies"
    if _SOCIAL_RE.search(text):
        return "social"
    if _MEDS_RE.search(text):
        return "medications"
    if _PMH_RE.search(text) and not _DURATION_HISTORY.search(text):
        return "pmh"
    return default


def finding_kind(text: str) -> Literal["exam", "test"] | None:
    """Whether a sentence of a vignette reports an exam sign or a test result.

    Args:
        text: One sentence of a clinical vignette.

    Returns:
        ``exam``, ``test``, or None for history the patient can tell.
    """
    if re.match(r"^(?:on\s+)?(?:physical\s+)?exam", text.strip(), re.IGNORECASE):
        return "exam"
    if _TEST_RE.search(text):
        return "test"
    if _EXAM_RE.search(text):
        return "exam"
    return None


def classify(text: str, default: HistoryCat = "hpi") -> tuple[FactCategory, Disclosure]:
    """Decide whether a sentence of a vignette is history, an exam sign or a test result.

    Args:
        text: One sentence of a clinical vignette.
        default: The history category when the sentence is history with no cue.

    Returns:
        The fact category and how the fact is disclosed.
    """
    kind = finding_kind(text)
    if kind is not None:
        return kind, kind
    return history_category(text, default), "on_ask"


# --------------------------------------------------------------------------- lay wording

_SUBJ = r"(?:the\s+)?(?:patient|pt\.?|he|she|they)"
_WHO = re.compile(
    rf"^{_SUBJ}\s+is\s+an?\s+[^,]*?\bwho\s+(?:reports|presents\s+with|complains\s+of|describes|has|endorses)\s+"
    r"(?P<x>.+)$",
    re.IGNORECASE,
)
_DENY = re.compile(rf"^(?:{_SUBJ}\s+)?(?:denies|denied)\s+(?:any\s+|having\s+)?(?P<x>.+)$", re.IGNORECASE)
_NO = re.compile(r"^no\s+(?P<x>[a-z].+)$", re.IGNORECASE)
_REPORT = re.compile(
    rf"^(?:{_SUBJ}\s+)?(?:also\s+)?(?:reports|reported|endorses|endorsed|complains\s+of|complained\s+of|"
    r"notes|noted|describes|described|experiences|experienced|presents\s+with|presented\s+with)\s+"
    r"(?P<that>that\s+)?(?P<x>.+)$",
    re.IGNORECASE,
)
_SUBJECT_VERB = re.compile(rf"^{_SUBJ}\s+(?P<verb>[a-z']+)\b(?P<x>.*)$", re.IGNORECASE)

# Third person -> (first person, third person kept for a caregiver).
_VERBS = {
    "is": "am",
    "was": "was",
    "has": "have",
    "had": "had",
    "takes": "take",
    "took": "took",
    "drinks": "drink",
    "drank": "drank",
    "smokes": "smoke",
    "smoked": "smoked",
    "works": "work",
    "worked": "worked",
    "lives": "live",
    "lived": "lived",
    "uses": "use",
    "used": "used",
    "does": "do",
    "did": "did",
    "feels": "feel",
    "felt": "felt",
    "says": "say",
    "states": "say",
    "notices": "notice",
    "noticed": "noticed",
    "recalls": "recall",
    "went": "went",
    "travelled": "travelled",
    "traveled": "traveled",
    "returned": "returned",
    "started": "started",
    "stopped": "stopped",
    "quit": "quit",
    "cannot": "cannot",
    "can't": "can't",
    "can": "can",
    "eats": "eat",
    "ate": "ate",
    "sleeps": "sleep",
    "exercises": "exercise",
    "vomited": "vomited",
    "fainted": "fainted",
}


def _possessives(x: str, speaker: Speaker, sex: str) -> str:
    if speaker == "self":
        x = re.sub(r"\b(?:his|her|their)\b", "my", x)
        x = re.sub(r"\bthe patient's\b", "my", x, flags=re.IGNORECASE)
        return re.sub(r"\b(?:himself|herself|themselves)\b", "myself", x)
    own = "his" if sex == "male" else "her"
    return re.sub(r"\bthe patient's\b", own, x, flags=re.IGNORECASE)


def _clause(x: str, speaker: Speaker, sex: str) -> str | None:
    """Turn a reported clause ("her mother had a stroke") into the speaker's words, if simple."""
    m = re.match(r"^(?:he|she|they)\s+(?P<rest>.+)$", x, re.IGNORECASE)
    if m:
        return _subject_sentence(m.group("rest"), speaker, sex)
    if re.match(r"^(?:his|her|their|the patient's)\b", x, re.IGNORECASE):
        return _cap(_possessives(x, speaker, sex))
    return None


def _subject_sentence(rest: str, speaker: Speaker, sex: str) -> str | None:
    m = re.match(r"^(?P<verb>[a-z']+)\b(?P<x>.*)$", rest, re.IGNORECASE)
    if not m or m.group("verb").lower() not in _VERBS:
        return None
    verb = m.group("verb").lower()
    x = _possessives(m.group("x"), speaker, sex)
    if speaker == "self":
        # The patient stays the subject: "... and has been passing urine" -> "... and have been ...".
        x = re.sub(r"\b(and|but|or)\s+(?:he\s+|she\s+)?has\b", r"\1 have", x)
        x = re.sub(r"\b(and|but|or)\s+(?:he\s+|she\s+)?is\b", r"\1 am", x)
        return f"I {_VERBS[verb]}{x}"
    pron = "He" if sex == "male" else "She"
    return f"{pron} {verb}{x}"


_PREPOSITIONS = _wordset("of in on at around over under behind from to about")


def _gerund(x: str) -> bool:
    """Whether ``x`` starts with a verb in -ing ("feeling tired"), not a noun ("swelling of the calf")."""
    ws = x.split()
    if not ws or not ws[0].lower().endswith("ing") or len(ws[0]) < 5:
        return False
    return not (len(ws) > 1 and ws[1].lower() in _PREPOSITIONS)


def to_lay(text: str, speaker: Speaker = "self", sex: str = "female") -> str:
    """Turn a clinical finding into the speaker's words where that is simple.

    "Patient reports chest pain" becomes "I have chest pain", "Denies fever"
    becomes "I haven't had any fever", "She smokes 10 cigarettes a day" becomes
    "I smoke 10 cigarettes a day". A caregiver speaks of the child in the third
    person ("He has chest pain"). Anything else is returned unchanged.

    Args:
        text: One atomic finding in clinical words.
        speaker: ``self`` for the patient, ``caregiver`` for a parent.
        sex: The patient's sex, for a caregiver's pronoun.

    Returns:
        The lay wording, or ``text`` itself.
    """
    t = text.strip().rstrip(".")
    label = RECORD_LABEL.match(t)
    if label:
        inner = t[label.end() :]
        inner_said = to_lay(inner, speaker, sex)
        return inner_said if inner_said != inner.strip() else text.strip()
    said = _to_lay(t, speaker, sex)
    return text.strip() if said is None else said


def _to_lay(t: str, speaker: Speaker, sex: str) -> str | None:
    pron = "He" if sex == "male" else "She"
    have = "I have" if speaker == "self" else f"{pron} has"
    been = "I've been" if speaker == "self" else f"{pron}'s been"
    dont = "I don't have" if speaker == "self" else f"{pron} doesn't have"
    not_had = "I haven't had any" if speaker == "self" else f"{pron} hasn't had any"
    not_been = "I haven't been" if speaker == "self" else f"{pron} hasn't been"
    m = _WHO.match(t)
    if m:
        return f"{have} {_possessives(m.group('x'), speaker, sex)}"
    m = _NO.match(t)
    if m:
        x = _possessives(m.group("x"), speaker, sex)
        return f"{dont} {x}" if x.lower().startswith(("known ", "significant ", "history ")) else f"{not_had} {x}"
    m = _DENY.match(t)
    if m:
        x = _possessives(m.group("x"), speaker, sex)
        if _gerund(x):
            return f"{not_been} {x}"
        return f"{dont} {x}" if x.lower().startswith(("known ", "significant ", "history ")) else f"{not_had} {x}"
    m = _REPORT.match(t)
    if m:
        x = m.group("x")
        said = _clause(x, speaker, sex)
        if said:
            return said
        x = _possessives(x, speaker, sex)
        if m.group("that"):
            return _cap(x)
        return f"{been} {x}" if _gerund(x) else f"{have} {x}"
    m = _SUBJECT_VERB.match(t)
    if m:
        said = _subject_sentence(t[m.start("verb") :], speaker, sex)
        if said:
            return said
    return None


def complaint_words(text: str, speaker: Speaker = "self", sex: str = "female") -> str:
    """Turn a symptom ("Double vision") into an opening line ("I have double vision.").

    Args:
        text: The presenting symptom in clinical words.
        speaker: ``self`` or ``caregiver``.
        sex: The patient's sex, for a caregiver's pronoun.

    Returns:
        What the patient (or caregiver) says first, ending with a full stop.
    """
    t = text.strip().rstrip(".")
    lay = to_lay(t, speaker, sex)
    if lay == t and not re.match(r"^(?:i|my|we|our|he|she|his|her)\b", t, re.IGNORECASE):
        x = t if t[1:2].isupper() else t[:1].lower() + t[1:]  # keep acronyms ("RUQ pain")
        pron = "He" if sex == "male" else "She"
        if _gerund(x) and " and " not in x:
            lay = f"I've been {x}" if speaker == "self" else f"{pron}'s been {x}"
        else:
            lay = f"I have {x}" if speaker == "self" else f"{pron} has {x}"
    return lay if lay.endswith((".", "!", "?")) else lay + "."


# --------------------------------------------------------------------------- demographics

_AGE = re.compile(
    r"\b(?P<n>\d{1,3})(?:[- ]?(?:(?P<y>years?|yrs?)|(?P<m>months?|mos?)|(?P<w>weeks?|wks?)|(?P<d>days?))[- ]old"
    r"|\s*(?P<yo>y/o|yo|y\.o\.)|(?P<ms>[MF])\b)",
)
_AGE_WORDS = re.compile(r"\b(?:aged?|age:?)\s+(?P<n>\d{1,3})\b|\b(?P<n2>\d{1,3})\s+years?\s+of\s+age\b", re.IGNORECASE)
_MALE = re.compile(r"\b(?:male|man|boy|gentleman|son|he|his|him)\b", re.IGNORECASE)
_FEMALE = re.compile(
    r"\b(?:female|woman|girl|lady|daughter|she|her|pregnant|primigravid\w*|gravida|multigravid\w*|postpartum)\b",
    re.IGNORECASE,
)
_MALE_NOUN = re.compile(r"\b(?:male|man|boy|gentleman)\b|\b\d{1,3}\s*(?:y/?o\s*|y\s*)?M\b|\bsex:?\s*m\b", re.IGNORECASE)
_FEMALE_NOUN = re.compile(
    r"\b(?:female|woman|girl|lady|pregnant|primigravid\w*|gravida)\b|\b\d{1,3}\s*(?:y/?o\s*|y\s*)?F\b|\bsex:?\s*f\b",
    re.IGNORECASE,
)


_AGE_STAGES: list[tuple[re.Pattern[str], int]] = [
    (
        re.compile(
            r"\b(?:new-?borns?|neonat\w*|preterm|premature\s+(?:infant|baby)|weeks?'?\s+(?:of\s+)?gestation)", re.I
        ),
        0,
    ),
    (re.compile(r"\b(?:infants?|baby|babies)\b", re.I), 0),
    (re.compile(r"\btoddlers?\b", re.I), 2),
    (re.compile(r"\b(?:adolescents?|teen(?:ager)?s?)\b", re.I), 15),
    (re.compile(r"\b(?:college|university)\s+students?\b", re.I), 20),
    (re.compile(r"\bchild(?:ren)?\b", re.I), 7),
    (re.compile(r"\byoung\s+(?:adult|man|woman|men|women)\b", re.I), 25),
    (re.compile(r"\bmiddle[- ]aged\b", re.I), 50),
    (re.compile(r"\b(?:elderly|older|aged)\s+(?:man|woman|men|women|patient|gentleman|lady|male|female)\b", re.I), 75),
]
"""Stages of life named without an age, in the order they are tried, with the age each stands for."""


def parse_age(text: str, stages: bool = True) -> int | None:
    """Return the age in whole years stated in ``text`` ("45-year-old", "6-month-old"), or None.

    Args:
        text: The text.
        stages: Also read a stage of life without a number ("newborn",
            "elderly man") as the typical age of that stage.
    """
    for m in _AGE.finditer(text):
        n = int(m.group("n"))
        if m.group("m"):
            return n // 12
        if m.group("w") or m.group("d"):
            return 0
        if n <= 120:
            return n
    w = _AGE_WORDS.search(text)
    if w:
        n = int(w.group("n") or w.group("n2"))
        if n <= 120:
            return n
    # No number: a word for a stage of life stands for a typical age of that stage.
    for pattern, age in _AGE_STAGES if stages else ():
        if pattern.search(text):
            return age
    return None


def parse_sex(text: str) -> Literal["female", "male"] | None:
    """Return the sex stated in ``text``: nouns ("woman", "boy") first, then pronouns; None if unclear."""
    for male, female in ((_MALE_NOUN, _FEMALE_NOUN), (_MALE, _FEMALE)):
        m_at = male.search(text)
        f_at = female.search(text)
        if m_at and f_at:
            return "male" if m_at.start() < f_at.start() else "female"
        if m_at:
            return "male"
        if f_at:
            return "female"
    return None


def parse_demographics(text: str, *fallbacks: str, choose_sex: bool = False) -> Demographics | None:
    """Read age and sex from free text such as "45-year-old male".

    Args:
        text: Where age and sex should be stated.
        fallbacks: More texts, looked in in order for whatever ``text`` lacks.
            Only a number counts as an age there: the rest of a record may
            name a baby or a child who is not the patient.
        choose_sex: When no text states the sex, choose one from ``text``'s
            checksum (the same record always gets the same one) instead of
            giving up: a newborn's record often says only "newborn".

    Returns:
        The demographics, or None when the age (or, without ``choose_sex``,
        the sex) cannot be found.
    """
    age = parse_age(text)
    sex = parse_sex(text)
    for more in filter(None, fallbacks):
        age = parse_age(more, stages=False) if age is None else age
        sex = parse_sex(more) if sex is None else sex
    if sex is None and choose_sex:
        sex = ("female", "male")[zlib.crc32(text.encode()) % 2]
    if age is None or sex is None:
        return None
    return Demographics(age=age, sex=sex)


_PRESENTS = re.compile(
    r"\b(?:presents?|presented|presenting|comes?|came|is\s+brought|was\s+brought|is\s+seen|was\s+seen|"
    r"visits?|is\s+referred|was\s+referred|is\s+admitted|was\s+admitted)\b.*?"
    r"\b(?:because\s+of|with|complaining\s+of|for\s+evaluation\s+of|for\s+an?\s+evaluation\s+of|"
    r"for\s+assessment\s+of|due\s+to)\s+(?P<x>.+)$",
    re.IGNORECASE,
)


def complaint_from_vignette(sentence: str, speaker: Speaker = "self", sex: str = "female") -> str:
    """Turn a vignette's opening sentence into what the patient would open with.

    "A 45-year-old man comes to the emergency department because of chest pain
    for 2 hours" becomes "I've had chest pain for 2 hours."; a sentence of
    another shape becomes its lay wording (see :func:`to_lay`).

    Args:
        sentence: The first sentence of a vignette.
        speaker: ``self`` or ``caregiver``.
        sex: The patient's sex, for a caregiver's pronoun.

    Returns:
        The chief complaint, ending with a full stop.
    """
    s = sentence.strip().rstrip(".")
    m = _PRESENTS.search(s)
    if m:
        x = _possessives(m.group("x"), speaker, sex)
        x = re.sub(
            r"^(?:an?\s+)?(\d+|one|two|three|several|few)[- ](hour|day|week|month|year)s?[- ]history\s+of\s+",
            r"\1 \2s of ",
            x,
            flags=re.IGNORECASE,
        )
        x = re.sub(r"^1 (hour|day|week|month|year)s of ", r"a \1 of ", x)
        lead = "I've had" if speaker == "self" else ("He's had" if sex == "male" else "She's had")
        return f"{lead} {x}."
    lay = to_lay(s, speaker, sex)
    return lay if lay.endswith((".", "!", "?")) else lay + "."


# --------------------------------------------------------------------------- building facts


# Topic keywords too common in questions to point at one fact.
_WEAK_TOPIC_WORDS = frozenset(
    """when where how long exactly point site see rate move rest home work anyone describe feel like scale hot
    low fit hit bed sick eating drinking start started begin began ease helps position which side
    interest living live with"""
)


def _with_topic_words(keywords: list[str], text: str, topic: str) -> list[str]:
    """Add the words by which ``text`` names history topics other than its own.

    "The pain is constant and worse on walking" has topic ``timing``; adding
    "worse" lets a question about triggers find it too.
    """
    out = list(keywords)
    for name, hits in ranked_topics(text, "history"):
        if name != topic:
            out.extend(h for h in hits if h not in out and h not in _WEAK_TOPIC_WORDS)
    return out


class FactBuilder:
    """Collects a case's facts with unique ids.

    History facts get ids ``<category>.<n>``, the volunteered fact ``cc``,
    exam and test findings ``exam.<slug>`` / ``test.<slug>`` from their key
    path or ``exam.<n>`` / ``test.<n>`` from free text.
    """

    def __init__(self, speaker: Speaker = "self", sex: str = "female") -> None:
        """Start an empty list of facts for a patient of this sex, told by this speaker."""
        self.speaker: Speaker = speaker
        self.sex = sex
        self.facts: list[Fact] = []
        self._ids: set[str] = set()
        self._counts: dict[str, int] = {}

    def _id(self, stem: str, slug: str = "") -> str:
        if slug:
            base = f"{stem}.{slug}"
            fid, k = base, 2
            while fid in self._ids:
                fid, k = f"{base}_{k}", k + 1
        else:
            n = self._counts.get(stem, 0) + 1
            fid = f"{stem}.{n}"
            while fid in self._ids:
                n += 1
                fid = f"{stem}.{n}"
            self._counts[stem] = n
        self._ids.add(fid)
        return fid

    def _lay(self, text: str) -> str:
        lay = to_lay(text, self.speaker, self.sex)
        return "" if lay == text.strip() else lay

    def volunteered(self, text: str, lay: str = "", topic: str = "") -> Fact:
        """Add the one fact the patient opens with.

        Args:
            text: The finding in clinical words.
            lay: The patient's wording; derived from ``text`` when empty.
            topic: History topic; matched from ``text`` when empty.

        Returns:
            The new fact (id ``cc``).
        """
        text = text.strip().rstrip(".")
        fact = Fact(
            id=self._id("cc") if "cc" in self._ids else "cc",
            category="hpi",
            disclosure="volunteered",
            text=text,
            lay="" if lay.strip().rstrip(".") == text else lay,
            topic=topic or history_topic(text, "hpi"),
            keywords=finding_keywords(text),
            negative=False,
        )
        self._ids.add(fact.id)
        self.facts.append(fact)
        return fact

    def history(self, text: str, category: HistoryCat, split: bool = True, lay: bool = True) -> list[Fact]:
        """Add history findings the patient tells when asked.

        Args:
            text: Free text; split into atomic findings unless ``split`` is False.
            category: The history category of all of them.
            split: Whether to split the text into atomic findings.
            lay: Whether to derive lay wording (False for text already in the patient's words).

        Returns:
            The new facts.
        """
        out = []
        for item in split_atomic(text) if split else [text.strip()]:
            if not item:
                continue
            topic = history_topic(item, category)
            fact = Fact(
                id=self._id(category),
                category=category,
                disclosure="on_ask",
                text=item,
                lay=self._lay(item) if lay else "",
                topic=topic,
                keywords=_with_topic_words(finding_keywords(item), item, topic),
                negative=is_negative(item),
            )
            self.facts.append(fact)
            out.append(fact)
        return out

    def finding(self, kind: Literal["exam", "test"], path: Sequence[str], value: str) -> Fact:
        """Add an exam sign or test result found under a key path.

        Args:
            kind: ``exam`` or ``test``.
            path: Keys from the outermost to the leaf, e.g. ``["Blood_Tests", "Serum_Ceruloplasmin"]``.
            value: The finding at the leaf.

        Returns:
            The new fact; its keywords are the path's words, so a request naming
            the test ("ceruloplasmin") finds it.
        """
        labels = [p.replace("_", " ").strip() for p in path if p.strip()]
        label = " > ".join(labels)
        value = value.strip()
        text = f"{label}: {value}" if label else value
        slug = "_".join(w for w in words(" ".join(labels)) if w not in RECORD_STOP_WORDS)[:60].strip("_")
        fact = Fact(
            id=self._id(kind, slug or kind),
            category=kind,
            disclosure=kind,
            text=text,
            topic=finding_topic(kind, " ".join(labels), value),
            keywords=path_keywords(path) or finding_keywords(value),
            negative=is_negative(value),
        )
        self.facts.append(fact)
        return fact

    def free_finding(self, kind: Literal["exam", "test"], text: str) -> Fact:
        """Add an exam sign or test result stated in a sentence.

        Args:
            kind: ``exam`` or ``test``.
            text: The sentence.

        Returns:
            The new fact, with keywords from its salient words.
        """
        text = text.strip()
        fact = Fact(
            id=self._id(kind),
            category=kind,
            disclosure=kind,
            text=text,
            topic=finding_topic(kind, text),
            keywords=finding_keywords(text),
            negative=is_negative(text),
        )
        self.facts.append(fact)
        return fact

    def vignette(
        self, sentences: Iterable[str], default: HistoryCat = "hpi", findings: bool = True, lay: bool = True
    ) -> list[Fact]:
        """Add the sentences of a vignette, each split and sorted into history, exam or test.

        Args:
            sentences: Free-text sentences (each may hold several findings).
            default: History category for sentences with no cue.
            findings: Whether exam and test sentences become exam/test facts;
                when False everything is history the patient can tell.
            lay: Whether to derive lay wording (False for text already in the speaker's words).

        Returns:
            The new facts.
        """
        out: list[Fact] = []
        for sentence in sentences:
            for s in record_sentences(sentence):
                kind = finding_kind(s) if findings else None
                items = _split_sentence(s)
                if kind is not None:
                    out.extend(self.free_finding(kind, item) for item in items)
                    continue
                cat = history_category(s, default)
                for item in items:
                    out.extend(self.history(item, history_category(item, cat), split=False, lay=lay))
        return out
