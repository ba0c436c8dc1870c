"""The HTML report of a judged run: one self-contained page, no network.

The page holds inline CSS and the plots as inline SVG drawn by matplotlib, so
it can be mailed or archived as a single file. Everything the data supplies is
escaped in the template (``|e``); only the SVG produced here is inserted as is.

Number formats, so readers (and tests) know what to look for:

* scores, estimates, kappas, alphas and pass^k: three decimals (``0.734``);
* an estimate with its interval: ``0.734 [0.701, 0.768]``;
* shares (diagnosis match, percent agreement, accuracy, precision, recall,
  simulator-caused failures and their interval, verdict flip rates): percentages with one decimal
* mean diagnosis grades (1-5) and their intervals: two decimals (``3.75 [3.40, 4.10]``);
* shares (diagnosis match and grade, percent agreement, accuracy, precision, recall,
  simulator-caused failures and their interval): percentages with one decimal
  (``45.0%``, ``[1.2%, 8.0%]``);
* costs of care: two decimals, in the currency the section names
  (``412.50``, ``[380.00, 450.00]``);
* a missing or undefined value (None or NaN): ``n/a``.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from arena.core.templating import render
from arena.core.types import (
    DIAGNOSIS_GRADES,
    CostFigures,
    Estimate,
    RunAnalysis,
    SimulatorCause,
    Transcript,
    Turn,
    Verdict,
    Verdict3,
)
from judges.committee import COMMITTEE
from judges.format_plot import PLOT_SIZE, FormatPanels
from judges.noise import HOW_TO_GET

NA = "n/a"
"""What the page shows for a value that is missing or undefined."""
BREAKDOWN_ORDER = ("doctor", "organ_system", "complaint", "difficulty", "persona")
"""Dimensions shown first, in this order; any others follow alphabetically."""
MATCH_ORDER = ("exact", "partial", "wrong", "missing")
"""Diagnosis-match kinds in display order."""
UNSPECIFIED = "(unspecified)"
"""Label shown for an empty group name."""

_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]")
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)


# --------------------------------------------------------------------------- formatting


def _defined(x: float | None) -> bool:
    return x is not None and not math.isnan(x)


def fmt_num(x: float | None, digits: int = 3) -> str:
    """Format a number with a fixed number of decimals.

    Args:
        x: The number; None or NaN give ``n/a``.
        digits: Decimals to keep.

    Returns:
        The formatted number, e.g. ``0.734``.
    """
    if x is None or math.isnan(x):
        return NA
    return f"{x:.{digits}f}"


def fmt_pct(x: float | None) -> str:
    """Format a share in [0, 1] as a percentage with one decimal.

    Args:
        x: The share; None or NaN give ``n/a``.

    Returns:
        The percentage, e.g. ``45.0%``.
    """
    if x is None or math.isnan(x):
        return NA
    return f"{100 * x:.1f}%"


def fmt_interval(low: float | None, high: float | None, digits: int = 3) -> str:
    """Format a confidence interval as ``[low, high]``.

    Args:
        low: Lower end.
        high: Upper end.
        digits: Decimals to keep (three for scores, two for costs).

    Returns:
        The interval, e.g. ``[0.701, 0.768]``, or ``n/a`` when either end is undefined.
    """
    if not (_defined(low) and _defined(high)):
        return NA
    return f"[{fmt_num(low, digits)}, {fmt_num(high, digits)}]"


def anchor_id(consultation_id: str) -> str:
    """Return an HTML id for a consultation's transcript section.

    Characters other than ASCII letters, digits, ``-`` and ``_`` become ``_``;
    when any had to be replaced, a short hash of the original id is appended so
    that two ids never map to the same anchor.

    Args:
        consultation_id: The consultation id, any text.

    Returns:
        ``c-`` followed by the safe form of the id.
    """
    safe = _SAFE_ID.sub("_", consultation_id)
    if safe != consultation_id or not safe:
        safe += "-" + hashlib.sha256(consultation_id.encode("utf-8")).hexdigest()[:8]
    return f"c-{safe}"


def _label(name: str) -> str:
    return name if name else UNSPECIFIED


# --------------------------------------------------------------------------- plots


def _svg(fig: Figure, prefix: str) -> str:
    """Render a figure to an SVG element fit for inlining in HTML.

    The XML prologue is dropped and every id is prefixed, so several plots can
    share one page without clashing ids.
    """
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    text = _METADATA.sub("", text, count=1)
    text = text.replace('id="', f'id="{prefix}-')
    text = text.replace("url(#", f"url(#{prefix}-")
    text = text.replace('xlink:href="#', f'xlink:href="#{prefix}-')
    return text.strip()


def _plot(prefix: str, draw_size: tuple[float, float], draw: Callable[[Figure], None]) -> str:
    """Draw one figure with deterministic, font-free SVG settings and return the SVG."""
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",  # text stays text: smaller, searchable, no glyph paths
            "svg.hashsalt": prefix,  # deterministic ids, distinct per plot
            "text.parse_math": False,  # a "$" in a doctor's name is not mathtext
            "font.size": 9,
        }
    ):
        # A bare Figure on an Agg canvas: no pyplot, no global figure registry,
        # nothing to leak; the figure is cleared and dropped once saved.
        fig = Figure(figsize=draw_size)
        FigureCanvasAgg(fig)
        try:
            draw(fig)
            return _svg(fig, prefix)
        finally:
            fig.clear()


@dataclass
class _AxisBars:
    names: list[str]
    means: list[float]
    lows: list[float]
    highs: list[float]

    def __call__(self, fig: Figure) -> None:
        ax = fig.add_subplot()
        x = np.arange(len(self.names))
        means = np.array(self.means, dtype=float)
        below = np.clip(means - np.array(self.lows, dtype=float), 0, None)
        above = np.clip(np.array(self.highs, dtype=float) - means, 0, None)
        ax.bar(x, np.nan_to_num(means), color="#4c78a8", width=0.6)
        ax.errorbar(
            x,
            np.nan_to_num(means),
            yerr=np.nan_to_num(np.vstack([below, above])),
            fmt="none",
            ecolor="#222222",
            capsize=4,
            linewidth=1,
        )
        ax.set_xticks(x, self.names, rotation=30 if len(self.names) > 4 else 0, ha="right" if len(x) > 4 else "center")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("mean score (95% CI)")
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)


@dataclass
class _Heatmap:
    rows: list[str]
    cols: list[str]
    values: list[list[float | None]]
    cmap: str = field(default="RdYlGn")

    def __call__(self, fig: Figure) -> None:
        ax = fig.add_subplot()
        data = np.array([[np.nan if v is None else v for v in row] for row in self.values], dtype=float)
        masked = np.ma.masked_invalid(data)
        cmap = matplotlib.colormaps[self.cmap].with_extremes(bad="#e6e6e6")
        im = ax.imshow(masked, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(np.arange(len(self.cols)), self.cols, rotation=30, ha="right")
        ax.set_yticks(np.arange(len(self.rows)), self.rows)
        for i in range(len(self.rows)):
            for j in range(len(self.cols)):
                v = data[i, j]
                if math.isnan(v):
                    ax.text(j, i, "–", ha="center", va="center", color="#777777")
                else:
                    colour = "white" if v < 0.25 or v > 0.8 else "black"
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", color=colour)
        fig.colorbar(im, ax=ax, label="mean score", fraction=0.046, pad=0.04)


def axis_chart(by_axis: Mapping[str, tuple[float, float, float]]) -> str:
    """Draw the per-axis bar chart with 95% interval whiskers.

    Args:
        by_axis: ``(mean, low, high)`` per axis name, in display order.

    Returns:
        An inline SVG element, or an empty string when there are no axes.
    """
    if not by_axis:
        return ""
    names = list(by_axis)
    means, lows, highs = (list(v) for v in zip(*by_axis.values(), strict=True))
    width = max(4.0, 0.9 * len(names) + 1.5)
    return _plot("axes", (width, 3.2), _AxisBars(names, means, lows, highs))


def heatmap_chart(heatmap: Mapping[str, Mapping[str, float]]) -> str:
    """Draw the doctor × organ-system heatmap with each cell's value written in it.

    Missing cells are grey and marked with a dash; one doctor gives one row.

    Args:
        heatmap: Mean score per doctor (outer key) and organ system (inner key).

    Returns:
        An inline SVG element, or an empty string when there is no cell at all.
    """
    rows, cols, values = _grid(heatmap)
    if not rows or not cols:
        return ""
    width = max(4.0, 0.8 * len(cols) + 2.5)
    height = max(1.8, 0.45 * len(rows) + 1.6)
    return _plot("heatmap", (width, height), _Heatmap([_label(r) for r in rows], [_label(c) for c in cols], values))


def _grid(heatmap: Mapping[str, Mapping[str, float]]) -> tuple[list[str], list[str], list[list[float | None]]]:
    rows = sorted(heatmap)
    cols = sorted({c for r in heatmap.values() for c in r})
    values = [[heatmap[r].get(c) for c in cols] for r in rows]
    return rows, cols, values


# --------------------------------------------------------------------------- cost of care


@dataclass(frozen=True)
class CostRow:
    """One doctor in the cost-of-care section."""

    doctor: str
    """The doctor."""
    cost: Estimate
    """Mean cost of care per consultation."""
    score: Estimate | None
    """Mean overall score (None when the doctor has no score)."""


@dataclass
class _CostScatter:
    rows: list[CostRow]
    currency: str

    def __call__(self, fig: Figure) -> None:
        ax = fig.add_subplot()
        for r in self.rows:
            assert r.score is not None  # only scored doctors are plotted
            c, s = r.cost, r.score
            ax.errorbar(
                [c.mean],
                [s.mean],
                xerr=[[max(0.0, c.mean - c.low)], [max(0.0, c.high - c.mean)]],
                yerr=[[max(0.0, s.mean - s.low)], [max(0.0, s.high - s.mean)]],
                fmt="o",
                color="#4c78a8",
                ecolor="#222222",
                capsize=3,
                linewidth=1,
            )
            ax.annotate(r.doctor, (c.mean, s.mean), textcoords="offset points", xytext=(6, 6), fontsize=8)
        right = max(r.cost.high for r in self.rows)
        ax.set_xlim(0, right * 1.15 if right > 0 else 1.0)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel(f"mean cost per consultation, {self.currency} (95% CI)")
        ax.set_ylabel("mean score (95% CI)")
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)


def cost_rows(cost: CostFigures | None, scores: Mapping[str, Estimate]) -> list[CostRow]:
    """Pair each doctor's mean cost of care with its mean score, cheapest first.

    Args:
        cost: The run's cost figures, or None.
        scores: Mean score per doctor.

    Returns:
        One row per doctor with a cost figure.
    """
    if cost is None:
        return []
    ranked = sorted(cost.by_doctor.items(), key=lambda kv: (kv[1].mean, kv[0]))
    return [CostRow(doctor, e, scores.get(doctor)) for doctor, e in ranked]


def cost_chart(rows: Sequence[CostRow], currency: str) -> str:
    """Plot mean score against mean cost of care, one point per doctor, with 95% interval whiskers.

    Args:
        rows: The doctors (see :func:`cost_rows`); those without a score are left out.
        currency: The currency of the costs, for the axis label.

    Returns:
        An inline SVG element, or an empty string when no doctor has both figures.
    """
    plotted = [r for r in rows if r.score is not None]
    if not plotted:
        return ""
    return _plot("cost", (5.5, 3.6), _CostScatter(plotted, currency))


def format_chart(analysis: RunAnalysis) -> str:
    """Plot each doctor's accuracy and score per format (see :mod:`judges.format_plot`).

    Returns:
        An inline SVG element, or an empty string when the run played one format.
    """
    if not analysis.formats:
        return ""
    return _plot("formats", PLOT_SIZE, FormatPanels(analysis.formats))


def _cost_context(analysis: RunAnalysis) -> dict[str, object]:
    """What the template's cost section needs."""
    rows = cost_rows(analysis.cost, analysis.breakdowns.get("doctor", {}))
    currency = analysis.cost.currency if analysis.cost else ""
    return {"cost_rows": rows, "cost_svg": cost_chart(rows, currency)}


