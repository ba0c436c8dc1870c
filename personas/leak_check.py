"""Output check for patient replies: no hidden diagnosis, no results the patient cannot know.

A simulated patient must never hand the doctor the answer. Whatever the
doctor says, a reply may not name the case's diagnosis (its name, a synonym
or its ICD-10 code, also when spelled out letter by letter), state an
examination or test result that has not been revealed, claim any test result
the facts do not hold, or echo the patient's prompt. The LLM patient replaces
a reply this check flags; the tests run the built-in patient through it too.

The check is lexical and built once per case, so it costs microseconds per
reply and needs no model.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from importlib.abc import Traversable
from typing import Any, Literal

from arena.core.types import Case, Diagnosis, Fact
from cases.knowledge import topics
from cases.text import normalise, phrase_in, sentences, words

LeakKind = Literal["diagnosis", "icd10", "result", "prompt"]

_SPELLED = re.compile(r"(?<![A-Za-z0-9'\u2019])(?:[A-Za-z0-9][ .\-_*·]+){2,}[A-Za-z0-9](?![A-Za-z0-9])")
_NUMBER = re.compile(r"(?<![A-Za-z0-9.^])\d+(?:\.\d+)?(?![A-Za-z0-9])")
_REF_RANGE = re.compile(r"\((?:ref|normal)[^)]*\)", re.IGNORECASE)
_FACT_ID = re.compile(r"\[(?:cc|[a-z_]+\.[a-z0-9_]+)\]")
_PROMPT_LINES = (
    "role-playing a patient",
    "everything you know about your health is in this list",
    "each line is one fact",
)
_RESULT_WORDS = (
    "normal",
    "abnormal",
    "positive",
    "negative",
    "high",
    "low",
    "raised",
    "elevated",
    "showed",
    "show",
    "came back",
    "result",
    "level",
    "reading",
    "count",
    "measured",
    "fine",
    "okay",
    "clear",
    "changes",
    "sign",
    "seen",
    "found",
    "growth",
    "abnormality",
    "rhythm",
)
# Test keywords that are everyday words too: alone they do not say a test was done.
_AMBIGUOUS_TESTS = frozenset(
    {"sugar", "iron", "echo", "smear", "cultures", "stool", "pt", "ph", "scan", "mri", "swabs"}
)
_READINGS = ("blood pressure", "heart rate", "pulse", "oxygen", "saturation", "sats", "temperature", "blood sugar")
"""Measurements a patient cannot read off themselves; with a number they are a result."""
_MIN_DISTINCT = 2
"""Distinctive words of one hidden finding that together give it away."""
_LONG_WORD = 9
"""A distinctive word this long (``tachycardia``, ``mediastinum``) gives a finding away alone."""


@dataclass(frozen=True)
class Leak:
    """One thing a reply said that the patient must not say."""

    kind: LeakKind
    """Diagnosis name, ICD-10 code, an examination or test result, or the prompt."""
    found: str
    """What gave it away, e.g. the name or the result's words."""

    @property
    def claim(self) -> str:
        """The leak as a guard event's claim, e.g. ``diagnosis: NSTEMI``."""
        return f"{self.kind}: {self.found}"


