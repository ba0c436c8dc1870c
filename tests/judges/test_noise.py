"""The noise floor on runs whose verdict flips and scores between trials are set by hand.

Every expected figure is worked out in the comments and written as arithmetic here,
never taken from the code under test.
"""

import math
import re

from arena.cli import main
from arena.core.store import Store
from arena.core.types import Run, RunConfig, Score, Transcript, Verdict, utcnow
from cases.loader import builtin_cases
from judges.analysis import analyze_run
from judges.committee import COMMITTEE
from judges.comparison import compare_runs

DOC = "builtin/checklist?diligence=0.5"
OTHER = "builtin/checklist?diligence=0.9"
ITEMS = ("i1", "i2", "i3", "i4")
M, N, U = "met", "not_met", "unscored"

# One doctor, three cases, three trials, four one-point items. The outcomes of
# each (case, item) across trials 0, 1, 2 (unscored left out of the pairs):
#   A: i1 M M M (0 of 3 pairs differ), i2 M N M (2 of 3), i3 N N N (0), i4 N N N (0)
#   B: i1..i3 M M M (0 of 9), i4 M M U (one scored pair, 0 differ)
#   C: i1 N M N (2 of 3), i2 N N N (0), i3 N M M (2 of 3), i4 N N N (0)
# Pairs: 4*3 + 3*3 + 1 + 4*3 = 34, of which 2 + 2 + 2 = 6 differ.
# (case, item) scored in two trials or more: 12, of which A/i2, C/i1, C/i3 flip.
OUTCOMES = {
    "A": [(M, M, N, N), (M, N, N, N), (M, M, N, N)],
    "B": [(M, M, M, M), (M, M, M, M), (M, M, M, U)],
    "C": [(N, N, N, N), (M, N, M, N), (N, N, M, N)],
}
# Met points over scored points: A 2/4, 1/4, 2/4; B 4/4, 4/4, 3/3; C 0/4, 2/4, 1/4.
SCORES = {"A": [0.5, 0.25, 0.5], "B": [1.0, 1.0, 1.0], "C": [0.0, 0.5, 0.25]}
# Within-case squares: A mean 5/12, (1/12)^2 + (2/12)^2 + (1/12)^2 = 6/144; B 0;
# C mean 1/4, (1/4)^2 + (1/4)^2 + 0 = 18/144. Pooled: (24/144) / (3 * 2) = 1/36.
VARIANCE = (6 / 144 + 0 + 18 / 144) / (3 * (3 - 1))
FLOOR = 1.96 * math.sqrt(2 * VARIANCE / 9)  # nine consultations: 1.96 * sqrt(2) / 18


def _cases():
    bank = builtin_cases()
    return {"A": bank[0], "B": bank[1], "C": bank[2]}


def store_run(store: Store, run_id: str, plays: list[tuple[str, str, int, str, float, tuple[str, ...] | None]]) -> str:
    """Store a judged run: for each (doctor, case letter, trial, format, score, outcomes), one consultation.

    Outcomes of None store the score without verdicts.
    """
    cases = _cases()
    store.create_run(Run(id=run_id, name=run_id, config=RunConfig(cases=3, trials=3)), list(cases.values()))
    transcripts, verdicts, scores = [], [], []
    for doctor, letter, trial, fmt, score, outcomes in plays:
        cid = f"{run_id}/{doctor}/{letter}/{fmt}/{trial}"
        case_id = cases[letter].id
        store.start_consultations(
            [
                {
                    "id": cid,
                    "run_id": run_id,
                    "case_id": case_id,
                    "trial": trial,
                    "seed": trial,
                    "doctor": doctor,
                    "patient": "builtin/patient",
                    "persona": "plain",
                    "format": fmt,
                    "started_at": utcnow(),
                }
            ]
        )
        transcripts.append(
            Transcript(
                id=cid,
                run_id=run_id,
                case_id=case_id,
                trial=trial,
                doctor=doctor,
                patient="builtin/patient",
                format=fmt,
                stop_reason="final_answer",
            )
        )
        for item, outcome in zip(ITEMS, outcomes or (), strict=False):
            verdicts.append(
                Verdict(
                    consultation_id=cid, item_id=item, judge=COMMITTEE, outcome=outcome, points=1, tags=["axis:history"]
                )
            )
            # A single judge's verdict that always disagrees: only the committee's may count.
            flipped = N if outcome == M else M
            verdicts.append(
                Verdict(consultation_id=cid, item_id=item, judge="builtin/rubric", outcome=flipped, points=1)
            )
        scores.append(Score(consultation_id=cid, overall=score, raw=score, diagnosis="exact"))
    store.finish_consultations(transcripts, {})
    store.replace_judgement(run_id, verdicts, scores)
    return run_id


