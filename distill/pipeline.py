"""Distilling a judged run: mistakes, clusters of near-duplicates, one QA item per cluster, replication."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from functools import partial

from pydantic import BaseModel, ConfigDict

from arena.core.store import Store
from arena.core.types import DEFAULT_THRESHOLD, Case, Mistake, QAItem, Transcript, Verdict
from arena.models import closing
from arena.models.registry import Provider, Role, chat_model, resolve
from distill.dedup import cluster_mistakes
from distill.llm_qa import llm_qa
from distill.mistakes import mistakes_for, simulator_caused
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
    simulator_skipped: int = 0
    """Failed items left out because the simulated patient or gatekeeper caused them."""


QAWriter = Callable[[Mistake, Transcript, Case], Awaitable[QAItem]]
"""Writes the QA item for one mistake, given its consultation and case."""


async def _template_qa(mistake: Mistake, tr: Transcript, case: Case) -> QAItem:
    return builtin_qa(mistake, tr, case)


def _exact_builtin(name: str) -> bool:
    # Only the bare name: the templates take no parameters.
    return name == BUILTIN_GENERATOR


TEMPLATE_GENERATOR = Provider(
    Role.GENERATOR, "templates", lambda name, **_: _template_qa, builtin=True, claims=_exact_builtin
)
"""``builtin/templates`` (the default): QA items from templates, no model."""
CHAT_GENERATOR = Provider(
    Role.GENERATOR,
    "chat",
    lambda name, **_: partial(llm_qa, chat_model(name)),
    fallback=True,
    check=chat_model,
    uses_litellm=True,
)
"""Any chat model writes the QA items."""


def check_generator(name: str | None) -> None:
    """Raise unless ``name`` is None, ``builtin/templates`` or a chat model name.

    Raises:
        ModelError: for unknown built-in generators and malformed names.
    """
    resolve(Role.GENERATOR, name or BUILTIN_GENERATOR)


async def _generate(
    reps: list[Mistake],
    transcripts: dict[str, Transcript],
    cases: dict[str, Case],
    write: QAWriter,
) -> list[QAItem]:
    sem = asyncio.Semaphore(16)

    async def one(m: Mistake) -> QAItem:
        async with sem:
            return await write(m, transcripts[m.consultation_id], cases[m.case_id])

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
        Counts of what was made, and of the failures left out because the
        simulator caused them (they make no mistake and no QA item).
    """
    write: QAWriter = resolve(Role.GENERATOR, generator or BUILTIN_GENERATOR).build()
    cases = store.cases(run_id)
    by_c: dict[str, list[Verdict]] = defaultdict(list)
    for v in store.verdicts(run_id):
        by_c[v.consultation_id].append(v)
    transcripts: dict[str, Transcript] = {}
    mistakes: list[Mistake] = []
    skipped = 0
    for tr in store.transcripts(run_id):
        if tr.id not in by_c or tr.case_id not in cases:
            continue
        skipped += simulator_caused(by_c[tr.id])
        found = mistakes_for(tr, cases[tr.case_id], by_c[tr.id])
        if found:
            transcripts[tr.id] = tr
            mistakes.extend(found)
    mistakes, clusters = cluster_mistakes(mistakes, cases, threshold)
    by_id = {m.id: m for m in mistakes}
    reps = [by_id[c.representative] for c in clusters]
    items = asyncio.run(closing(_generate(reps, transcripts, cases, write)))
    if replicate_items:
        items = asyncio.run(closing(replicate(items, {m.id: m.doctor for m in reps})))
    store.replace_distillation(run_id, mistakes, items, clusters)
    tried = [q for q in items if q.replicated is not None]
    return DistillSummary(
        mistakes=len(mistakes),
        clusters=len(clusters),
        qa_valid=sum(q.valid for q in items),
        qa_rejected=sum(not q.valid for q in items),
        replicated=sum(bool(q.replicated) for q in tried),
        replication_tried=len(tried),
        simulator_skipped=skipped,
    )
