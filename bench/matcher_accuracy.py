"""Accuracy of the matcher backends on the labelled doctor questions.

Reads `personas/data/questions.jsonl` (doctor questions in lay, clinical,
compound and negated phrasings, each labelled with the history topics it asks
about) and prints, per backend:

- top-1: the best-ranked topic is one the question asks about;
- exact: the topics the patient would answer from (`match_intents`) are exactly the labelled ones;
- stray: the share of questions where that selection includes a topic not asked about
  (a patient would disclose an unrelated fact);
- missed: the share where it lacks a labelled topic.

`questions_heldout.jsonl` was written after the lexical backend's vocabulary
(`personas/data/synonyms.json`) and constants were settled on the main set, and
never tuned against: its figures are the fairer estimate.

`keywords` is the previous keyword counter (`cases.knowledge.match_topics`), for comparison.
Run: `python bench/matcher_accuracy.py [--backends lexical,minilm] [--errors]`.
"""

import argparse
import json
import time
from collections import defaultdict
from importlib import resources

from cases.knowledge import match_topics
from personas.matching import MatcherError, get_matcher, match_intents, topic_candidates


def load(name: str) -> list[dict]:
    text = resources.files("personas").joinpath("data", name).read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def evaluate(name: str, rows: list[dict], show_errors: bool) -> None:
    if name == "keywords":

        def ranked(q: str) -> list[str]:
            return match_topics(q)

        selected = ranked
    else:
        try:
            m = get_matcher(name)
        except MatcherError as e:
            print(f"{name:10s} not available: {e}")
            return
        cands = topic_candidates()

        def ranked(q: str) -> list[str]:
            return [s.key for s in m.rank(q, cands)]

        def selected(q: str) -> list[str]:
            return match_intents(m, q)

        m.rank("warm-up", cands)
    t0 = time.perf_counter()
    by_kind: dict[str, list[tuple[bool, bool, bool, bool]]] = defaultdict(list)
    for r in rows:
        gold = set(r["topics"])
        top = ranked(r["question"])
        sel = set(selected(r["question"]))
        ok = bool(top) and top[0] in gold
        res = (ok, sel == gold, bool(sel - gold), bool(gold - sel))
        by_kind[r["kind"]].append(res)
        by_kind["all"].append(res)
        if show_errors and not (ok and sel == gold):
            print(f"   {name}: {r['question']!r} gold={sorted(gold)} top={top[:3]} selected={sorted(sel)}")
    ms = (time.perf_counter() - t0) / len(rows) * 1000
    parts = []
    for kind in ("all", "lay", "clinical", "negated", "compound"):
        res = by_kind[kind]
        if not res:
            continue
        parts.append(f"{kind} {sum(x[0] for x in res) / len(res):6.1%}")
    allr = by_kind["all"]
    n = len(allr)
    print(
        f"{name:10s} top-1: {' | '.join(parts)}\n{'':10s} exact {sum(x[1] for x in allr) / n:6.1%}"
        f" | stray {sum(x[2] for x in allr) / n:6.1%} | missed {sum(x[3] for x in allr) / n:6.1%}"
        f" | {ms:.2f} ms/question"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="keywords,lexical,minilm", help="comma-separated matcher names")
    ap.add_argument("--errors", action="store_true", help="print every question a backend gets wrong")
    args = ap.parse_args()
    for file in ("questions.jsonl", "questions_heldout.jsonl"):
        rows = load(file)
        print(f"\n{file}: {len(rows)} labelled questions, {len({t for r in rows for t in r['topics']})} topics")
        for name in args.backends.split(","):
            evaluate(name.strip(), rows, args.errors)


if __name__ == "__main__":
    main()