# --------------------------------------------------------------------------- transcript sections


@dataclass
class ItemRow:
    """One rubric item of one consultation, with every judge's verdict on it."""

    item_id: str
    """The rubric item."""
    points: float
    """Its points."""
    axis: str
    """Its ``axis:`` tag, or empty."""
    cells: list[Verdict | None]
    """One verdict per judge column (None when that judge gave none)."""
    split: bool
    """Whether the judges who scored it disagreed."""


@dataclass
class Section:
    """What the page shows for one of the worst consultations."""

    anchor: str
    """HTML id of the section."""
    consultation_id: str
    """The consultation."""
    transcript: Transcript | None
    """Its transcript, if given."""
    judges: list[str]
    """Column headers of the verdict table (judges, then the committee)."""
    items: list[ItemRow]
    """One row per rubric item."""


def _axis(tags: Iterable[str]) -> str:
    for t in tags:
        if t.startswith("axis:"):
            return t.split(":", 1)[1]
    return ""


def _verdict_rows(verdicts: Sequence[Verdict], committee_judges: Sequence[str]) -> tuple[list[str], list[ItemRow]]:
    seen = {v.judge for v in verdicts}
    judges = [j for j in committee_judges if j in seen and j != COMMITTEE]
    judges += sorted(seen - set(judges) - {COMMITTEE})
    if COMMITTEE in seen:
        judges.append(COMMITTEE)
    by_item: dict[str, dict[str, Verdict]] = defaultdict(dict)
    for v in verdicts:
        by_item[v.item_id].setdefault(v.judge, v)
    rows: list[ItemRow] = []
    for item_id, per_judge in by_item.items():
        first = next(iter(per_judge.values()))
        votes: set[Verdict3] = {v.outcome for j, v in per_judge.items() if j != COMMITTEE and v.outcome != "unscored"}
        rows.append(
            ItemRow(
                item_id=item_id,
                points=first.points,
                axis=_axis(first.tags),
                cells=[per_judge.get(j) for j in judges],
                split=len(votes) > 1,
            )
        )
    return judges, rows


