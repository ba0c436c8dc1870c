"""Rubric items for a case, derived from its condition in the knowledge base.

Used by the synthesizer and by the importers: whatever the case's facts, each
must-ask question becomes an ``elicit`` item linked to the facts on its
topics, each key test an ``order`` item, each harmful omission an ``order``
item met when the test is absent, plus the diagnosis, the plan and
safety-netting.
"""

from __future__ import annotations

from collections.abc import Sequence

from arena.core.types import Fact, RubricCheck, RubricItem
from cases.kb import Condition
from cases.knowledge import topics

SAFETY_NET_WORDS = ["return", "urgent", "urgently", "emergency", "worse", "999", "911"]


def derive_rubric(cond: Condition, facts: Sequence[Fact]) -> list[RubricItem]:
    """Build a case's rubric from its condition and facts.

    Args:
        cond: The case's condition.
        facts: The case's facts (items whose topics no fact covers are left out).

    Returns:
        Rubric items in HealthBench form, each with a structured check.
    """
    history: dict[str, list[str]] = {}
    found: dict[str, list[str]] = {}
    for f in facts:
        if f.disclosure == "on_ask":
            history.setdefault(f.topic, []).append(f.id)
        elif f.disclosure in ("exam", "test"):
            found.setdefault(f.topic, []).append(f.id)
    items: list[RubricItem] = []
    if history.get("onset") and not any("onset" in m.topics for m in cond.must_ask):
        # Every presentation has an onset; when and how it began matters in every case.
        items.append(
            RubricItem(
                id="ask.start",
                criterion="Asks when the symptoms started and whether they came on suddenly or gradually",
                points=4,
                tags=["axis:history", "priority:must"],
                check=RubricCheck(kind="elicit", targets=history["onset"]),
            )
        )
    for m in cond.must_ask:
        targets = [i for t in m.topics for i in history.get(t, [])]
        if targets:
            items.append(
                RubricItem(
                    id=f"ask.{m.id}",
                    criterion=m.criterion,
                    points=m.points,
                    tags=["axis:history", "priority:must"],
                    check=RubricCheck(kind="elicit", targets=targets),
                )
            )
    if found.get("vitals"):
        items.append(
            RubricItem(
                id="exam.vitals",
                criterion="Checks the vital signs",
                points=3,
                tags=["axis:examination"],
                check=RubricCheck(kind="order", targets=found["vitals"]),
            )
        )
    vocab = topics()
    for t in cond.tests:
        if t.key and found.get(t.topic):
            items.append(
                RubricItem(
                    id=f"order.{t.id}",
                    criterion=f"Orders {vocab[t.topic].question.lower()}",
                    points=6,
                    tags=["axis:tests", "priority:must"],
                    check=RubricCheck(kind="order", targets=found[t.topic]),
                )
            )
    items.append(
        RubricItem(
            id="dx",
            criterion=f"Gives {cond.name} as the most likely diagnosis",
            points=10,
            tags=["axis:diagnosis"],
            check=RubricCheck(kind="diagnose"),
        )
    )
    for h in cond.harms:
        targets = [i for t in h.missing_tests for i in found.get(t, [])]
        if targets:
            items.append(
                RubricItem(
                    id=f"harm.{h.id}",
                    criterion=h.criterion,
                    points=h.points,
                    tags=["axis:safety"],
                    check=RubricCheck(kind="order", targets=targets, met_when="absent"),
                )
            )
    items.append(
        RubricItem(
            id="plan",
            criterion="Gives an appropriate plan: " + "; ".join(cond.management),
            points=5,
            tags=["axis:management"],
            check=RubricCheck(kind="mention", targets=list(cond.plan_keywords)),
        )
    )
    items.append(
        RubricItem(
            id="safety_net",
            criterion="Tells the patient when and how to seek urgent help (safety-netting)",
            points=3,
            tags=["axis:communication"],
            check=RubricCheck(kind="mention", targets=SAFETY_NET_WORDS),
        )
    )
    return items
