"""Each case played in every format by the same doctors: what the store, the verdicts and the report hold."""

import asyncio

import pytest

from arena.core.store import Store
from arena.core.types import CONSULT_FORMATS, Run, RunConfig
from arena.display import SilentDisplay
from arena.doctors import ChecklistDoctor, LLMDoctor
from arena.engine import disclosed
from arena.models.registry import chat_model
from arena.pipeline import judge, plan_jobs
from arena.runner import ActorSettings, run_jobs
from cases.synthesizer import generate
from judges.analysis import analyze_run
from judges.committee import COMMITTEE

DOCTORS = ["builtin/checklist?diligence=0.6", "builtin/checklist"]


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """Six cases, two doctors, every format, judged; the store and its run id."""
    url = f"sqlite:///{tmp_path_factory.mktemp('formats') / 'f.db'}"
    store = Store(url)
    cases = generate(6, seed=5)
    config = RunConfig(cases=6, doctors=DOCTORS, formats=list(CONSULT_FORMATS))
    store.create_run(Run(id="rf", name="formats", config=config), cases)
    jobs = plan_jobs("rf", config, cases)
    settings = ActorSettings(run_id="rf", patient=config.patient, max_turns=config.max_turns)
    progress = run_jobs(store, settings, {c.id: c for c in cases}, jobs, concurrency=8, in_process=True)
    assert (progress.done, progress.error) == (36, 0)
    judge(store, "rf", SilentDisplay())
    return store, {c.id: c for c in cases}


def _by_key(store):
    out = {}
    for tr in store.transcripts("rf"):
        out[(tr.case_id, tr.doctor, tr.trial, tr.format)] = tr
    return out


def test_every_case_is_stored_once_per_format_with_the_same_seed(played):
    store, cases = played
    got = _by_key(store)
    assert len(got) == 6 * 2 * 3
    for cid in cases:
        for doctor in DOCTORS:
            seeds = {got[(cid, doctor, 0, f)].seed for f in CONSULT_FORMATS}
            assert len(seeds) == 1


def test_a_vignette_states_every_fact_in_one_message_and_gets_one_answer(played):
    store, cases = played
    for (cid, _doctor, _t, fmt), tr in _by_key(store).items():
        if fmt != "vignette":
            continue
        case = cases[cid]
        assert [t.role for t in tr.turns] == ["case", "doctor"]
        assert tr.turns[0].revealed == [f.id for f in case.facts]
        assert all(f.text in tr.turns[0].content for f in case.facts)
        assert tr.final is not None and tr.stop_reason == "final_answer"


def test_a_summary_states_what_its_dialogue_drew_out_and_no_more(played):
    store, cases = played
    got = _by_key(store)
    for (cid, doctor, t, fmt), tr in got.items():
        if fmt != "summary":
            continue
        case = cases[cid]
        dialogue = got[(cid, doctor, t, "dialogue")]
        told = {fid for turn in dialogue.turns if turn.role in ("patient", "measurement") for fid in turn.revealed}
        told |= {f.id for f in case.facts if f.disclosure == "volunteered"}
        assert set(tr.turns[0].revealed) == told
        hidden = [f for f in case.facts if f.id not in told]
        assert hidden, "a dialogue that drew out every fact tells nothing about summaries"
        assert not any(f"- {f.text}\n" in tr.turns[0].content + "\n" for f in hidden)


def test_items_a_single_message_cannot_meet_are_left_out_of_its_verdicts_and_score(played):
    store, cases = played
    scores = {s.consultation_id: s for s in store.scores("rf")}
    committee: dict[str, set[str]] = {}
    for v in store.verdicts("rf"):
        if v.judge == COMMITTEE:
            committee.setdefault(v.consultation_id, set()).add(v.item_id)
    for (cid, _d, _t, fmt), tr in _by_key(store).items():
        rubric = cases[cid].rubric
        history_or_orders = {i.id for i in rubric if i.check and i.check.kind in ("elicit", "order")}
        assert history_or_orders
        if fmt == "dialogue":
            assert committee[tr.id] == {i.id for i in rubric} and scores[tr.id].left_out == 0
        else:
            assert committee[tr.id] == {i.id for i in rubric} - history_or_orders
            assert scores[tr.id].left_out == len(history_or_orders)


