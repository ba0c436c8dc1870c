"""Short, fixed-width renderings of numbers, times and states for narrow terminals."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

STATUS_STYLE = {
    "running": "bold yellow",
    "done": "green",
    "error": "bold red",
    "finished": "green",
    "failed": "bold red",
    "interrupted": "magenta",
}
"""Style of each consultation and run status."""

DIAGNOSIS_STYLE = {"exact": "green", "partial": "yellow", "wrong": "red", "missing": "red"}
"""Style of each diagnosis match."""

RISK_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "dim"}
"""Style of each mistake risk level."""

ROLE_STYLE = {"doctor": "bold cyan", "patient": "bold green", "measurement": "bold magenta", "case": "bold yellow"}
"""Style of each speaker's label in a transcript."""

OUTCOME_MARK = {"met": ("✓", "green"), "not_met": ("✗", "red"), "unscored": ("?", "yellow")}
"""Mark and style of each verdict outcome."""


def cost(usd: float) -> str:
    """Format a cost in dollars with enough digits for cheap models."""
    if usd == 0:
        return "$0"
    if usd < 0.01:
        return f"${usd:.4f}"
    if usd < 100:
        return f"${usd:.2f}"
    return f"${usd:,.0f}"


def count(n: float) -> str:
    """Format a count compactly: 950, 12.3k, 4.5M."""
    if n < 1000:
        return f"{n:.0f}"
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def duration(seconds: float | None) -> str:
    """Format seconds as ``42s``, ``3:05`` or ``1:02:03``; ``—`` when unknown."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def stamp(value: datetime | None) -> str:
    """Format a time as ``2026-11-26 14:21`` (UTC); ``—`` when unknown."""
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def short_stamp(value: datetime | None) -> str:
    """Format a time as ``Nov 26 14:21`` (UTC) for narrow columns; ``—`` when unknown."""
    return value.strftime("%b %d %H:%M") if value else "—"


def score(value: float | None) -> str:
    """Format a score in [0, 1] with two decimals; ``—`` when unscored."""
    return "—" if value is None else f"{value:.2f}"


def percent(value: float | None) -> str:
    """Format a share as a whole percentage; ``—`` when unknown."""
    return "—" if value is None else f"{value * 100:.0f}%"


def styled(value: str, style: str | None) -> Text:
    """Return ``value`` as text in ``style`` (never parsed as markup)."""
    return Text(value, style=style or "")


def right(value: str, width: int, style: str = "") -> Text:
    """Return ``value`` right-aligned in ``width`` cells (table cells drop ``justify``)."""
    return Text(value.rjust(width), style=style)


def status(value: str) -> Text:
    """Return a status in its colour."""
    return styled(value, STATUS_STYLE.get(value))


def short_id(consultation_id: str, run_id: str) -> str:
    """Drop the run prefix from a consultation id (``run-x/case/t0`` -> ``case/t0``)."""
    prefix = run_id + "/"
    return consultation_id[len(prefix) :] if consultation_id.startswith(prefix) else consultation_id


def model(name: str) -> str:
    """A model name without its provider and options (``openai/gpt-4o?t=0`` -> ``gpt-4o``)."""
    base = name.split("?", 1)[0]
    return base.rsplit("/", 1)[-1] or base


def one_line(value: str, width: int) -> str:
    """Return the first line of ``value``, cut to ``width`` with an ellipsis."""
    line = value.strip().splitlines()[0] if value.strip() else ""
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"
