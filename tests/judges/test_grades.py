"""Grade figures per doctor, in the analysis, the terminal report and the HTML report."""

import re

import pytest

from arena.cli import main
from arena.core.store import Store
from arena.core.types import DIAGNOSIS_GRADES, Estimate, GradeFigures, Score
from judges.analysis import analyze_run, estimate
from judges.grades import figures, grade_figures
from judges.report_html import render_report
from tests.conftest import store_run
from tests.judges.test_report_html import make_analysis, make_transcripts, make_verdicts, parse


def score(cid: str, grade: str | None) -> Score:
    match = {"exact": "exact", "close": "partial", "missing": "missing", None: "wrong"}.get(grade, "wrong")
    return Score(consultation_id=cid, overall=0.5, raw=0.5, diagnosis=match, grade=grade)


def test_figures_per_doctor_by_hand():
    scores = [
        score("a1", "exact"),
        score("a2", "exact"),
        score("a3", "close"),
        score("a4", "missing"),
        score("a5", None),  # scored before grades were kept: left out
        score("b1", "unrelated"),
        score("b2", "related"),
        score("x1", "exact"),  # not a consultation to count
    ]
    doctor_of = {"a1": "a", "a2": "a", "a3": "a", "a4": "a", "a5": "a", "b1": "b", "b2": "b"}
    got = grade_figures(scores, doctor_of)
    assert list(got) == ["a", "b"]
    a, b = got["a"], got["b"]
    assert a.shares == {"exact": 0.5, "close": 0.25, "related": 0.0, "unrelated": 0.0, "missing": 0.25}
    assert a.exact == 0.5
    # (5 + 5 + 4 + 1) / 4
    assert a.mean.mean == pytest.approx(3.75) and a.mean.n == 4
    assert 1.0 <= a.mean.low <= 3.75 <= a.mean.high <= 5.0
    # The same bootstrap as every other estimate of the report.
    assert a.mean == estimate([5, 5, 4, 1])
    assert b.shares == {"exact": 0.0, "close": 0.0, "related": 0.5, "unrelated": 0.5, "missing": 0.0}
    assert b.mean.mean == pytest.approx(2.5) and b.exact == 0.0


def test_no_graded_consultation_gives_no_figures():
    assert grade_figures([score("a1", None)], {"a1": "a"}) == {}
    with pytest.raises(ValueError):
        figures([])


def grade_row(out: str, doctor: str) -> list[str]:
    """The cells of a doctor's row in the grade table (the leaderboard above has a row of the same name)."""
    table = out[out.index("diagnosis grade (") :]
    line = next(ln for ln in table.splitlines() if f"│ {doctor} " in ln)
    return [c.strip() for c in line.strip().strip("│").split("│")]


def test_report_prints_each_doctors_grades_and_leaves_out_ungraded_scores(db_url, capsys):
    store = Store(db_url)
    run = store_run(store, "graded", 0.6, n=8, trials=1)
    assert main(["judge", run, "--judge", "builtin/rubric", "--db", db_url]) == 0
    capsys.readouterr()
    a = analyze_run(store, run)
    g = a.grades["builtin/checklist"]
    assert g.mean.n == a.consultations == 8
    assert sum(g.shares.values()) == pytest.approx(1.0)
    # The exact share is the exact-match share of the diagnosis figures.
    assert g.exact == pytest.approx(a.diagnosis["exact"])

    assert main(["report", run, "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "diagnosis grade (5 exact, 4 close, 3 related, 2 unrelated, 1 missing)" in out
    assert "exact (exact-match share)" in out and all(k in out for k in DIAGNOSIS_GRADES)
    row = grade_row(out, "builtin/checklist")
    m = g.mean
    assert row[1:3] == [f"{m.mean:.2f} [{m.low:.2f}, {m.high:.2f}]", "8"]
    assert row[3:] == [f"{100 * g.shares[k]:.1f}%" for k in DIAGNOSIS_GRADES]
    assert "left out of the grade figures" not in out

    # Two scores as stored before grades were kept: left out, and the report says so.
    scores = store.scores(run)
    old = {s.consultation_id for s in scores[:2]}
    store.replace_judgement(
        run,
        store.verdicts(run),
        [s.model_copy(update={"grade": None}) if s.consultation_id in old else s for s in scores],
    )
    assert analyze_run(store, run).grades["builtin/checklist"].mean.n == 6
    assert main(["report", run, "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert grade_row(out, "builtin/checklist")[2] == "6"
    assert re.search(r"2 consultation\(s\) scored before diagnosis grades were kept are left out", out)


def test_html_report_has_a_grade_table():
    grades = {
        "doc-a": GradeFigures(
            shares={"exact": 0.5, "close": 0.25, "related": 0.125, "unrelated": 0.0, "missing": 0.125},
            mean=Estimate(mean=4.0, low=3.5, high=4.5, n=8),
            exact=0.5,
        ),
        "doc-b": GradeFigures(
            shares={"exact": 0.0, "close": 0.0, "related": 0.0, "unrelated": 1.0, "missing": 0.0},
            mean=Estimate(mean=2.0, low=2.0, high=2.0, n=2),
            exact=0.0,
        ),
    }
    analysis = make_analysis().model_copy(update={"grades": grades, "consultations": 12})
    page = parse(render_report(analysis, make_transcripts(), make_verdicts()))
    rows = page.rows["grades"]
    assert rows[0] == ["Doctor", "Mean grade", "95% CI", "n", *DIAGNOSIS_GRADES]
    assert rows[1] == ["doc-a", "4.00", "[3.50, 4.50]", "8", "50.0%", "25.0%", "12.5%", "0.0%", "12.5%"]
    assert rows[2] == ["doc-b", "2.00", "[2.00, 2.00]", "2", "0.0%", "0.0%", "0.0%", "100.0%", "0.0%"]
    assert "grades-missing" in page.ids  # 12 consultations, 10 graded


def test_html_report_without_grades_says_so():
    html = render_report(make_analysis().model_copy(update={"consultations": 0}), {}, {})
    assert "No graded diagnosis." in html and "grades-missing" not in html
