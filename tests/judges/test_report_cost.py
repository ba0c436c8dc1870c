"""The cost of care in `arena report` and its HTML page: per doctor, with intervals, beside the score."""

import re
from statistics import mean

from sqlalchemy import text

from arena.cli import main
from arena.core.store import Store
from arena.core.types import CareCost, CareItem, Estimate, Run, RunConfig
from arena.runner import ActorSettings, Job, run_jobs
from cases.synthesizer import generate
from judges.analysis import cost_figures
from judges.report_html import cost_chart, cost_rows, render_report
from tests.judges.test_report_html import make_analysis, make_transcripts, make_verdicts, parse

THOROUGH = "builtin/checklist?diligence=1.0"
HASTY = "builtin/checklist?diligence=0.3"
RUN = "run-cost"


def _store_two_doctors(url: str, n: int = 8) -> Store:
    """A judged run in which two checklist doctors of different diligence play the same cases (no Ray)."""
    store = Store(url)
    cases = generate(n, seed=3)
    store.create_run(Run(id=RUN, name="cost", config=RunConfig(cases=n, doctors=[THOROUGH, HASTY])), cases)
    jobs = [
        Job(consultation_id=f"{RUN}/{c.id}/{k}", case_id=c.id, trial=0, seed=i, doctor=d)
        for i, c in enumerate(cases)
        for k, d in enumerate((THOROUGH, HASTY))
    ]
    settings = ActorSettings(run_id=RUN, patient="builtin/patient", max_turns=20)
    run_jobs(store, settings, {c.id: c for c in cases}, jobs, concurrency=4, in_process=True)
    assert main(["judge", RUN, "--db", url]) == 0
    return store


def _bills(store: Store) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {THOROUGH: [], HASTY: []}
    for t in store.transcripts(RUN):
        if t.care is not None:
            out[t.doctor].append(t.care.total)
    return out


