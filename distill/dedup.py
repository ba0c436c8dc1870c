"""Merging near-duplicate mistakes into clusters, keeping counts and every source."""

from __future__ import annotations

from collections.abc import Sequence

from arena.core.types import DEFAULT_THRESHOLD, RISK_ORDER, Case, Mistake, MistakeCluster, base_case_id
from cases.text import salient_words
from distill.mistakes import stable_id


def signature(m: Mistake, case: Case | None) -> frozenset[str]:
    """The words that say what a mistake is: its title, the rubric item and the case's diagnosis."""
    words = salient_words(m.title) | salient_words(m.item_id.replace(".", " ").replace("_", " "))
    if case is not None:
        words |= {f"dx:{w}" for w in salient_words(case.diagnosis.name)}
    return frozenset(words)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Size of the intersection over size of the union (1.0 for two empty sets)."""
    return len(a & b) / len(a | b) if a or b else 1.0


def cluster_mistakes(
    mistakes: Sequence[Mistake], cases: dict[str, Case], threshold: float = DEFAULT_THRESHOLD
) -> tuple[list[Mistake], list[MistakeCluster]]:
    """Cluster near-duplicate mistakes greedily.

    Mistakes are visited in a stable order; each joins the first cluster of
    its category whose representative's signature is at least ``threshold``
    similar, or starts a new one. Repeats of one case (``id#k``) count as the
    same case.

    Args:
        mistakes: Mistake records.
        cases: Cases by id (for diagnoses).
        threshold: Similarity needed to merge, in [0, 1]; 1.0 merges only identical signatures.

    Returns:
        The mistakes with ``cluster_id`` set, and the clusters (largest first).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be within [0, 1], got {threshold}")
    reps: dict[str, list[tuple[frozenset[str], list[Mistake]]]] = {}
    # A signature seen before joins the cluster it joined then: clusters are
    # only ever appended, so the first match cannot change. Most mistakes
    # repeat a signature (same item, same diagnosis), which spares comparing
    # them with every cluster again.
    joined: dict[tuple[str, frozenset[str]], int] = {}
    for m in sorted(mistakes, key=lambda x: (x.category, x.item_id, x.consultation_id, x.id)):
        sig = signature(m, cases.get(m.case_id) or cases.get(base_case_id(m.case_id)))
        groups = reps.setdefault(m.category, [])
        known = joined.get((m.category, sig))
        if known is not None:
            groups[known][1].append(m)
            continue
        for i, (rep_sig, members) in enumerate(groups):
            if jaccard(sig, rep_sig) >= threshold:
                members.append(m)
                joined[(m.category, sig)] = i
                break
        else:
            joined[(m.category, sig)] = len(groups)
            groups.append((sig, [m]))
    clusters: list[MistakeCluster] = []
    out: list[Mistake] = []
    for groups in reps.values():
        for _, members in groups:
            rep = members[0]
            cid = stable_id(rep.run_id, "cluster", rep.id)
            clusters.append(
                MistakeCluster(
                    id=cid,
                    run_id=rep.run_id,
                    representative=rep.id,
                    title=rep.title,
                    category=rep.category,
                    risk=max((m.risk for m in members), key=RISK_ORDER.__getitem__),
                    count=len(members),
                    members=[m.id for m in members],
                    consultations=sorted({m.consultation_id for m in members}),
                    doctors=sorted({m.doctor for m in members}),
                )
            )
            out.extend(m.model_copy(update={"cluster_id": cid}) for m in members)
    clusters.sort(key=lambda c: (-c.count, c.id))
    return out, clusters
