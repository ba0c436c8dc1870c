import math
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from arena.core.types import (
    Agreement,
    ConsultationBrief,
    DoctorAction,
    Estimate,
    FinalAnswer,
    JudgeCalibration,
    RunAnalysis,
    SynthesisRule,
    Synthesized,
    Transcript,
    Turn,
    Verdict,
    Verdict3,
)
from judges import report_html
from judges.report_html import anchor_id, fmt_interval, fmt_num, fmt_pct, render_report, write_report

EVIL = "<script>alert('x')</script>"
C1 = "c1 <script>&"  # an id that is unsafe both as HTML text and as an anchor
C2 = "c2"


def est(mean: float, low: float, high: float, n: int) -> Estimate:
    return Estimate(mean=mean, low=low, high=high, n=n)


def make_analysis() -> RunAnalysis:
    return RunAnalysis(
        run_id="run-42",
        name="Night & day",
        judges=["judge-a", "judge-b"],
        rule="majority",
        consultations=40,
        overall=est(0.583, 0.52, 0.64, 40),
        by_axis={
            "history": est(0.612, 0.5, 0.71, 40),
            "diagnosis": est(0.45, 0.3, 0.6, 38),
            "safety": est(0.875, 0.8, 0.95, 40),
        },
        breakdowns={
            "doctor": {"doc-a": est(0.7, 0.6, 0.8, 20), "doc-b": est(0.466, 0.38, 0.55, 20)},
            "organ_system": {"cardiovascular": est(0.55, 0.45, 0.65, 25), "respiratory": est(0.63, 0.5, 0.75, 15)},
            "complaint": {"chest_pain": est(0.51, 0.4, 0.62, 25)},
            "difficulty": {"hard": est(0.321, 0.2, 0.44, 10)},
            "persona": {"plain": est(0.583, 0.52, 0.64, 40)},
        },
        heatmap={
            "doc-a": {"cardiovascular": 0.8, "respiratory": 0.4},
            "doc-b": {"cardiovascular": 0.25},  # respiratory is missing
        },
        diagnosis={"exact": 0.45, "partial": 0.2, "wrong": 0.25, "missing": 0.1},
        pass_k={1: 0.6, 2: 0.42},
        agreement=[
            Agreement(
                scope="all",
                judges=["judge-a", "judge-b"],
                items=120,
                fleiss_kappa=0.512,
                krippendorff_alpha=None,
                cohen={"judge-a | judge-b": 0.433},
                split=3,
                percent_agreement=0.875,
            )
        ],
        calibration=[JudgeCalibration(judge="judge-a", n=20, accuracy=0.9, precision=None, recall=0.75)],
        worst=[
            ConsultationBrief(
                consultation_id=C1,
                case_id="acs-stemi",
                doctor="doc-b",
                diagnosis_given=f"GERD {EVIL}",
                diagnosis_true="STEMI",
                match="wrong",
                score=0.125,
            ),
            ConsultationBrief(
                consultation_id=C2,
                case_id="pe",
                doctor="doc-a",
                diagnosis_given="",
                diagnosis_true="Pulmonary embolism",
                match="missing",
                score=0.2,
            ),
        ],
    )


def make_transcripts() -> dict[str, Transcript]:
    t1 = Transcript(
        id=C1,
        run_id="run-42",
        case_id="acs-stemi",
        doctor="doc-b",
        patient="builtin/patient",
        turns=[
            Turn(consultation_id=C1, index=0, role="patient", content=f"My chest hurts {EVIL}"),
            Turn(
                consultation_id=C1,
                index=1,
                role="doctor",
                content="Let me listen to your heart.",
                action=DoctorAction(kind="exam", request="auscultation"),
            ),
            Turn(
                consultation_id=C1,
                index=2,
                role="measurement",
                content="Heart sounds normal & regular.",
                synthesized=[
                    Synthesized(topic="cardiovascular_exam", rule=SynthesisRule.REFERENCE_NORMAL, text="normal")
                ],
            ),
        ],
        final=FinalAnswer(diagnosis=f"GERD {EVIL}", differential=["Tom & Jerry syndrome"], plan="Antacids"),
        stop_reason="final_answer",
    )
    t2 = Transcript(
        id=C2,
        run_id="run-42",
        case_id="pe",
        doctor="doc-a",
        patient="builtin/patient",
        turns=[Turn(consultation_id=C2, index=0, role="patient", content="I am short of breath.")],
        stop_reason="max_turns",
    )
    return {C1: t1, C2: t2}


def V(cid: str, item: str, judge: str, outcome: Verdict3, explanation: str = "") -> Verdict:
    return Verdict(
        consultation_id=cid,
        item_id=item,
        judge=judge,
        outcome=outcome,
        points=5.0,
        tags=["axis:history"],
        explanation=explanation,
    )