def test_the_report_gives_each_format_and_the_paired_gaps_computed_by_hand(played):
    store, _ = played
    got = _by_key(store)
    scores = {s.consultation_id: s for s in store.scores("rf")}
    a = analyze_run(store, "rf")
    assert a.headline_format == "dialogue" and a.consultations == 12
    gaps = {(g.doctor, g.measure, g.minuend, g.subtrahend): g for g in a.gaps}
    assert len(gaps) == 2 * 2 * 3
    for doctor in DOCTORS:
        for fmt in CONSULT_FORMATS:
            mine = [scores[tr.id] for (_, d, _, f), tr in got.items() if d == doctor and f == fmt]
            accuracy = sum(s.diagnosis in ("exact", "partial") for s in mine) / len(mine)
            assert a.formats[doctor][fmt].accuracy.mean == pytest.approx(accuracy)
            assert a.formats[doctor][fmt].score.mean == pytest.approx(sum(s.overall for s in mine) / len(mine))
        for first, second in (("vignette", "dialogue"), ("summary", "dialogue"), ("vignette", "summary")):
            diffs_acc, diffs_score = [], []
            for (cid, d, t, f), tr in got.items():
                if d != doctor or f != first:
                    continue
                other = scores[got[(cid, d, t, second)].id]
                mine = scores[tr.id]
                diffs_acc.append((mine.diagnosis in ("exact", "partial")) - (other.diagnosis in ("exact", "partial")))
                diffs_score.append(mine.overall - other.overall)
            for measure, diffs in (("accuracy", diffs_acc), ("score", diffs_score)):
                g = gaps[(doctor, measure, first, second)]
                assert g.pairs == 6
                assert g.difference == pytest.approx(sum(diffs) / len(diffs))
                assert g.low <= g.difference + 1e-9 and g.difference <= g.high + 1e-9


def test_answer_options_reach_every_kind_of_doctor():
    options = ["Migraine", "Tension-type headache", "Subarachnoid haemorrhage"]
    llm = LLMDoctor(chat_model("mock/doctor"), max_turns=5, options=options)
    system = llm.messages[0]["content"]
    assert "A) Migraine" in system and "C) Subarachnoid haemorrhage" in system
    assert "A) Migraine" not in LLMDoctor(chat_model("mock/doctor"), max_turns=5).messages[0]["content"]

    from cases.brief import brief_text

    for case in generate(10, seed=2):
        text = brief_text(case, "vignette")
        free, _, _ = asyncio.run(ChecklistDoctor("builtin/checklist", seed=1, diligence=1.0).act([("case", text)], 1))
        options = [d.name for d in case.differentials[:3]] + [case.diagnosis.name]
        doc = ChecklistDoctor("builtin/checklist", seed=1, diligence=1.0, options=options)
        action, _, _ = asyncio.run(doc.act([("case", text)], 1))
        assert action.final is not None and action.final.diagnosis in options
        if free.text in options:
            # Given options, it names its own first choice whenever that is one of them.
            assert action.final.diagnosis == free.text


def test_disclosed_lists_what_the_patient_and_the_results_revealed_once_in_order(played):
    store, _ = played
    tr = next(t for t in store.transcripts("rf") if t.format == "dialogue")
    ids = [fid for t in tr.turns if t.role in ("patient", "measurement") for fid in t.revealed]
    assert list(disclosed(tr)) == list(dict.fromkeys(ids)) and ids


def test_a_run_of_vignettes_only_is_reported_as_such(tmp_path, capsys):
    from arena.cli import main

    url = f"sqlite:///{tmp_path / 'v.db'}"
    store = Store(url)
    cases = generate(3, seed=7)
    config = RunConfig(cases=3, formats=["vignette"])
    store.create_run(Run(id="rv", name="vignettes", config=config), cases)
    settings = ActorSettings(run_id="rv", patient=config.patient, max_turns=config.max_turns)
    run_jobs(store, settings, {c.id: c for c in cases}, plan_jobs("rv", config, cases), concurrency=3, in_process=True)
    judge(store, "rv", SilentDisplay())
    capsys.readouterr()
    assert main(["report", "rv", "--db", url]) == 0
    shown = capsys.readouterr().out
    assert "every consultation is a vignette" in shown and "format gaps" not in shown
    assert main(["report", "rv", "--db", url, "--gap-plot", str(tmp_path / "g.png")]) == 2
    assert not (tmp_path / "g.png").exists()