def test_report_shows_each_doctor_s_cost_beside_its_score(db_url, tmp_path, capsys):
    store = _store_two_doctors(db_url)
    bills = _bills(store)
    thorough, hasty = mean(bills[THOROUGH]), mean(bills[HASTY])
    assert len(bills[THOROUGH]) == len(bills[HASTY]) == 8
    assert hasty < thorough  # ordering less, the hasty doctor costs less
    capsys.readouterr()

    html = tmp_path / "report.html"
    assert main(["report", RUN, "--html", str(html), "--db", db_url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    block = out[out.index("cost of care per consultation (USD") : out.index("mean cost per consultation")]
    rows = re.findall(r"│ (builtin/checklist\?diligence=[\d.]+) │ ([\d.]+) \[([\d.]+), ([\d.]+)\] │ (\d+) │", block)
    assert [(d, float(m), int(n)) for d, m, _, _, n in rows] == [
        (HASTY, round(hasty, 2), 8),  # cheapest first
        (THOROUGH, round(thorough, 2), 8),
    ]
    for _, m, low, high, _ in rows:
        assert float(low) <= float(m) <= float(high)
    overall = mean(bills[THOROUGH] + bills[HASTY])
    assert f"mean cost per consultation USD {overall:.2f} [" in out
    assert "without a cost record" not in out

    page = html.read_text()
    assert page.count("<svg") == 3  # per axis, heatmap, score against cost
    table = parse(page).rows["cost"]
    assert table[0] == ["Doctor", "Mean cost (USD)", "95% CI", "n", "Mean score", "95% CI"]
    assert [(r[0], r[1], r[3]) for r in table[1:]] == [(HASTY, f"{hasty:.2f}", "8"), (THOROUGH, f"{thorough:.2f}", "8")]
    assert table[1][1] != table[2][1]
    section = page[page.index('<section id="cost">') :]
    svg = section[section.index("<svg") : section.index("</svg>")]
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert HASTY in labels and THOROUGH in labels
    assert any("mean cost per consultation, USD" in t for t in labels)


def test_consultations_without_cost_are_left_out_and_counted(db_url, capsys):
    store = _store_two_doctors(db_url, n=4)
    # As an older database holds them: three consultations of the thorough doctor have no record.
    with store.engine.begin() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                text("select id from consultations where doctor = :d order by id limit 3"), {"d": THOROUGH}
            )
        ]
        conn.execute(text(f"update consultations set care = NULL where id in ({','.join(repr(i) for i in ids)})"))
    bills = _bills(store)
    assert (len(bills[THOROUGH]), len(bills[HASTY])) == (1, 4)
    capsys.readouterr()
    assert main(["report", RUN, "--db", db_url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "3 consultation(s) without a cost record in USD" in out
    assert f"│ {THOROUGH} │ {bills[THOROUGH][0]:.2f} [" in out
    assert f"mean cost per consultation USD {mean(bills[THOROUGH] + bills[HASTY]):.2f} [" in out
    assert " n=5" in out


# --------------------------------------------------------------------------- the figures and the page alone


def _care(total: float, currency: str = "USD") -> CareCost:
    return CareCost(currency=currency, total=total, items=[CareItem(item="visit", price=total)])


def test_cost_figures_count_what_they_leave_out():
    doctors = {"c1": "a", "c2": "a", "c3": "b", "c4": "b", "c5": "b"}
    care = {"c1": _care(100.0), "c2": _care(300.0), "c3": _care(50.0), "c5": _care(9.0, "EUR"), "zz": _care(1e6)}
    fig = cost_figures(care, doctors)
    assert fig is not None and fig.currency == "USD"
    assert fig.missing == 2  # c4 has no record, c5 is in another currency; zz is not a counted consultation
    assert fig.by_doctor["a"].mean == 200.0 and fig.by_doctor["a"].n == 2
    assert fig.by_doctor["a"].low >= 100.0 and fig.by_doctor["a"].high <= 300.0
    assert fig.by_doctor["b"].mean == 50.0 and fig.by_doctor["b"].n == 1
    assert fig.overall.mean == 150.0 and fig.overall.n == 3
    empty = cost_figures({}, {"c1": "a"})
    assert empty is not None and empty.by_doctor == {} and empty.missing == 1 and empty.currency == "USD"
    assert cost_figures(care, {}) is None


def _est(m: float, low: float, high: float, n: int) -> Estimate:
    return Estimate(mean=m, low=low, high=high, n=n)


def test_the_page_shows_a_doctor_without_a_score_and_plots_only_scored_ones():
    fig = cost_figures(
        {"x1": _care(420.0), "x2": _care(180.0), "x3": _care(200.0)}, {"x1": "doc-a", "x2": "doc-b", "x3": "ghost"}
    )
    a = make_analysis().model_copy(update={"cost": fig})
    page = render_report(a, make_transcripts(), make_verdicts())
    assert page.count("<svg") == 3
    rows = parse(page).rows["cost"][1:]
    assert rows == [
        ["doc-b", "180.00", "[180.00, 180.00]", "1", "0.466", "[0.380, 0.550]"],
        ["ghost", "200.00", "[200.00, 200.00]", "1", "–", "–"],
        ["doc-a", "420.00", "[420.00, 420.00]", "1", "0.700", "[0.600, 0.800]"],
    ]
    svg = page[page.index('<section id="cost">') :]
    svg = svg[: svg.index("</svg>")]
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "doc-a" in labels and "doc-b" in labels and "ghost" not in labels
    assert 'id="cost-missing"' not in page


def test_the_page_says_when_no_consultation_has_a_cost():
    a = make_analysis().model_copy(update={"cost": cost_figures({}, {"c1": "doc-a", "c2": "doc-b"})})
    page = render_report(a, make_transcripts(), make_verdicts())
    section = page[page.index('<section id="cost">') : page.index("</section>", page.index('<section id="cost">'))]
    assert "No consultation has a cost record." in section
    assert "<svg" not in section
    assert "2 consultation(s) without a cost record in USD" in section


def test_the_cost_chart_needs_a_scored_doctor():
    rows = cost_rows(cost_figures({"c1": _care(10.0)}, {"c1": "solo"}), {})
    assert [r.doctor for r in rows] == ["solo"] and rows[0].score is None
    assert cost_chart(rows, "USD") == ""
    scored = cost_rows(cost_figures({"c1": _care(10.0)}, {"c1": "solo"}), {"solo": _est(0.5, 0.4, 0.6, 1)})
    assert cost_chart(scored, "USD").startswith("<svg")
    assert cost_rows(None, {}) == []


def test_a_page_without_cost_figures_has_no_cost_section():
    page = render_report(make_analysis(), {}, {})
    assert make_analysis().cost is None
    assert 'id="cost"' not in page