def make_verdicts() -> dict[str, list[Verdict]]:
    return {
        C1: [
            V(C1, "ask-radiation", "judge-a", "met", f"asked {EVIL}"),
            V(C1, "ask-radiation", "judge-b", "not_met"),
            V(C1, "ask-radiation", "committee", "unscored", "majority of 2 judge(s); judges split"),
            V(C1, "order-ecg", "judge-a", "not_met"),
            V(C1, "order-ecg", "judge-b", "not_met"),
            V(C1, "order-ecg", "committee", "not_met"),
        ],
        C2: [
            V(C2, "ask-onset", "judge-a", "met"),
            V(C2, "ask-onset", "judge-b", "met"),
            V(C2, "ask-onset", "committee", "met"),
        ],
    }


class _Tables(HTMLParser):
    """Collect table rows (cell texts) per enclosing section id, and every id and href."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.ids: list[str] = []
        self.hrefs: dict[str, list[str]] = {}
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"] or "")
        if tag == "section":
            self.sections.append(a.get("id") or "")
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a" and a.get("href") and self.sections:
            self.hrefs.setdefault(self.sections[-1], []).append(a["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.sections.pop()
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.setdefault(self.sections[-1] if self.sections else "", []).append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> _Tables:
    p = _Tables()
    p.feed(html)
    p.close()
    return p


@pytest.fixture(scope="module")
def html() -> str:
    return render_report(make_analysis(), make_transcripts(), make_verdicts())


@pytest.fixture(scope="module")
def page(html: str) -> _Tables:
    return parse(html)


def test_formatters() -> None:
    assert fmt_num(0.5) == "0.500"
    assert fmt_num(2, 1) == "2.0"
    assert fmt_num(None) == "n/a"
    assert fmt_num(math.nan) == "n/a"
    assert fmt_pct(0.875) == "87.5%"
    assert fmt_pct(None) == "n/a"
    assert fmt_interval(0.5, 0.71) == "[0.500, 0.710]"
    assert fmt_interval(math.nan, 0.7) == "n/a"


def test_header_shows_run_and_overall_with_interval(html: str) -> None:
    assert "<h1>Night &amp; day</h1>" in html
    assert "<code>run-42</code>" in html
    assert "judge-a, judge-b" in html
    assert "<dd>majority</dd>" in html
    assert "<dd>40</dd>" in html
    assert '<span class="headline" id="overall">0.583</span>' in html
    assert "95% CI [0.520, 0.640], n = 40" in html


def test_axis_table_holds_mean_interval_and_n(page: _Tables) -> None:
    rows = page.rows["axes"]
    assert rows[0] == ["Axis", "Mean", "95% CI", "n"]
    assert rows[1:] == [
        ["history", "0.612", "[0.500, 0.710]", "40"],
        ["diagnosis", "0.450", "[0.300, 0.600]", "38"],
        ["safety", "0.875", "[0.800, 0.950]", "40"],
    ]


def test_heatmap_table_marks_the_missing_cell(page: _Tables) -> None:
    assert page.rows["heatmap"] == [
        ["Doctor", "cardiovascular", "respiratory"],
        ["doc-a", "0.800", "0.400"],
        ["doc-b", "0.250", "–"],
    ]


def test_one_svg_per_plot_with_annotated_heatmap(html: str) -> None:
    assert html.count("<svg") == 2
    heat = html[html.index('<section id="heatmap">') :]
    heat = heat[: heat.index("</svg>")]
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", heat)
    for value in ("0.80", "0.40", "0.25", "–"):
        assert value in texts
    # self-contained: no script, no external resource, no XML prologue inside the page
    assert "<?xml" not in html
    assert not re.search(r"""(src|href)=["']https?:""", html)


def test_svg_ids_are_unique_across_the_page(html: str) -> None:
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_breakdown_tables_for_every_dimension(page: _Tables) -> None:
    rows = page.rows["breakdowns"]
    assert ["doc-a", "0.700", "[0.600, 0.800]", "20"] in rows
    assert ["doc-b", "0.466", "[0.380, 0.550]", "20"] in rows
    assert ["respiratory", "0.630", "[0.500, 0.750]", "15"] in rows
    assert ["chest_pain", "0.510", "[0.400, 0.620]", "25"] in rows
    assert ["hard", "0.321", "[0.200, 0.440]", "10"] in rows
    assert ["plain", "0.583", "[0.520, 0.640]", "40"] in rows
    headers = [r[0] for r in rows if r[1] == "Mean"]
    assert headers == ["doctor", "organ system", "complaint", "difficulty", "persona"]


def test_diagnosis_shares_and_pass_k(page: _Tables) -> None:
    rows = page.rows["diagnosis"]
    assert rows[1:5] == [["exact", "45.0%"], ["partial", "20.0%"], ["wrong", "25.0%"], ["missing", "10.0%"]]
    assert ["1", "0.600"] in rows
    assert ["2", "0.420"] in rows


def test_agreement_row_shows_na_for_none(page: _Tables) -> None:
    header, row = page.rows["agreement"]
    assert header[3:7] == ["Fleiss κ", "Krippendorff α", "Agreement", "Split items"]
    assert row == ["all", "2", "120", "0.512", "n/a", "87.5%", "3", "judge-a | judge-b: 0.433"]


def test_calibration_table(page: _Tables) -> None:
    assert page.rows["calibration"][1] == ["judge-a", "20", "90.0%", "n/a", "75.0%"]