def known_plays(doctor: str = DOC, shift: dict[str, float] | None = None, trials: int = 3) -> list:
    """The hand-made dialogue run above, with each case's scores shifted by ``shift``."""
    return [
        (doctor, letter, t, "dialogue", SCORES[letter][t] + (shift or {}).get(letter, 0.0), OUTCOMES[letter][t])
        for letter in "ABC"
        for t in range(trials)
    ]


def test_flip_rate_items_flipped_sd_and_floor_match_the_hand_count(store):
    vignette = [
        (DOC, letter, t, "vignette", float(t % 2), (M, N, M, N) if t % 2 else (N, M, N, M))
        for letter in "AB"
        for t in range(3)
    ]
    solo = [(OTHER, letter, 0, "dialogue", 0.5, (M, M, N, N)) for letter in "ABC"]
    only_vignette = [(OTHER + "&v", "A", t, "vignette", 0.25 * t, (M, N, N, N)) for t in range(2)]
    run = store_run(store, "run-known", known_plays() + vignette + solo + only_vignette)

    noise = analyze_run(store, run).noise

    # The vignette consultations (every verdict flipping, scores 0 and 1) stay out of DOC's dialogue figures.
    nf = noise[DOC]
    assert (nf.format, nf.trials, nf.cases, nf.consultations) == ("dialogue", 3, 3, 9)
    assert math.isclose(nf.flip_rate, 6 / 34)
    assert math.isclose(nf.items_flipped, 3 / 12)
    assert math.isclose(nf.trial_sd, 1 / 6)
    assert math.isclose(nf.floor, FLOOR)
    assert math.isclose(nf.floor, 1.96 * math.sqrt(2) / 18)
    # One trial per case: no floor for that doctor.
    assert OTHER not in noise
    # A doctor that played only vignettes is measured in them: scores 0 and 0.25, one case.
    nv = noise[OTHER + "&v"]
    assert (nv.format, nv.trials, nv.cases, nv.consultations) == ("vignette", 2, 1, 2)
    assert (nv.flip_rate, nv.items_flipped) == (0.0, 0.0)
    # Two values 0 and 0.25: squares 2 * 0.125^2 over one degree of freedom.
    assert math.isclose(nv.trial_sd, math.sqrt(2 * 0.125**2))
    assert math.isclose(nv.floor, 1.96 * math.sqrt(2 * (2 * 0.125**2) / 2))


