"""Parsing a doctor model's reply into a :class:`DoctorAction`.

The prompt asks for one JSON object per turn. Models do not always comply, so
the parser is tolerant: it takes the first JSON object anywhere in the text,
accepts a few spellings of the keys, and falls back to reading "Final
diagnosis:" lines or treating the text as a question. Whatever it had to
guess is noted in ``parse_error`` so malformed output is visible, not fatal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from arena.core.json_reply import first_json_object
from arena.core.types import DoctorAction, FinalAnswer

_KINDS = {
    "ask": "ask",
    "question": "ask",
    "exam": "exam",
    "examine": "exam",
    "examination": "exam",
    "test": "test",
    "order": "test",
    "final": "final",
    "diagnosis": "final",
    "final_answer": "final",
}
_FINAL_LINE = re.compile(r"^\s*(?:final\s+)?diagnosis\s*[:\-]\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_DIFF_LINE = re.compile(r"^\s*differentials?\s*[:\-]\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_PLAN_LINE = re.compile(r"^\s*plan\s*[:\-]\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def _as_list(v: Any) -> list[str]:
    if isinstance(v, list):
        return [str(x) for x in v if str(x).strip()]
    if isinstance(v, str) and v.strip():
        return [p.strip() for p in re.split(r"[;,]", v) if p.strip()]
    return []


def parse_doctor_reply(text: str) -> DoctorAction:
    """Parse a doctor model's raw reply.

    Args:
        text: The model's output.

    Returns:
        The action; ``parse_error`` says what had to be guessed.
    """
    obj = first_json_object(text)
    if obj is not None:
        kind = _KINDS.get(str(obj.get("action", obj.get("type", ""))).lower().strip())
        if kind == "final" or (kind is None and "diagnosis" in obj):
            final = FinalAnswer(
                diagnosis=str(obj.get("diagnosis", "")).strip(),
                differential=_as_list(obj.get("differential", obj.get("differentials", []))),
                plan=str(obj.get("plan", "")).strip(),
            )
            err = "" if final.diagnosis else "final answer without a diagnosis"
            return DoctorAction(kind="final", text=final.diagnosis, final=final, parse_error=err)
        if kind in ("exam", "test"):
            req = str(obj.get("request", obj.get("text", ""))).strip()
            return DoctorAction(kind=kind, text=req, request=req, parse_error="" if req else f"empty {kind} request")
        if kind == "ask":
            q = str(obj.get("text", obj.get("question", ""))).strip()
            return DoctorAction(kind="ask", text=q, parse_error="" if q else "empty question")
        return DoctorAction(kind="ask", text=text.strip(), parse_error=f"unknown action {obj.get('action')!r}")
    m = _FINAL_LINE.search(text)
    if m:
        d = _DIFF_LINE.search(text)
        p = _PLAN_LINE.search(text)
        final = FinalAnswer(
            diagnosis=m.group(1).strip(),
            differential=_as_list(d.group(1)) if d else [],
            plan=p.group(1).strip() if p else "",
        )
        return DoctorAction(kind="final", text=final.diagnosis, final=final, parse_error="no JSON; read diagnosis line")
    return DoctorAction(kind="ask", text=text.strip(), parse_error="no JSON; treated as a question")


def lettered(options: Sequence[str]) -> list[str]:
    """Answer options as a doctor is shown them: ``A) ...``, ``B) ...``, in the case's order."""
    return [f"{chr(ord('A') + i)}) {o}" for i, o in enumerate(options)]