def test_worst_rows_link_to_existing_safe_anchors(page: _Tables) -> None:
    links = page.hrefs["worst"]
    assert len(links) == 2
    for link in links:
        assert link.startswith("#c-")
        assert re.fullmatch(r"#c-[A-Za-z0-9_-]+", link)
        assert page.ids.count(link[1:]) == 1
    assert links == [f"#{anchor_id(C1)}", f"#{anchor_id(C2)}"]
    # rows carry the escaped data and formatted score
    assert page.rows["worst"][1] == [C1, "acs-stemi", "doc-b", f"GERD {EVIL}", "STEMI", "wrong", "0.125"]


def test_anchor_ids_are_safe_and_distinct() -> None:
    assert anchor_id("abc-1_2") == "c-abc-1_2"
    a, b = anchor_id("a b"), anchor_id("a_b")
    assert a != b
    assert re.fullmatch(r"c-[A-Za-z0-9_-]+", a)
    assert re.fullmatch(r"c-[A-Za-z0-9_-]+", anchor_id('"><script>'))
    assert re.fullmatch(r"c-[A-Za-z0-9_-]+", anchor_id(""))


def test_data_text_is_escaped(html: str) -> None:
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "Tom &amp; Jerry syndrome" in html
    assert "Heart sounds normal &amp; regular." in html
    assert "Tom & Jerry" not in html


def test_transcript_sections_show_turns_final_and_verdicts(html: str) -> None:
    start = html.index(f'id="{anchor_id(C1)}"')
    sec = html[start : html.index("</section>", start)]
    assert '<div class="turn role-patient">' in sec
    assert '<div class="turn role-doctor">' in sec
    assert '<div class="turn role-measurement">' in sec
    assert "exam: auscultation" in sec
    # A made-up result is told apart from the case's findings.
    assert "synthesized: cardiovascular_exam (reference normal)" in sec
    assert "<strong>Diagnosis:</strong> GERD &lt;script&gt;" in sec
    assert "Antacids" in sec
    assert "<th>judge-a</th><th>judge-b</th><th>committee</th>" in sec
    rows = parse(f"<section id='s'>{sec}</section>").rows["s"]
    by_item = {r[0]: r for r in rows[1:]}
    assert by_item["ask-radiation split"][3].startswith("met asked <script>")
    assert by_item["ask-radiation split"][4] == "not met"
    assert by_item["ask-radiation split"][5].startswith("unscored")
    assert by_item["order-ecg"][3:] == ["not met", "not met", "not met"]
    assert sec.count('class="split"') == 1

    start2 = html.index(f'id="{anchor_id(C2)}"')
    sec2 = html[start2 : html.index("</section>", start2)]
    assert "No final answer." in sec2
    assert "max turns" in sec2
    assert "split" not in sec2


def test_missing_transcript_is_reported_not_raised() -> None:
    out = render_report(make_analysis(), {C2: make_transcripts()[C2]}, {})
    start = out.index(f'id="{anchor_id(C1)}"')
    assert "Transcript not available." in out[start : out.index("</section>", start)]


def test_single_doctor_heatmap_and_no_axes() -> None:
    a = make_analysis().model_copy(update={"by_axis": {}, "heatmap": {"solo": {"renal": 0.5, "skin": 0.0}}})
    out = render_report(a, make_transcripts(), make_verdicts())
    assert out.count("<svg") == 1
    assert "No per-axis scores." in out
    assert parse(out).rows["heatmap"] == [["Doctor", "renal", "skin"], ["solo", "0.500", "0.000"]]


def test_empty_analysis_renders() -> None:
    a = RunAnalysis(
        run_id="r0",
        name="empty",
        judges=[],
        rule="majority",
        consultations=0,
        overall=Estimate(mean=math.nan, low=math.nan, high=math.nan, n=0),
    )
    out = render_report(a, {}, {})
    assert out.startswith("<!DOCTYPE html>")
    assert out.rstrip().endswith("</html>")
    assert "<svg" not in out
    assert '<span class="headline" id="overall">n/a</span>' in out
    assert "No consultations listed." in out
    assert "No agreement figures" in out
    assert 'id="calibration"' not in out
    assert 'class="consultation"' not in out


def test_render_is_deterministic() -> None:
    args = (make_analysis(), make_transcripts(), make_verdicts())
    assert render_report(*args) == render_report(*args)


def test_write_report_is_atomic(tmp_path: Path, html: str) -> None:
    target = tmp_path / "report.html"
    write_report(make_analysis(), make_transcripts(), make_verdicts(), target)
    assert os.listdir(tmp_path) == ["report.html"]
    assert target.read_text(encoding="utf-8") == html


def test_write_report_failure_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")

    def boom(src: str, dst: str) -> None:
        assert Path(src).parent == tmp_path  # the temp file sits beside the target
        assert Path(src).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        raise OSError("disk full")

    monkeypatch.setattr(report_html.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_report(make_analysis(), make_transcripts(), make_verdicts(), target)
    assert os.listdir(tmp_path) == ["report.html"]
    assert target.read_text(encoding="utf-8") == "old"
