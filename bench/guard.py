"""Recall and false-positive rate of the hallucination guard, per matcher backend.

Replies are built from generated cases as a patient would give them: for
each history fact, the fact said in *another* of the knowledge base's lay
phrasings of the same finding where one exists (a paraphrase, so exact
wording cannot carry the check), else in the case's own words. At a known
rate a fabricated finding is appended: the lay wording of a finding of
another condition, on a topic the case's facts do not cover. A reply counts
as flagged when the guard rejects any of its claims.

Run: `python bench/guard.py [--n 150 --seed 21 --rate 0.3 --backends lexical,minilm]`.
Targets: recall >= 95%, false positives <= 5%.
"""

import argparse
import random
import time

from cases.kb import load_kb
from cases.synthesizer import generate
from personas.guard import Guard
from personas.matching import MatcherError


def build(n: int, seed: int, rate: float) -> list[tuple[object, str, bool, bool]]:
    """Return (case, reply, injected, paraphrased) tuples."""
    kb = load_kb()
    rng = random.Random(seed)
    pool = [(c.id, f) for c in kb.conditions for f in c.findings]
    out = []
    for case in generate(n, seed):
        cond = kb.by_id[case.id.rsplit("-", 1)[0]]
        covered = {f.topic for f in case.facts}
        for fact in case.facts:
            if fact.disclosure != "on_ask":
                continue
            group, _, fid = fact.id.partition(".")
            finds = cond.negatives if group == "neg" else cond.findings
            kb_f = next((f for f in finds if f.id == fid), None)
            others = [x for x in (kb_f.lay if kb_f else []) if x != fact.lay and "{" not in x]
            reply = rng.choice(others) if others else fact.lay
            injected = rng.random() < rate
            if injected:
                _, fab = rng.choice([(c, f) for c, f in pool if c != cond.id and f.topic not in covered])
                reply = f"{reply} {rng.choice(fab.lay)}"
            out.append((case, reply, injected, bool(others)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--backends", default="lexical,minilm")
    args = ap.parse_args()
    rows = build(args.n, args.seed, args.rate)
    inj = sum(r[2] for r in rows)
    para = sum(r[3] for r in rows)
    print(f"{len(rows)} replies from {args.n} cases; {inj} with a fabricated finding; {para} paraphrase a fact")
    for name in args.backends.split(","):
        guards: dict[str, Guard] = {}
        try:
            t0 = time.perf_counter()
            tp = fp = 0
            for case, reply, injected, _ in rows:
                g = guards.get(case.id) or guards.setdefault(case.id, Guard(case, matcher=name.strip()))
                flagged = any(not c.supported for c in g.check(reply))
                tp += flagged and injected
                fp += flagged and not injected
            ms = (time.perf_counter() - t0) / len(rows) * 1000
        except MatcherError as e:
            print(f"{name:8s} not available: {e}")
            continue
        clean = len(rows) - inj
        print(
            f"{name:8s} recall {tp / inj:6.1%} ({tp}/{inj})   false positives {fp / clean:6.1%} ({fp}/{clean})"
            f"   {ms:.2f} ms/reply"
        )


if __name__ == "__main__":
    main()
