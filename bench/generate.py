"""Time the case synthesizer: `python bench/generate.py [--n 5000] [--seed 0]`."""

import argparse
import os
import time

from cases.kb import load_kb
from cases.synthesizer import consistency_problems, content_hash, generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    kb = load_kb()
    t_kb = time.perf_counter() - t0
    t1 = time.perf_counter()
    cases = generate(args.n, args.seed, kb=kb)
    t_gen = time.perf_counter() - t1
    dups = len(cases) - len({content_hash(c) for c in cases})
    bad = sum(1 for c in cases if consistency_problems(c))
    facts = sum(len(c.facts) for c in cases) / len(cases)
    rubric = sum(len(c.rubric) for c in cases) / len(cases)
    print(f"cpus: {os.cpu_count()}")
    print(f"knowledge base: {len(kb.conditions)} conditions, loaded in {t_kb:.2f} s")
    print(f"generated {len(cases)} cases in {t_gen:.2f} s ({len(cases) / t_gen:.0f} cases/s); target <= 30 s for 5000")
    print(f"duplicates: {dups}; inconsistent: {bad}; mean facts {facts:.1f}; mean rubric items {rubric:.1f}")
    print(f"distinct diagnoses: {len({c.diagnosis.name for c in cases})}; atypical: {sum(c.atypical for c in cases)}")


if __name__ == "__main__":
    main()