def test_report_prints_the_noise_floor_or_says_how_to_get_it(store, db_url, tmp_path, capsys):
    store_run(store, "run-three", known_plays())
    store_run(store, "run-one", known_plays(trials=1))
    capsys.readouterr()

    html = tmp_path / "r.html"
    assert main(["report", "run-three", "--html", str(html), "--db", db_url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    row = re.search(re.escape(DOC) + r" │ (\w+) │ (\d+) │ (\d+) │ ([\d.]+)% │ ([\d.]+)% │ ([\d.]+) │ ([\d.]+) │", out)
    assert row is not None, out
    assert row.groups() == (
        "dialogue",
        "3",
        "3",
        f"{100 * 6 / 34:.1f}",
        f"{100 * 3 / 12:.1f}",
        f"{1 / 6:.3f}",
        f"{FLOOR:.3f}",
    )
    page = html.read_text()
    section = page[page.index('<section id="noise">') : page.index("</section>", page.index('<section id="noise">'))]
    assert f'<td class="num">{100 * 6 / 34:.1f}%</td>' in section
    assert f'<td class="num">{FLOOR:.3f}</td>' in section

    assert main(["report", "run-one", "--html", str(html), "--db", db_url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "noise floor: unknown (every case played in one trial); run with --trials 2 or more" in out
    page = html.read_text()
    section = page[page.index('<section id="noise">') :]
    assert "No noise floor: every case was played in one trial (run with --trials 2 or more)" in section


def test_compare_marks_differences_above_and_below_the_floor(store, db_url, capsys):
    a = store_run(store, "run-a", known_plays())
    # B: cases A and C a quarter point higher in every trial, so the same within-case
    # spread (floor as A's) and a mean higher by 0.25 * 6 / 9 = 1/6 > FLOOR = 0.154.
    b = store_run(store, "run-b", known_plays(shift={"A": 0.25, "C": 0.25}))
    # C: case A only, 0.25 * 3 / 9 = 1/12 < FLOOR.
    c = store_run(store, "run-c", known_plays(shift={"A": 0.25}))
    # D and E: one trial per case.
    d = store_run(store, "run-d", known_plays(trials=1))
    e = store_run(store, "run-e", known_plays(trials=1, shift={"A": 0.25}))

    def row(x: str, y: str, dimension: str):
        return next(r for r in compare_runs(store, x, y) if r.dimension == dimension)

    above = row(a, b, "doctor")
    assert math.isclose(above.diff, 1 / 6) and above.group == DOC
    # Equal noise in both runs: 1.96 * sqrt(s^2/9 + s^2/9), each run's own floor.
    assert above.floor is not None and math.isclose(above.floor, FLOOR)
    assert (above.floor_basis, above.exceeds) == ("both", True)
    # Both runs' floors combine as sqrt((fa^2 + fb^2) / 2).
    fa, fb = analyze_run(store, a).noise[DOC].floor, analyze_run(store, b).noise[DOC].floor
    assert math.isclose(above.floor, math.sqrt((fa**2 + fb**2) / 2))
    overall = row(a, b, "overall")
    assert overall.floor is not None and math.isclose(overall.floor, FLOOR) and overall.exceeds is True

    below = row(a, c, "doctor")
    assert math.isclose(below.diff, 1 / 12)
    assert below.floor is not None and math.isclose(below.floor, FLOOR)
    assert (below.floor_basis, below.exceeds) == ("both", False)

    # One run with trials: its variance stands in for the other's, over three consultations:
    # 1.96 * sqrt(VARIANCE / 9 + VARIANCE / 3) = 1.96 * (1/6) * (2/3).
    one = row(a, d, "doctor")
    assert one.floor is not None and math.isclose(one.floor, 1.96 * math.sqrt(VARIANCE / 9 + VARIANCE / 3))
    assert math.isclose(one.floor, 1.96 / 9)
    assert math.isclose(one.diff, (0.5 + 1.0 + 0.0) / 3 - 5 / 9)
    assert (one.floor_basis, one.exceeds) == ("a", False)
    assert row(d, a, "doctor").floor_basis == "b"

    none = row(d, e, "doctor")
    assert (none.floor, none.floor_basis, none.exceeds) == (None, "unknown", None)

    capsys.readouterr()
    assert main(["compare", a, b, "--db", db_url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert re.search(rf"{re.escape(DOC)} │ [^│]+ │ [^│]+ │ \+0\.167 \[[^]]+\] │ {FLOOR:.3f} │ yes │", out), out
    assert main(["compare", a, c, "--db", db_url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert re.search(rf"{re.escape(DOC)} │ [^│]+ │ [^│]+ │ \+0\.083 \[[^]]+\] │ {FLOOR:.3f} │ no │", out), out
    assert main(["compare", a, d, "--db", db_url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"{1.96 / 9:.3f} (A's trials) │ no │" in out
    assert "assumes the other run is as noisy" in out
    assert main(["compare", d, e, "--db", db_url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert re.search(rf"{re.escape(DOC)} │ [^│]+ │ [^│]+ │ [^│]+ │ unknown │ unknown │", out), out
    assert "noise floor unknown where neither run played a case in two trials: run with --trials 2 or more" in out
