"""Distilling a judged run: mistakes, clusters of near-duplicates, one QA item per cluster, replication."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from pydantic import BaseModel, ConfigDict

from arena.core.store import Store
from arena.core.types import Case, Mistake, QAItem, Transcript, Verdict
from arena.models import BuiltinRef, ChatModel, ModelError, get_model
from distill.dedup import DEFAULT_THRESHOLD, cluster_mistakes
from distill.llm_qa import llm_qa
from distill.mistakes import mistakes_for
from distill.qa import BUILTIN_GENERATOR, builtin_qa
from distill.replicate import replicate


class DistillSummary(BaseModel):
    """What a distillation produced."""

    model_config = ConfigDict(extra="forbid")

    mistakes: int
    """Mistake records before de-duplication."""
    clusters: int
    """Unique mistakes after de-duplication."""
    qa_valid: int
    """QA items that passed validation."""
    qa_rejected: int
    """QA items rejected, kept with their reason."""
    replicated: int = 0
    """Items the doctor failed again."""
    replication_tried: int = 0
    """Items put to the doctor."""


def check_generator(name: str | None) -> None:
    """Raise unless ``name`` is None, ``builtin/templates`` or a chat model name.

    Raises:
        ModelError: for unknown built-in generators and malformed names.
    """
    if name is None or name == BUILTIN_GENERATOR:
        return
    model = get_model(name)
    if isinstance(model, BuiltinRef):
        raise ModelError(f"unknown built-in generator {name!r} (known: {BUILTIN_GENERATOR})")


async def _generate(
    reps: list[Mistake],
    transcripts: dict[str, Transcript],
    cases: dict[str, Case],
    model: ChatModel | None,
) -> list[QAItem]:
    if model is None:
        return [builtin_qa(m, transcripts[m.consultation_id], cases[m.case_id]) for m in reps]
    sem = asyncio.Semaphore(16)

    async def one(m: Mistake) -> QAItem:
        async with sem:
            return await llm_qa(model, m, transcripts[m.consultation_id], cases[m.case_id])

    return list(await asyncio.gather(*(one(m) for m in reps)))


def distill_run(
    store: Store,
    run_id: str,
    *,
    generator: str | None = None,
    replicate_items: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
) -> DistillSummary:
    """Distill a judged run and store the result (replacing any earlier one).

    Args:
        store: The store.
        run_id: The run.
        generator: ``builtin/templates`` (default) or a chat model that writes the QA items.
        replicate_items: Put each valid item to the doctor that made the mistake.
        threshold: Similarity at which mistakes merge (see :mod:`distill.dedup`).

    Returns:
        Counts of what was made.
    """
    check_generator(generator)
    cases = store.cases(run_id)
    by_c: dict[str, list[Verdict]] = defaultdict(list)
    for v in store.verdicts(run_id):
        by_c[v.consultation_id].append(v)
    transcripts: dict[str, Transcript] = {}
    mistakes: list[Mistake] = []
    for tr in store.transcripts(run_id):
        if tr.id not in by_c or tr.case_id not in cases:
            continue
        found = mistakes_for(tr, cases[tr.case_id], by_c[tr.id])
        if found:
            transcripts[tr.id] = tr
            mistakes.extend(found)
    mistakes, clusters = cluster_mistakes(mistakes, cases, threshold)
    by_id = {m.id: m for m in mistakes}
    reps = [by_id[c.representative] for c in clusters]
    model = None
    if generator and generator != BUILTIN_GENERATOR:
        chat = get_model(generator)
        model = chat if isinstance(chat, ChatModel) else None
    items = asyncio.run(_generate(reps, transcripts, cases, model))
    if replicate_items:
        items = asyncio.run(replicate(items, {m.id: m.doctor for m in reps}))
    store.replace_distillation(run_id, mistakes, items, clusters)
    tried = [q for q in items if q.replicated is not None]
    return DistillSummary(
        mistakes=len(mistakes),
        clusters=len(clusters),
        qa_valid=sum(q.valid for q in items),
        qa_rejected=sum(not q.valid for q in items),
        replicated=sum(bool(q.replicated) for q in tried),
        replication_tried=len(tried),
    )
