"""Which findings of the knowledge base a sentence is like: a paraphrase test that needs no shared word.

Two sentences that share no word may still say one thing: "She's off her
food" and "She's hardly eating". The knowledge base holds several lay
phrasings of each finding of each condition, so it knows such pairs. A
sentence's *profile* is its likeness (word and character n-grams) to the
closest phrasing of every finding, kept for its few closest findings; two
sentences whose profiles point at the same findings say the same kind of
thing. A topic reader sees "the runs" and "runs in the family" as both
perhaps about the past; their profiles point at diarrhoea and at family
history, and do not meet.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from cases.kb import load_kb

NEAREST = 10
"""How many of a sentence's closest findings its profile keeps (set on the dev split of ``bench/guard.py``):
enough that a paraphrase and its fact meet on one, few enough that a shared stock word does not make them."""


class FindingReader:
    """Profiles of sentences over the knowledge base's findings."""

    def __init__(self, held_out: frozenset[str] = frozenset()) -> None:
        """Index the phrasings of every finding and denial of every condition.

        Args:
            held_out: Condition ids whose phrasings are left out (benchmarks hold out the phrasings they
                test with).
        """
        # Imported here for start-up speed: scikit-learn takes seconds to import, and only the guard needs it.
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts: list[str] = []
        starts: list[int] = []
        for c in load_kb().conditions:
            if c.id in held_out:
                continue
            for f in (*c.findings, *c.negatives):
                said = list(dict.fromkeys(x for x in (*f.lay, *f.lay_caregiver, f.text) if x and "{" not in x))
                if said:
                    starts.append(len(texts))
                    texts.extend(said)
        self._vectorizers: tuple[Any, ...] = (
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
        )
        for v in self._vectorizers:
            v.fit(texts)
        # Stored turned (n-grams by phrasings), so a sentence's likeness to every phrasing is one product.
        self._phrasings: Any = self._vectors(texts).T.tocsr()
        self._starts = np.array(starts)
        self.findings = len(starts)
        self._seen: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _vectors(self, texts: Sequence[str]) -> Any:
        from scipy.sparse import hstack
        from sklearn.preprocessing import normalize

        return normalize(hstack([v.transform(texts) for v in self._vectorizers]).tocsr())

    def profiles(self, sentences: Sequence[str]) -> Any:
        """Each sentence's likeness to its closest findings: a sparse matrix of unit rows over all findings."""
        from scipy.sparse import csr_matrix

        new = list(dict.fromkeys(s for s in sentences if s not in self._seen))
        if new and self.findings:
            sims = (self._vectors(new) @ self._phrasings).toarray()
            # A finding is as close as the closest of its phrasings (they are stored together, from each start).
            best = np.maximum.reduceat(sims, self._starts, axis=1)
            keep = min(NEAREST, self.findings)
            for text, row in zip(new, best, strict=True):
                top = np.sort(np.argpartition(-row, keep - 1)[:keep])
                norm = float(np.linalg.norm(row[top]))
                if len(self._seen) >= _REMEMBERED:
                    self._seen.clear()
                self._seen[text] = (top, row[top] / norm if norm > 0 else row[top])
        data: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        indptr = [0]
        for s in sentences:
            idx, val = self._seen.get(s, (np.zeros(0, int), np.zeros(0)))
            cols.append(idx)
            data.append(val)
            indptr.append(indptr[-1] + len(idx))
        return csr_matrix(
            (np.concatenate([*data, np.zeros(0)]), np.concatenate([*cols, np.zeros(0, int)]), indptr),
            shape=(len(sentences), self.findings),
        )


_REMEMBERED = 50_000
"""Profiles kept by sentence: the same facts' wordings are read for every reply of a consultation."""


@cache
def finding_reader(held_out: frozenset[str] = frozenset()) -> FindingReader:
    """The reader for ``held_out``, built on first use and kept."""
    return FindingReader(held_out)
