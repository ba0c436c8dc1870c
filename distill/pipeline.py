"""Distilling a judged run: mistakes from failed committee verdicts, then QA items."""

from __future__ import annotations

from collections import defaultdict

from arena.store import Store
from arena.types import Mistake, QAItem, Verdict
from distill.mistakes import mistakes_for
from distill.qa import qa_for
from judges.committee import COMMITTEE


def distill_run(store: Store, run_id: str) -> tuple[list[Mistake], list[QAItem]]:
    """Distill a judged run and store the result (replacing any earlier one).

    Args:
        store: The store.
        run_id: The run.

    Returns:
        The mistakes and QA items written.
    """
    cases = store.cases(run_id)
    by_c: dict[str, list[Verdict]] = defaultdict(list)
    for v in store.verdicts(run_id):
        if v.judge == COMMITTEE:
            by_c[v.consultation_id].append(v)
    mistakes: list[Mistake] = []
    items: list[QAItem] = []
    for tr in store.transcripts(run_id):
        if tr.id not in by_c or tr.case_id not in cases:
            continue
        case = cases[tr.case_id]
        for m in mistakes_for(tr, case, by_c[tr.id]):
            mistakes.append(m)
            items.append(qa_for(m, tr, case))
    store.replace_distillation(run_id, mistakes, items)
    return mistakes, items
