"""The hallucination guard: every claim in an LLM patient's reply must rest on the case's facts.

A reply is split into sentence-sized claims. A claim that says nothing
clinical ("I'm not sure, doctor") passes. A clinical claim passes when the
matcher finds a history fact that backs it; a denial passes unless it denies
a fact, since a patient may deny what the record does not mention. An
optional LLM verifier gets the last word on claims the matcher could not
back. The LLM patient feeds rejected claims back and asks again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from arena.models import ChatModel
from arena.templating import render
from arena.types import Case, Fact, Usage
from personas.matching import DEFAULT_MATCHER, clinical_corpus, fact_candidates, get_matcher
from personas.matching.text import negated, sentences, unigrams

MIN_CLAIM_WEIGHT = 2.0
"""Summed rarity (idf) of its clinical words at which a sentence counts as a claim worth checking."""


VOICE_WORDS = frozenset(
    {"worried", "worry", "scared", "afraid", "frightened", "concerned", "nervous", "sure", "dear", "think", "know"}
    | {"honestly", "suppose", "guess", "sorry", "thank", "thanks", "ask", "hope", "hoping", "mean", "remember", "tell"}
)
"""How a patient talks about the consultation, not findings; persona voices use them freely."""


@dataclass(frozen=True)
class ClaimCheck:
    """The guard's finding on one claim."""

    claim: str
    """The sentence checked."""
    supported: bool
    """Whether the facts back it."""
    reason: str = ""
    """Why not: ``unsupported`` or ``contradicts <fact id>``."""
    fact_id: str = ""
    """The closest fact, if any."""
    fact_text: str = ""
    """That fact's wording, for the feedback."""
    score: float = 0.0
    """The matcher's support score."""


@cache
def _claim_weights() -> dict[str, float]:
    import math
    from collections import Counter

    docs = [set(unigrams(t)) - VOICE_WORDS for t in clinical_corpus()]
    df = Counter(w for d in docs for w in d)
    return {w: math.log(1 + len(docs) / c) for w, c in df.items()}


def clinical_weight(sentence: str) -> float:
    """How much clinical content a sentence carries: the summed rarity of its clinical words."""
    weights = _claim_weights()
    return sum(weights.get(w, 0.0) for w in set(unigrams(sentence)) - VOICE_WORDS)


_NORMAL = frozenset({"normal", "fine", "healthy", "okay", "ok", "regular", "usual", "nothing"})
"""Words that deny a finding without a negation ("my bowels are normal")."""


def _denies(text: str) -> bool:
    return negated(text) or bool(_NORMAL & set(text.lower().replace(".", " ").replace(",", " ").split()))


class Guard:
    """Checks patient replies against one case's history facts."""

    def __init__(self, case: Case, matcher: str = DEFAULT_MATCHER, verifier: ChatModel | None = None) -> None:
        """Prepare the facts a reply may rest on.

        Args:
            case: The case whose volunteered and on-ask facts bound every reply.
            matcher: The matcher backend that scores support.
            verifier: A chat model asked about claims the matcher cannot back; None trusts the matcher.
        """
        self.matcher = get_matcher(matcher)
        self.verifier = verifier
        self.facts: list[Fact] = [f for f in case.facts if f.disclosure in ("volunteered", "on_ask")]
        self._by_id = {f.id: f for f in self.facts}
        self._candidates = fact_candidates(self.facts)
        self.usage = Usage()

    def claims(self, reply: str) -> list[str]:
        """The sentences of ``reply`` that say something clinical."""
        return [s for s in sentences(reply) if clinical_weight(s) >= MIN_CLAIM_WEIGHT]

    def check_claim(self, claim: str) -> ClaimCheck:
        """Decide one claim with the matcher alone."""
        got = self.matcher.support(claim, self._candidates)
        fact = self._by_id.get(got.key) if got else None
        backed = got is not None and got.score >= self.matcher.support_min and fact is not None
        claim_denies = _denies(claim)
        if backed and fact is not None and got is not None:
            wordings = [w for w in (fact.lay, fact.text) if w]
            # Only a polarity no wording of the fact shares is a contradiction:
            # "No significant history" is also said as "I've always been healthy".
            if any(_denies(w) == claim_denies for w in wordings):
                return ClaimCheck(claim, True, fact_id=fact.id, score=got.score)
            return ClaimCheck(claim, False, f"contradicts {fact.id}", fact.id, fact.lay or fact.text, got.score)
        if claim_denies:
            return ClaimCheck(claim, True, score=got.score if got else 0.0)
        return ClaimCheck(claim, False, "unsupported", score=got.score if got else 0.0)

    def check(self, reply: str) -> list[ClaimCheck]:
        """Check every claim of ``reply`` with the matcher (synchronous; no verifier)."""
        return [self.check_claim(c) for c in self.claims(reply)]

    async def acheck(self, reply: str) -> list[ClaimCheck]:
        """Check every claim of ``reply``; the verifier, if any, reviews the ones the matcher rejects."""
        claims = self.claims(reply)
        prefetch = getattr(self.matcher, "prefetch", None)
        if prefetch is not None:
            await prefetch([*claims, *(t for c in self._candidates for t in c.texts)])
        out = [self.check_claim(c) for c in claims]
        if self.verifier is None:
            return out
        reviewed = []
        for c in out:
            if not c.supported and await self._verified(c.claim):
                c = ClaimCheck(c.claim, True, "verifier", c.fact_id, c.fact_text, c.score)
            reviewed.append(c)
        return reviewed

    async def _verified(self, claim: str) -> bool:
        assert self.verifier is not None
        prompt = render("personas", "guard_verify.j2", facts=self.facts, claim=claim)
        out = await self.verifier.complete([{"role": "user", "content": prompt}])
        self.usage.add(out.usage)
        text = out.text.strip()
        start, end = text.find("{"), text.rfind("}")
        try:
            verdict = json.loads(text[start : end + 1]) if start >= 0 else {}
        except json.JSONDecodeError:
            verdict = {}
        # An unreadable verdict keeps the matcher's rejection: the safe side is regenerating.
        return isinstance(verdict, dict) and verdict.get("supported") is True
