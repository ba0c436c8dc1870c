"""Accuracy of the built-in rubric judge against ground truth.

The checklist doctor records every step it took (`performed`); with
diligence < 1 it skips steps at random, so its omissions are known exactly.
Ground truth for an `elicit` item: the doctor asked about the topic of one of
the item's facts; for an `order` item: it requested the exam or test (harmful
omissions invert). The judge instead reads the transcript. Run:
`python bench/judge_accuracy.py [--n 500] [--diligence 0.7]`.
"""

import argparse
import asyncio
import time
from collections import Counter

from arena.doctors import ChecklistDoctor
from arena.engine import run_consultation
from cases.synthesizer import generate
from judges.builtin_rubric import BuiltinRubricJudge
from personas.builtin_patient import BuiltinPatient
from personas.catalog import get_persona
from personas.measurement import CaseMeasurement


async def main(n: int, diligence: float, seed: int) -> None:
    judge = BuiltinRubricJudge()
    agree = Counter()
    total = Counter()
    confusion = Counter()
    t0 = time.perf_counter()
    for i, case in enumerate(generate(n, seed)):
        doc = ChecklistDoctor("builtin/checklist", seed=i, diligence=diligence)
        tr = await run_consultation(
            case,
            doc,
            BuiltinPatient(case, get_persona("plain")),
            CaseMeasurement(case),
            consultation_id=f"c{i}",
            run_id="bench",
            max_turns=20,
        )
        asked = {t for k, t in doc.performed if k == "ask"}
        examined = {t for k, t in doc.performed if k in ("exam", "test")}
        for item in case.rubric:
            if item.check is None or item.check.kind not in ("elicit", "order"):
                continue
            topics = {case.fact(f).topic for f in item.check.targets}
            happened = bool(topics & (asked if item.check.kind == "elicit" else examined))
            truth = happened if item.check.met_when == "present" else not happened
            said = judge.judge_item(tr, case, item).outcome == "met"
            kind = item.check.kind + (" (harm)" if item.points < 0 else "")
            total[kind] += 1
            agree[kind] += said == truth
            confusion[(kind, truth, said)] += 1
    dt = time.perf_counter() - t0
    print(f"{n} consultations, checklist doctor diligence {diligence}, {dt:.1f} s")
    all_agree, all_total = sum(agree.values()), sum(total.values())
    print(
        f"built-in judge accuracy vs ground truth: {all_agree / all_total:.4f} over {all_total} items (target >= 0.95)"
    )
    for kind in sorted(total):
        fp = confusion[(kind, False, True)]
        fn = confusion[(kind, True, False)]
        print(
            f"  {kind:<14} {agree[kind] / total[kind]:.4f} of {total[kind]}  (judge met/truth not: {fp}, "
            f"judge not/truth met: {fn})"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--diligence", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    asyncio.run(main(args.n, args.diligence, args.seed))
