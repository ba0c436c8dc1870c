"""The plot of a doctor's accuracy and score in each format, for the HTML report and the README.

Two panels, diagnosis accuracy and score; in each, one group of points per
doctor, one point per format, with its 95% interval as a whisker. The drawing
is a callable on a bare matplotlib ``Figure``, so the HTML report inlines it
as SVG and :func:`save_png` writes it as an image.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from arena.core.types import CONSULT_FORMATS, ConsultFormat, Estimate, FormatFigures

FORMAT_COLOURS: dict[ConsultFormat, str] = {"dialogue": "#4c78a8", "vignette": "#f58518", "summary": "#54a24b"}
"""One colour per format, the same in every panel."""
PLOT_SIZE = (7.5, 3.4)
"""Width and height of the figure, in inches."""


@dataclass
class FormatPanels:
    """Draws accuracy and score per doctor and format (see the module docstring)."""

    formats: Mapping[str, Mapping[ConsultFormat, FormatFigures]]
    """Per doctor, per format, its figures (``RunAnalysis.formats``)."""

    def __call__(self, fig: Figure) -> None:
        """Draw both panels on ``fig``."""
        doctors = list(self.formats)
        played = [f for f in CONSULT_FORMATS if any(f in per for per in self.formats.values())]
        width = 0.8 / max(1, len(played))
        axes = fig.subplots(1, 2, sharey=True)
        for ax, measure, label in ((axes[0], "accuracy", "diagnosis accuracy"), (axes[1], "score", "score")):
            for k, fmt in enumerate(played):
                xs, means, below, above = [], [], [], []
                for i, doctor in enumerate(doctors):
                    got = self.formats[doctor].get(fmt)
                    if got is None:
                        continue
                    e: Estimate = got.accuracy if measure == "accuracy" else got.score
                    xs.append(i + (k - (len(played) - 1) / 2) * width)
                    means.append(e.mean)
                    below.append(max(0.0, e.mean - e.low))
                    above.append(max(0.0, e.high - e.mean))
                ax.errorbar(
                    xs,
                    means,
                    yerr=[below, above],
                    fmt="o",
                    color=FORMAT_COLOURS[fmt],
                    ecolor=FORMAT_COLOURS[fmt],
                    capsize=3,
                    linewidth=1,
                    label=fmt,
                )
            # A model name's parameters go on a line of their own, so long names stay readable side by side.
            ax.set_xticks(range(len(doctors)), [d.replace("?", "\n?") for d in doctors])
            ax.set_xlim(-0.6, len(doctors) - 0.4)
            ax.set_ylim(0, 1.05)
            ax.set_title(f"{label} (95% CI)")
            ax.spines[["top", "right"]].set_visible(False)
            ax.grid(axis="y", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
        axes[1].legend(frameon=False, loc="lower right")


def save_png(formats: Mapping[str, Mapping[ConsultFormat, FormatFigures]], path: Path, dpi: int = 120) -> None:
    """Write the plot of ``formats`` to ``path`` as a PNG image.

    Args:
        formats: Per doctor, per format, its figures.
        path: Where to write it.
        dpi: Resolution.
    """
    fig = Figure(figsize=PLOT_SIZE)
    FigureCanvasAgg(fig)
    FormatPanels(formats)(fig)
    path = Path(path)
    # Written beside the target and moved over it, so no reader sees half an image.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the image from other readers
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