def _sections(
    analysis: RunAnalysis, transcripts: Mapping[str, Transcript], verdicts: Mapping[str, Sequence[Verdict]]
) -> list[Section]:
    out: list[Section] = []
    done: set[str] = set()
    for brief in analysis.worst:
        cid = brief.consultation_id
        if cid in done:
            continue
        done.add(cid)
        judges, items = _verdict_rows(verdicts.get(cid, []), analysis.judges)
        out.append(Section(anchor_id(cid), cid, transcripts.get(cid), judges, items))
    return out


def _turn_note(turn: Turn) -> str:
    if turn.synthesized:
        # The reader must tell a made-up answer from the case's own facts.
        return "synthesized: " + ", ".join(f"{s.topic} ({s.rule.value.replace('_', ' ')})" for s in turn.synthesized)
    a = turn.action
    if a is None or a.kind == "ask":
        return ""
    if a.kind in ("exam", "test") and a.request:
        return f"{a.kind}: {a.request}"
    return a.kind


# --------------------------------------------------------------------------- page


def _dimensions(breakdowns: Mapping[str, Mapping[str, object]]) -> list[str]:
    known = [d for d in BREAKDOWN_ORDER if d in breakdowns]
    return known + sorted(set(breakdowns) - set(known))


def render_report(analysis: RunAnalysis, transcripts: dict[str, Transcript], verdicts: dict[str, list[Verdict]]) -> str:
    """Render the HTML report of a judged run.

    Args:
        analysis: The run's analysis.
        transcripts: Transcripts by consultation id; must hold at least the
            consultations in ``analysis.worst`` (a missing one is shown as such).
        verdicts: Every verdict (each judge's and the committee's) by
            consultation id, for at least the consultations in ``analysis.worst``.

    Returns:
        One self-contained HTML document.
    """
    by_axis = {name: (e.mean, e.low, e.high) for name, e in analysis.by_axis.items()}
    hm_rows, hm_cols, hm_values = _grid(analysis.heatmap)
    diagnosis = [(k, analysis.diagnosis[k]) for k in MATCH_ORDER if k in analysis.diagnosis]
    diagnosis += sorted((k, v) for k, v in analysis.diagnosis.items() if k not in MATCH_ORDER)
    return render(
        "judges",
        "report.html.j2",
        a=analysis,
        axis_svg=axis_chart(by_axis),
        heatmap_svg=heatmap_chart(analysis.heatmap),
        heatmap_rows=hm_rows,
        heatmap_cols=hm_cols,
        heatmap_values=hm_values,
        dimensions=_dimensions(analysis.breakdowns),
        diagnosis=diagnosis,
        **_cost_context(analysis),
        formats_svg=format_chart(analysis),
        grades=sorted(analysis.grades.items(), key=lambda kv: (-kv[1].mean.mean, kv[0])),
        grade_names=DIAGNOSIS_GRADES,
        ungraded=analysis.consultations - sum(g.mean.n for g in analysis.grades.values()),
        pass_k=sorted(analysis.pass_k.items()),
        sections=_sections(analysis, transcripts, verdicts),
        num=fmt_num,
        pct=fmt_pct,
        interval=fmt_interval,
        label=_label,
        anchor=anchor_id,
        turn_note=_turn_note,
        committee=COMMITTEE,
        simulator_causes=get_args(SimulatorCause),
        noise_hint=HOW_TO_GET,
    )


def write_report(
    analysis: RunAnalysis, transcripts: dict[str, Transcript], verdicts: dict[str, list[Verdict]], path: Path
) -> None:
    """Render the report and write it to ``path`` atomically.

    The page is written to a temporary file in the same folder and moved over
    ``path`` with :func:`os.replace`, so readers never see a half-written file.

    Args:
        analysis: The run's analysis.
        transcripts: Transcripts by consultation id (see :func:`render_report`).
        verdicts: Verdicts by consultation id (see :func:`render_report`).
        path: Where to write the HTML file; its folder must exist.
    """
    html = render_report(analysis, transcripts, verdicts)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp's 0600 would hide the report from other readers
            f.write(html)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
