"""HealthBench conversations: a user's messages as facts, the physicians' rubric as the rubric.

A line holds ``{"prompt_id", "prompt": [{"role", "content"}], "rubrics":
[{"criterion", "points", "tags"}], "example_tags"}``. The first user message
is what the patient opens with; later user messages become facts the patient
tells when asked (already in the user's own words). Each rubric criterion
becomes one rubric item ``hb.<n>`` (``n`` its position, from 1) with its
points and tags and no structured check, so an LLM judge decides it; items
worth 0 points are dropped with a note. HealthBench states no diagnosis.
"""

from __future__ import annotations

import re
from typing import Any

from arena.core.types import Demographics, RubricItem, Speaker
from cases.importers.facts import FactBuilder, parse_age, parse_sex
from cases.importers.records import Draft, Where, get_list, get_str, json_type

_CHILD = re.compile(r"\bmy\s+(?:\d+[- ]\w+[- ]old\s+)?(?:son|daughter|child|baby|kid|toddler|infant|newborn)\b", re.I)

PLACEHOLDER = Demographics(age=40, sex="female")
"""Demographics used when the conversation states no age or sex (noted per case)."""
CHILD_PLACEHOLDER_AGE = 5
"""Age used when a parent speaks for a child of unstated age."""


def _rubric(obj: dict[str, Any], where: Where, notes: list[str]) -> list[RubricItem]:
    items: list[RubricItem] = []
    for n, raw in enumerate(get_list(obj, "rubrics", where), start=1):
        key = f"rubrics.{n - 1}"
        if not isinstance(raw, dict):
            raise where.error(f"expected an object, got {json_type(raw)}", key)
        criterion = get_str(raw, "criterion", where, key)
        points = raw.get("points")
        if points is None:
            raise where.error("missing required key", f"{key}.points")
        if isinstance(points, bool) or not isinstance(points, int | float):
            raise where.error(f"expected a number, got {json_type(points)}", f"{key}.points")
        tags = get_list(raw, "tags", where, key, required=False)
        if not all(isinstance(t, str) for t in tags):
            raise where.error("expected a list of strings", f"{key}.tags")
        if points == 0:
            notes.append(where.note(f"rubric item {n} has 0 points and was dropped: {criterion[:60]!r}"))
            continue
        items.append(RubricItem(id=f"hb.{n}", criterion=criterion, points=float(points), tags=list(tags)))
    if not any(i.points > 0 for i in items):
        raise where.error("needs at least one criterion with positive points", "rubrics")
    return items


def convert(obj: dict[str, Any], where: Where, notes: list[str]) -> Draft:
    """Read one HealthBench line into a draft case.

    Args:
        obj: The parsed JSON object.
        where: File and line, for errors.
        notes: Notes on what was left out are appended here.

    Returns:
        The draft, with the rubric already made and no diagnosis.

    Raises:
        CaseFileError: naming the missing or malformed key.
    """
    messages = get_list(obj, "prompt", where)
    user: list[str] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise where.error(f"expected an object, got {json_type(msg)}", f"prompt.{i}")
        role = get_str(msg, "role", where, f"prompt.{i}")
        content = get_str(msg, "content", where, f"prompt.{i}", required=False)
        if role == "user" and content:
            user.append(content)
    if not user:
        raise where.error("the conversation has no user message", "prompt")
    rubric = _rubric(obj, where, notes)
    source_id = get_str(obj, "prompt_id", where, required=False, number=True) or str(where.line)
    tags = get_list(obj, "example_tags", where, required=False)
    theme = next((t.split(":", 1)[1] for t in tags if isinstance(t, str) and t.startswith("theme:")), "")

    said = " ".join(user)
    age, sex = parse_age(said), parse_sex(said)
    # "My daughter is 2 years old ...": a parent speaks for a child.
    speaker: Speaker = "caregiver" if _CHILD.search(said) else "self"
    if age is None or sex is None:
        notes.append(
            where.note(
                f"the conversation states no {'age' if age is None else 'sex'}"
                f"{' or sex' if age is None and sex is None else ''}; using placeholder demographics"
            )
        )
    if age is None:
        age = CHILD_PLACEHOLDER_AGE if speaker == "caregiver" else PLACEHOLDER.age
    demographics = Demographics(age=age, sex=sex or PLACEHOLDER.sex)
    b = FactBuilder(speaker, demographics.sex)
    b.volunteered(user[0], lay=user[0])
    b.vignette(user[1:], findings=False, lay=False)
    title = "HealthBench conversation" + (f" on {theme.replace('_', ' ')}" if theme else "") + f" ({source_id})"
    return Draft(
        source_id=source_id,
        title=title,
        chief_complaint=user[0],
        demographics=demographics,
        facts=b.facts,
        diagnosis=None,
        speaker=speaker,
        rubric=rubric,
    )
