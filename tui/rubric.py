"""A consultation's rubric verdicts grouped by item: every judge's outcome beside the committee's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from arena.core.types import Case, Verdict
from judges.committee import COMMITTEE


@dataclass(frozen=True, slots=True)
class ItemVerdicts:
    """Every judge's verdict on one rubric item, and the committee's."""

    item_id: str
    criterion: str
    points: float
    tags: tuple[str, ...]
    by_judge: dict[str, str]
    """Judge name -> ``met``/``not_met``/``unscored``."""
    explanations: dict[str, str]
    committee: str | None

    @property
    def split(self) -> bool:
        """Whether the judges that scored the item disagree."""
        return len({o for o in self.by_judge.values() if o != "unscored"}) > 1


@dataclass(frozen=True, slots=True)
class ConsultationVerdicts:
    """The rubric verdicts of one consultation."""

    judges: tuple[str, ...]
    items: tuple[ItemVerdicts, ...]

    @property
    def splits(self) -> int:
        """How many items the judges split on."""
        return sum(1 for i in self.items if i.split)


def group_verdicts(verdicts: Iterable[Verdict], case: Case | None = None) -> ConsultationVerdicts:
    """Group one consultation's verdicts by rubric item.

    Args:
        verdicts: The consultation's verdicts, in the order written
            (:meth:`arena.core.store.Store.verdicts`).
        case: Its case, for the criteria text and the rubric order; without
            it items are listed in the order judged.

    Returns:
        Items in rubric order; ``judges`` lists the judges (never the
        committee) in the order they first appear.
    """
    judges: list[str] = []
    order: list[str] = []
    by_item: dict[str, dict[str, str]] = {}
    expl: dict[str, dict[str, str]] = {}
    committee: dict[str, str] = {}
    info: dict[str, tuple[float, tuple[str, ...]]] = {}
    for v in verdicts:
        if v.item_id not in by_item:
            order.append(v.item_id)
            by_item[v.item_id] = {}
            expl[v.item_id] = {}
        info.setdefault(v.item_id, (v.points, tuple(v.tags)))
        if v.judge == COMMITTEE:
            committee[v.item_id] = v.outcome
            continue
        if v.judge not in judges:
            judges.append(v.judge)
        by_item[v.item_id][v.judge] = v.outcome
        expl[v.item_id][v.judge] = v.explanation
    criteria: dict[str, str] = {}
    if case is not None:
        criteria = {r.id: r.criterion for r in case.rubric}
        rank = {r.id: i for i, r in enumerate(case.rubric)}
        order.sort(key=lambda i: rank.get(i, len(rank)))
    items = tuple(
        ItemVerdicts(
            item_id=i,
            criterion=criteria.get(i, ""),
            points=info[i][0],
            tags=info[i][1],
            by_judge=by_item[i],
            explanations=expl[i],
            committee=committee.get(i),
        )
        for i in order
    )
    return ConsultationVerdicts(judges=tuple(judges), items=items)
