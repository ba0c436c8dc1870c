"""Which history topic a patient's sentence is about, learnt from the knowledge base's phrasings.

The guard must tell a paraphrase of a fact the case holds ("walking uphill
leaves me puffed out") from a new finding that happens to share its words
("I've been really hot for days" beside an onset fact that says "days").
Nearest-phrasing similarity confuses the two too often; a classifier
trained on every lay phrasing of every topic weighs all of them at once.
The lexical backend reads word and character n-grams (so spelling slips and
word forms still count); an embedding backend reads its own sentence
vectors. Each reader is trained once per process and per held-out set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np

from arena.core.types import MatcherBackend
from personas.matching import get_matcher
from personas.matching.base import Matcher
from personas.matching.intents import phrasebook

_C = 10.0
"""Inverse regularisation strength of the logistic regression on sentence vectors (set on the dev split
of ``bench/guard.py``)."""
_SGD_ALPHA = 1e-5
"""Regularisation of the n-gram reader (dev split)."""
_SGD_EPOCHS = 50
"""Passes over the phrasebook for the n-gram reader."""
_MAX_ITER = 2000
"""Enough iterations for the solver to converge on a few thousand phrasings."""


def _classifier(sparse: bool) -> Any:
    # Imported here for start-up speed: scikit-learn takes seconds to import, and only the guard's reader needs it.
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    if sparse:
        # On tens of thousands of n-gram columns, L-BFGS peaked near half a gigabyte and 15 s of CPU;
        # stochastic gradient descent on the same loss takes a few seconds and tens of megabytes, and
        # read as well on the dev split.
        return SGDClassifier(
            loss="log_loss", alpha=_SGD_ALPHA, max_iter=_SGD_EPOCHS, random_state=0, class_weight="balanced"
        )
    return LogisticRegression(C=_C, max_iter=_MAX_ITER)


class TopicReader:
    """Probabilities over history topics for a sentence."""

    def __init__(self, matcher: Matcher, held_out: frozenset[str] = frozenset()) -> None:
        """Train the reader on the phrasebook.

        Args:
            matcher: The backend whose view of text the reader shares: word and character n-grams
                for ``lexical``, the backend's sentence vectors for an embedding backend.
            held_out: Condition ids whose phrasings are kept out of training (see
                :func:`personas.matching.intents.phrasebook`).
        """
        book = phrasebook(held_out)
        texts = [c.texts[0] for c in book]
        labels = [c.key.split("\x1f", 1)[0] for c in book]
        vectors: Callable[[Sequence[str]], Any] | None = getattr(matcher, "vectors", None)
        model: Any
        if vectors is not None:
            embed = vectors
            model = _classifier(sparse=False)
            model.fit(embed(texts), labels)
            self._proba: Callable[[list[str]], np.ndarray] = lambda xs: model.predict_proba(embed(xs))
        else:
            # Imported here for start-up speed, as in _classifier.
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.pipeline import make_pipeline, make_union

            features = make_union(
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
            )
            model = make_pipeline(features, _classifier(sparse=True))
            model.fit(texts, labels)
            # Scores are sparse n-grams times the transposed weights; stored column-major, that transpose is
            # contiguous, so SciPy multiplies by it in place instead of copying all topics' weights on every
            # read (4 ms a sentence on a phrasebook of this size).
            model[-1].coef_ = np.asfortranarray(model[-1].coef_)
            self._proba = lambda xs: model.predict_proba(xs)
        self.topics: tuple[str, ...] = tuple(str(t) for t in model.classes_)

    def read(self, sentences: Sequence[str]) -> list[dict[str, float]]:
        """For each sentence, the probability of each topic."""
        if not sentences:
            return []
        rows = self._proba(list(sentences))
        return [dict(zip(self.topics, map(float, row), strict=True)) for row in rows]


class BlendedReader:
    """Two readers' probabilities averaged: each errs on sentences the other reads well."""

    def __init__(self, first: TopicReader, second: TopicReader) -> None:
        """Blend ``first`` and ``second``, which must be trained on the same topics."""
        if first.topics != second.topics:
            raise ValueError("blended readers must read the same topics")
        self.topics = first.topics
        self._readers = (first, second)

    def read(self, sentences: Sequence[str]) -> list[dict[str, float]]:
        """For each sentence, the mean of both readers' probability of each topic."""
        a, b = (r.read(sentences) for r in self._readers)
        return [{t: (x[t] + y[t]) / 2 for t in self.topics} for x, y in zip(a, b, strict=True)]


@cache
def _trained(matcher: str, held_out: frozenset[str]) -> TopicReader:
    return TopicReader(get_matcher(matcher), held_out)


@cache
def topic_reader(matcher: str, held_out: frozenset[str] = frozenset()) -> TopicReader | BlendedReader:
    """The reader for the matcher called ``matcher`` and ``held_out``, trained on first use and kept.

    An embedding backend's reader is blended with the n-gram reader: on the dev split of
    ``bench/guard.py`` the blend put unseen conditions' phrasings on their topic first 83% of the
    time, against 80% for MiniLM alone and 80% for n-grams alone.
    """
    own = _trained(matcher, held_out)
    if matcher == MatcherBackend.LEXICAL:
        return own
    return BlendedReader(own, _trained(MatcherBackend.LEXICAL, held_out))
