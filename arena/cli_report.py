"""``arena judge``, ``arena report`` and ``arena compare``: judging runs and reading the results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, get_args

import typer
from rich.table import Table

from arena.core.types import (
    DEFAULT_RULE,
    DIAGNOSIS_GRADES,
    CommitteeRule,
    CostFigures,
    Estimate,
    RunAnalysis,
    SimulatorCause,
    Verdict,
)
from arena.display import make_console
from judges.noise import HOW_TO_GET

out = make_console()

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: $ARENA_DB or sqlite:///arena.db).")]


def _est(e: Estimate) -> str:
    return f"{e.mean:.3f} [{e.low:.3f}, {e.high:.3f}] n={e.n}"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _money(e: Estimate) -> str:
    return f"{e.mean:.2f} [{e.low:.2f}, {e.high:.2f}]"


def print_cost(cost: CostFigures | None, scores: dict[str, Estimate]) -> None:
    """Print what care cost per consultation, by doctor, beside each doctor's score.

    Args:
        cost: The run's cost figures (nothing is printed when None).
        scores: Each doctor's mean score, shown beside its cost.
    """
    if cost is None:
        return
    cur = cost.currency
    if cost.by_doctor:
        t = Table(title=f"cost of care per consultation ({cur}, visit plus exams and tests ordered)")
        for col in ("doctor", f"mean cost {cur} [95% CI]", "n", "score [95% CI]"):
            t.add_column(col)
        for doc, e in sorted(cost.by_doctor.items(), key=lambda kv: (kv[1].mean, kv[0])):
            score = scores.get(doc)
            shown = f"{score.mean:.3f} [{score.low:.3f}, {score.high:.3f}]" if score else "n/a"
            t.add_row(doc, _money(e), str(e.n), shown)
        out.print(t)
        out.print(f"mean cost per consultation {cur} {_money(cost.overall)} n={cost.overall.n}")
    if cost.missing:
        out.print(
            f"{cost.missing} consultation(s) without a cost record in {cur} (stored before costs were kept) "
            "are left out of the cost figures"
        )


def print_analysis(a: RunAnalysis) -> None:
    """Print a run's leaderboard, breakdowns and agreement to the terminal."""
    out.print(
        f"[bold]{a.name}[/bold] ({a.run_id}): {a.consultations} consultations; judges {', '.join(a.judges)}; "
        f"rule {a.rule}"
    )
    if a.formats:
        out.print(f"headline figures: the {a.headline_format} consultations (every format: see 'formats' below)")
    elif a.headline_format != "dialogue":
        out.print(
            f"every consultation is a {a.headline_format}: rubric items that cannot apply to a case handed over in "
            "one message (history questions and test orders) are left out of its score"
        )
    out.print(f"overall score {_est(a.overall)}")
    board = Table(title="leaderboard (by doctor)")
    for col in ("doctor", "score [95% CI]", "n"):
        board.add_column(col)
    for doc, e in sorted(a.breakdowns.get("doctor", {}).items(), key=lambda kv: -kv[1].mean):
        board.add_row(doc, f"{e.mean:.3f} [{e.low:.3f}, {e.high:.3f}]", str(e.n))
    out.print(board)
    print_cost(a.cost, a.breakdowns.get("doctor", {}))
    axes = Table(title="by axis")
    axes.add_column("axis")
    axes.add_column("score [95% CI]")
    for axis, e in a.by_axis.items():
        axes.add_row(axis, _est(e))
    out.print(axes)
    for dim in ("organ_system", "complaint", "difficulty", "persona"):
        rows = a.breakdowns.get(dim, {})
        if len(rows) > 1:
            t = Table(title=f"by {dim.replace('_', ' ')}")
            t.add_column(dim)
            t.add_column("score [95% CI]")
            for g, e in sorted(rows.items(), key=lambda kv: kv[1].mean):
                t.add_row(g, _est(e))
            out.print(t)
    out.print("diagnosis: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in a.diagnosis.items()))
    print_grades(a)
    if a.pass_k:
        out.print("pass^k: " + ", ".join(f"k={k} {v:.3f}" for k, v in a.pass_k.items()))
    if len(a.pass_k_by_doctor) > 1:
        for doctor, pk in a.pass_k_by_doctor.items():
            out.print(f"  {doctor}: " + ", ".join(f"k={k} {v:.3f}" for k, v in pk.items()))
    print_simulator_shares(a)
    print_formats(a)
    ag = Table(title="judge agreement")
    for col in ("scope", "items", "agree %", "split", "Fleiss kappa", "Krippendorff alpha", "Cohen kappa (pairs)"):
        ag.add_column(col)
    for agr in a.agreement:
        cohen = "; ".join(f"{k}: {v:.3f}" for k, v in agr.cohen.items()) or "n/a"
        pct = "n/a" if agr.percent_agreement is None else f"{100 * agr.percent_agreement:.1f}"
        ag.add_row(
            agr.scope, str(agr.items), pct, str(agr.split), _num(agr.fleiss_kappa), _num(agr.krippendorff_alpha), cohen
        )
    out.print(ag)
    if a.calibration:
        cal = Table(title="judges against reference labels")
        for col in ("judge", "n", "accuracy", "precision", "recall"):
            cal.add_column(col)
        for c in a.calibration:
            cal.add_row(c.judge, str(c.n), _num(c.accuracy), _num(c.precision), _num(c.recall))
        out.print(cal)


def _pct_est(e: Estimate) -> str:
    return f"{100 * e.mean:.1f}% [{100 * e.low:.1f}, {100 * e.high:.1f}]"


def print_formats(a: RunAnalysis) -> None:
    """Print each doctor's accuracy and score per format, then the paired gaps between formats."""
    if not a.formats:
        return
    t = Table(title="by format (the same cases, doctors and seeds)")
    for col in ("doctor", "format", "n", "accuracy [95% CI]", "score [95% CI]", "items left out"):
        t.add_column(col)
    for doctor, per in a.formats.items():
        for fmt, f in per.items():
            t.add_row(doctor, fmt, str(f.score.n), _pct_est(f.accuracy), _est(f.score), f"{f.left_out:.1f}")
    out.print(t)
    if a.gaps:
        g = Table(title="format gaps (paired over cases, bootstrap 95% CI)")
        for col in ("doctor", "difference", "pairs", "accuracy", "score"):
            g.add_column(col)
        rows: dict[tuple[str, str], dict[str, str]] = {}
        pairs: dict[tuple[str, str], int] = {}
        for gap in a.gaps:
            key = (gap.doctor, f"{gap.minuend} - {gap.subtrahend}")
            if gap.measure == "accuracy":
                cell = f"{100 * gap.difference:+.1f} pts [{100 * gap.low:+.1f}, {100 * gap.high:+.1f}]"
            else:
                cell = f"{gap.difference:+.3f} [{gap.low:+.3f}, {gap.high:+.3f}]"
            rows.setdefault(key, {})[gap.measure] = cell
            pairs[key] = gap.pairs
        for (doctor, diff), cells in rows.items():
            g.add_row(doctor, diff, str(pairs[(doctor, diff)]), cells.get("accuracy", "-"), cells.get("score", "-"))
        out.print(g)
    if any(f.left_out for per in a.formats.values() for f in per.values()):
        out.print(
            "Scores of vignette and summary leave out the rubric items that cannot apply to a case handed over "
            "in one message (history questions and test orders); 'items left out' is their number per consultation."
        )


def print_grades(a: RunAnalysis) -> None:
    """Print each doctor's five-point diagnosis grade: mean grade with its 95% CI, and the share at each grade.

    The ``exact`` column is the exact-match share. Consultations scored before grades were kept are
    left out, and a line says how many.
    """
    if a.grades:
        t = Table(title="diagnosis grade (5 exact, 4 close, 3 related, 2 unrelated, 1 missing)")
        # The exact column is the exact-match share, kept beside the grade under its own name.
        shown = ["exact (exact-match share)", *DIAGNOSIS_GRADES[1:]]
        for col in ("doctor", "mean grade [95% CI]", "n", *shown):
            t.add_column(col)
        for doctor, g in sorted(a.grades.items(), key=lambda kv: (-kv[1].mean.mean, kv[0])):
            m = g.mean
            t.add_row(
                doctor,
                f"{m.mean:.2f} [{m.low:.2f}, {m.high:.2f}]",
                str(m.n),
                f"{100 * g.exact:.1f}%",
                *(f"{100 * g.shares.get(k, 0.0):.1f}%" for k in DIAGNOSIS_GRADES[1:]),
            )
        out.print(t)
    ungraded = a.consultations - sum(g.mean.n for g in a.grades.values())
    if ungraded > 0:
        out.print(
            f"{ungraded} consultation(s) scored before diagnosis grades were kept are left out of the grade figures "
            f"(arena judge {a.run_id} grades them)"
        )


def print_simulator_shares(a: RunAnalysis) -> None:
    """Print, per doctor, how many failed rubric items the simulated patient or gatekeeper caused."""
    if not a.simulator:
        return
    causes = get_args(SimulatorCause)
    t = Table(title="failures caused by the simulator (asked for, then withheld, denied or contradicted)")
    for col in ("doctor", "failed items", "simulator-caused", "share [95% CI]", *causes):
        t.add_column(col)
    for doctor, sh in a.simulator.items():
        share = "n/a"
        if sh.share is not None and sh.low is not None and sh.high is not None:
            share = f"{100 * sh.share:.1f}% [{100 * sh.low:.1f}%, {100 * sh.high:.1f}%]"
        t.add_row(doctor, str(sh.failed), str(sh.caused), share, *(str(sh.by_cause.get(c, 0)) for c in causes))
    out.print(t)


def print_noise(a: RunAnalysis) -> None:
    """Print each doctor's noise floor: verdict flips and score spread between identical trials.

    A run with one trial per case has none, and the line says how to get it.
    """
    if not a.consultations:
        return
    if not a.noise:
        out.print(f"noise floor: unknown (every case played in one trial); {HOW_TO_GET}")
        return
    t = Table(title="noise floor (between trials of the same case, one format per doctor)")
    for col in ("doctor", "format", "trials", "cases", "flip rate", "items flipped", "trial SD", "floor"):
        t.add_column(col)
    for doctor, nf in a.noise.items():
        t.add_row(
            doctor,
            nf.format,
            str(nf.trials),
            str(nf.cases),
            f"{100 * nf.flip_rate:.1f}%",
            f"{100 * nf.items_flipped:.1f}%",
            f"{nf.trial_sd:.3f}",
            f"{nf.floor:.3f}",
        )
    out.print(t)
    out.print(
        "floor: the smallest difference in mean score from a run of this size on the same cases that exceeds "
        "trial-to-trial noise at 95%"
    )
    for doctor in sorted(set(a.breakdowns.get("doctor", {})) - set(a.noise)):
        out.print(f"noise floor of {doctor}: unknown (no case played in two trials); {HOW_TO_GET}")


def register(app: typer.Typer) -> None:
    """Add the judge, report and compare commands to ``app``."""

    @app.command("judge")
    def judge_cmd(
        run: Annotated[str, typer.Argument(help="Run id or name.")],
        judge: Annotated[list[str] | None, typer.Option("--judge", help="Judge model; repeat for a committee.")] = None,
        rule: Annotated[
            str | None, typer.Option("--rule", help=f"{', '.join(CommitteeRule)} (default: {DEFAULT_RULE}).")
        ] = None,
        diagnosis_judge: Annotated[
            str | None, typer.Option("--diagnosis-judge", help="Chat model grading what the rules call unrelated.")
        ] = None,
        reference: Annotated[
            Path | None, typer.Option("--reference", help="JSONL of consultation_id, item_id, label.")
        ] = None,
        db: DbOpt = None,
    ) -> None:
        """Re-judge a stored run without re-simulating, then print its figures."""
        from arena import pipeline
        from arena.core.store import Store
        from arena.display import make_display
        from judges.analysis import analyze_run, read_labels
        from judges.committee import check_rule
        from judges.diagnosis import diagnosis_judge_model

        checked = DEFAULT_RULE if rule is None else check_rule(rule)
        if diagnosis_judge:
            diagnosis_judge_model(diagnosis_judge)  # a wrong-role name fails here, before any judging
        labels = read_labels(reference) if reference else None
        store = Store(db, create=False)
        n = pipeline.judge(store, run, make_display(), judge, checked, diagnosis_judge)
        out.print(f"judged {n} consultations")
        analysis = analyze_run(store, run, labels)
        print_analysis(analysis)
        print_noise(analysis)

    @app.command("report")
    def report_cmd(
        run: Annotated[str, typer.Argument(help="Run id or name.")],
        html: Annotated[Path | None, typer.Option("--html", help="Also write an HTML report here.")] = None,
        reference: Annotated[
            Path | None, typer.Option("--reference", help="JSONL of consultation_id, item_id, label.")
        ] = None,
        gap_plot: Annotated[
            Path | None,
            typer.Option("--gap-plot", help="Also write the plot of accuracy and score per format as a PNG here."),
        ] = None,
        db: DbOpt = None,
    ) -> None:
        """Print a judged run's leaderboard and figures; optionally write an HTML report."""
        from arena.core.store import Store
        from judges.analysis import analyze_run, read_labels

        store = Store(db, create=False)
        analysis = analyze_run(store, run, read_labels(reference) if reference else None)
        if gap_plot and not analysis.formats:
            raise typer.BadParameter("the run played one format; --gap-plot needs a run with --format all")
        print_analysis(analysis)
        print_noise(analysis)
        if gap_plot:
            from judges.format_plot import save_png

            save_png(analysis.formats, gap_plot)
            out.print(f"wrote {gap_plot}")
        if html:
            from judges.report_html import write_report

            wanted = {b.consultation_id for b in analysis.worst}
            transcripts = {t.id: t for t in store.transcripts(analysis.run_id) if t.id in wanted}
            verdicts: dict[str, list[Verdict]] = {c: [] for c in wanted}
            for v in store.verdicts(analysis.run_id):
                if v.consultation_id in wanted:
                    verdicts[v.consultation_id].append(v)
            write_report(analysis, transcripts, verdicts, html)
            out.print(f"wrote {html}")

    @app.command("compare")
    def compare_cmd(
        run_a: Annotated[str, typer.Argument(help="Baseline run.")],
        run_b: Annotated[str, typer.Argument(help="Run compared with it.")],
        db: DbOpt = None,
    ) -> None:
        """Per-doctor and per-axis score differences (B - A) with bootstrap 95% intervals."""
        from arena.core.store import Store
        from judges.comparison import compare_runs

        rows = compare_runs(Store(db, create=False), run_a, run_b)
        t = Table(title=f"{run_b} minus {run_a}")
        for col in ("dimension", "group", "A", "B", "B - A [95% CI]", "noise floor", "beyond noise"):
            t.add_column(col)
        for r in rows:
            t.add_row(
                r.dimension,
                r.group,
                f"{r.a:.3f} (n={r.n_a})",
                f"{r.b:.3f} (n={r.n_b})",
                f"{r.diff:+.3f} [{r.low:+.3f}, {r.high:+.3f}]",
                _floor_cell(r.floor, r.floor_basis),
                "unknown" if r.exceeds is None else "yes" if r.exceeds else "no",
            )
        out.print(t)
        print_floor_notes([r.floor_basis for r in rows])


def _floor_cell(floor: float | None, basis: str) -> str:
    if floor is None:
        return "unknown"
    return f"{floor:.3f}" + {"a": " (A's trials)", "b": " (B's trials)"}.get(basis, "")


def print_floor_notes(bases: list[str]) -> None:
    """Say what a comparison's noise floors rest on, and how to get one that is unknown.

    Args:
        bases: Each row's ``floor_basis`` (``both``, ``a``, ``b`` or ``unknown``).
    """
    out.print(
        "noise floor: the smallest |B - A| that trial-to-trial noise alone would not give (95%), for runs on "
        "the same cases"
    )
    if "a" in bases or "b" in bases:
        out.print("a floor from one run's trials assumes the other run is as noisy")
    if "unknown" in bases:
        out.print(f"noise floor unknown where neither run played a case in two trials: {HOW_TO_GET}")