def _walk_lay(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k.startswith("lay") and isinstance(v, (str, list)):
                for s in [v] if isinstance(v, str) else v:
                    if isinstance(s, str):
                        out.update(words(s.replace("-", " ")))
            else:
                _walk_lay(v, out)
    elif isinstance(node, list):
        for v in node:
            _walk_lay(v, out)


def _json_files(folder: Traversable) -> Iterable[Traversable]:
    return (f for f in folder.iterdir() if f.name.endswith(".json"))


@cache
def lay_vocabulary() -> frozenset[str]:
    """Every word some patient uses in the knowledge base's lay phrasings.

    A finding's word that no patient ever says (``mediastinum``, ``intimal``)
    is distinctive of the finding; a word patients use (``chest``, ``clear``)
    is not.
    """
    out: set[str] = set()
    cases_pkg = resources.files("cases")
    for f in [*_json_files(cases_pkg.joinpath("kb")), *_json_files(cases_pkg.joinpath("data"))]:
        _walk_lay(json.loads(f.read_text("utf-8")), out)
    return frozenset(normalise(w).strip() for w in out)


def _flat(text: str) -> str:
    # Hyphens and slashes separate words for this check: "non-ST-elevation" == "non ST elevation".
    return normalise(re.sub(r"[-_/]", " ", text))


def _unspelled(text: str) -> list[str]:
    """``text`` with letter-by-letter spellings joined: ``N.S.T.E.M.I`` -> ``NSTEMI``.

    A spelled run may start or end with a real one-letter word ("it's a S T E M I",
    "I 2 1 . 4 I think"), so the run is also joined without its first or last letter.
    """
    sep = re.compile(r"[ .\-_*·]+")

    def join(m: re.Match[str], keep_first: bool, keep_last: bool) -> str:
        parts = sep.split(m.group(0).strip(" .-_*·"))
        head = [parts.pop(0) + " "] if keep_first and len(parts) > 2 else []
        tail = [" " + parts.pop()] if keep_last and len(parts) > 2 else []
        return "".join(head) + "".join(parts) + "".join(tail)

    out: list[str] = []
    for first, last in ((False, False), (True, False), (False, True)):
        out.append(_SPELLED.sub(functools.partial(join, keep_first=first, keep_last=last), text))
    return out


@functools.cache
def _icd_pattern(code: str) -> re.Pattern[str] | None:
    m = re.fullmatch(r"\s*([A-Za-z])(\d{2})(?:\.?([0-9A-Za-z]+))?\s*", code)
    if not m:
        return None
    letter, cat, sub = m.groups()
    tail = rf"(?:\s?[.,]?\s?{sub})?" if sub else ""
    return re.compile(rf"(?<![A-Za-z0-9]){letter}{cat}{tail}(?![0-9])", re.IGNORECASE)


@dataclass(frozen=True)
class _Number:
    value: str
    context: tuple[str, ...]


def names_diagnosis(text: str, diagnosis: Diagnosis, permitted: str = "") -> Leak | None:
    """Return the leak if ``text`` names ``diagnosis`` (a name, a synonym or the ICD-10 code), else None.

    Args:
        text: What the simulator is about to say.
        diagnosis: The case's hidden diagnosis.
        permitted: Words the text may repeat (facts it is allowed to state): a name inside them
            is the patient's own history, such as a past episode of the same illness.
    """
    names = tuple(n for n in dict.fromkeys([diagnosis.name, *diagnosis.synonyms]) if n.strip())
    return _names_diagnosis(text, names, diagnosis.icd10, permitted)


@functools.lru_cache(maxsize=1 << 15)
def _names_diagnosis(text: str, names: tuple[str, ...], icd10: str, permitted: str) -> Leak | None:
    # The simulator says the same lines to thousands of patients with the same few diagnoses.
    forms = [text, *_unspelled(text)]
    norms = [_flat(t) for t in forms]
    permitted_norm = _flat(permitted)
    for name in names:
        key = re.sub(r"[-_/]", " ", name)
        if any(phrase_in(key, n) for n in norms) and not phrase_in(key, permitted_norm):
            return Leak("diagnosis", name)
    icd = _icd_pattern(icd10) if icd10 else None
    if icd is not None:
        for t in forms:
            m = icd.search(t)
            if m:
                return Leak("icd10", m.group(0))
    return None


@lru_cache(maxsize=1)
def _test_names() -> dict[str, list[tuple[str, str, frozenset[str]]]]:
    """Every test and examination topic of the knowledge base with the names that say it was done.

    Each name comes as (name, name with hyphens as spaces, the words a sentence needs to hold
    it), so a sentence lacking any of them skips the phrase search: the check runs over every
    one of these names for every sentence of every reply. Made once; the same for every case.
    """
    lay = lay_vocabulary()
    out: dict[str, list[tuple[str, str, frozenset[str]]]] = {}
    for t in topics().values():
        if t.kind == "history":
            continue
        names = [k for k in (*t.keywords, t.topic.replace("_", " ")) if k not in _AMBIGUOUS_TESTS]
        if t.kind == "exam":
            names = [k for k in names if not set(_flat(k).split()) & lay]
        spaced = [(k, k.replace("-", " ")) for k in names]
        out[t.topic] = [(k, sp, frozenset(normalise(sp).split())) for k, sp in spaced]
    return out


class LeakCheck:
    """Finds what a reply about one case must not say."""

    def __init__(self, case: Case) -> None:
        """Prepare the names, code and hidden findings of ``case``.

        Args:
            case: The case whose secrets the check guards.
        """
        self.case = case
        history = [f for f in case.facts if f.disclosure in ("volunteered", "on_ask")]
        told = " ".join(f"{f.text} {f.lay}" for f in history) + f" {case.chief_complaint}"
        self._history_norm = _flat(told)
        history_words = set(self._history_norm.split())
        history_numbers = set(_NUMBER.findall(told)) | {str(case.demographics.age)}
        self._history_numbers = history_numbers
        self._hidden = [f for f in case.facts if f.disclosure in ("exam", "test")]
        lay = lay_vocabulary()
        self._distinct: dict[str, frozenset[str]] = {}
        self._numbers: dict[str, list[_Number]] = {}
        for f in self._hidden:
            self._distinct[f.id] = frozenset(
                w
                for w in _flat(f.text).split()
                if len(w) >= 4 and w.isalpha() and w not in lay and w not in history_words
            )
            self._numbers[f.id] = self._fact_numbers(f, history_numbers)
        # Every test and examination the knowledge base knows, by the words that name
        # it: for tests all but everyday words, for examinations only clinical words no
        # patient uses (a body part alone does not say an examination was done); minus
        # the words this patient's own history uses (a test they know they had).
        # Only the names this history uses are kept per case: the full list is shared by every case.
        self._known_names = frozenset(
            c[0]
            for candidates in _test_names().values()
            for c in candidates
            if c[2] <= history_words and phrase_in(c[1], self._history_norm)
        )

    def _names(self, topic: str) -> list[str]:
        """The names of a test or examination topic that this patient's history does not use."""
        return [c[0] for c in _test_names().get(topic, ()) if c[0] not in self._known_names]

    @staticmethod
    def _fact_numbers(f: Fact, history_numbers: set[str]) -> list[_Number]:
        text = _REF_RANGE.sub(" ", f.text)
        out: list[_Number] = []
        for m in _NUMBER.finditer(text):
            value = m.group(0)
            if len(value.replace(".", "")) < 2 or value in history_numbers:
                continue
            before = words(text[: m.start()])[-1:]
            after = words(text[m.end() :])[:1]
            out.append(_Number(value, tuple(before + after)))
        return out

    def find(self, text: str, allowed: Iterable[str] = ()) -> Leak | None:
        """Return the first leak in ``text``, or None when it is clean.

        Args:
            text: A patient reply.
            allowed: Fact ids this reply may state (the facts the question asked
                about, and any examination or test result already revealed). A
                diagnosis name inside an allowed fact's own words, such as a past
                episode of the same illness, is the patient's history, not a leak.

        Returns:
            The first leak found, checking the diagnosis, its code, results and
            prompt echoes in that order.
        """
        ok = set(allowed)
        permitted = " ".join(f"{f.text} {f.lay}" for f in self.case.facts if f.id in ok)
        named = names_diagnosis(text, self.case.diagnosis, permitted)
        if named is not None:
            return named
        leak = self._result_leak(text, ok)
        if leak:
            return leak
        low = text.lower()
        m = _FACT_ID.search(low)
        if m:
            return Leak("prompt", m.group(0))
        for line in _PROMPT_LINES:
            if line in low:
                return Leak("prompt", line)
        return None

    def _result_leak(self, text: str, ok: set[str]) -> Leak | None:
        pieces = sentences(text, line_breaks=True)
        snorms = [_flat(s) for s in pieces]
        # Each sentence's numbers, found once: most replies have none, and every hidden number is looked for.
        found = [_NUMBER.findall(s) for s in pieces]
        said_numbers = {n for ns in found for n in ns}
        reply_words = set(_flat(text).split())
        for f in self._hidden:
            if f.id in ok:
                continue
            hits = self._distinct[f.id] & reply_words
            if len(hits) >= _MIN_DISTINCT or any(len(w) >= _LONG_WORD for w in hits):
                return Leak("result", f"{f.topic}: {', '.join(sorted(hits))}")
            for num in self._numbers[f.id]:
                if num.value not in said_numbers:
                    continue
                context = (*num.context, *self._names(f.topic), *_RESULT_WORDS)
                for ns, sn in zip(found, snorms, strict=True):
                    if num.value in ns and any(phrase_in(c, sn) for c in context):
                        return Leak("result", f"{f.topic}: {num.value}")
        for ns, sn in zip(found, snorms, strict=True):
            numbers = [n for n in ns if len(n.replace(".", "")) >= 2]
            if any(n not in self._history_numbers for n in numbers):
                for r in _READINGS:
                    if phrase_in(r, sn):
                        return Leak("result", f"reading: {r}")
        # A test or examination the patient names with an outcome: a hidden result or an invented one.
        told = {f.topic for f in self._hidden if f.id in ok}
        for sn in snorms:
            outcome = bool(_NUMBER.search(sn)) or any(phrase_in(w, sn) for w in _RESULT_WORDS)
            said = set(sn.split())
            # Without an outcome, only a test whose hidden result shares words with the sentence counts.
            near = None if outcome else {f.topic for f in self._hidden if self._distinct[f.id] & said}
            if near is not None and not near:
                continue
            for topic, names in _test_names().items():
                if topic in told or (near is not None and topic not in near):
                    continue
                for k, spaced, needs in names:
                    if needs <= said and k not in self._known_names and phrase_in(spaced, sn):
                        return Leak("result", f"{topic}: {k}")
        return None
