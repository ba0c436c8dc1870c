from __future__ import annotations

from tests.tui import data
from tests.tui.conftest import fixed_clock
from tui.follow import RunFollower


def test_follower_tracks_a_live_run_incrementally(store):
    bank = data.cases()
    data.create_run(store, n_cases=4)
    a_case, b_case, c_case = bank["acs-stemi"], bank["dka"], bank["gord"]
    a = data.start(store, a_case, started=data.at(0))
    b = data.start(store, b_case, started=data.at(1))
    a_turns = data.script(a_case, a, data.at(0))
    store.add_turns(data.RUN_ID, a_turns[:3])

    f = RunFollower(store, data.RUN_ID, clock=fixed_clock(data.at(30)), signature_every_s=0)
    first = f.poll()
    assert first.added == {a, b}
    assert f.views[a].turns == 3 and f.views[b].turns == 0
    assert f.usage["doctor"].calls == 1
    p = f.progress()
    assert (p.planned, p.done, p.running, p.failed) == (4, 0, 2, 0)

    # More turns, a third consultation, the first one finishing, the second failing.
    store.add_turns(data.RUN_ID, a_turns[3:6])
    c = data.start(store, c_case, started=data.at(2))
    update = f.poll()
    assert update.added == {c}
    assert [t.turn.index for t in update.turns] == [3, 4, 5]
    assert f.views[a].turns == 6 and f.usage["doctor"].calls == 3

    store.finish_consultations([data.transcript(a_case, a, a_turns)], {a: 6})
    store.finish_consultations([data.transcript(b_case, b, [], error="RuntimeError: boom")], {})
    update = f.poll()
    assert {a, b} <= update.changed
    assert f.views[a].status == "done" and f.views[a].turns == 10
    # Usage moved from the live turns to the stored total, counted once.
    assert f.usage["doctor"].calls == 5
    assert [v.id for v in f.failures] == [b]
    p = f.progress()
    assert (p.done, p.running, p.failed) == (1, 1, 1)
    assert p.per_min == 2 / 30 * 60 and p.eta_s == 2 / (p.per_min / 60)

    # Nothing new: an empty update that changes no version.
    version = f.version
    assert f.poll().empty and f.version == version


def test_follower_sees_judging_and_distilling(store):
    transcripts = data.finished_run(store)
    f = RunFollower(store, data.RUN_ID, clock=fixed_clock(), signature_every_s=0)
    f.poll()
    assert all(v.score is not None for v in f.views.values() if v.status == "done")
    rows = {r.doctor: r for r in f.doctor_rows()}
    assert rows[data.DOCTOR].failed == 1 and rows[data.OTHER_DOCTOR].scored == 3

    # Re-judging with every verdict flipped changes the scores the follower shows.
    bank = data.cases()
    verdicts, scores = data.judge(transcripts, bank)
    scores = [s.model_copy(update={"overall": 1.0}) for s in scores]
    store.replace_judgement(data.RUN_ID, verdicts, scores)
    update = f.poll()
    assert update.scores_changed
    assert {v.score.overall for v in f.views.values() if v.score} == {1.0}

    store.replace_distillation(data.RUN_ID, [], [])
    assert f.poll().distillation_changed


def test_a_finished_run_has_no_eta_and_a_fixed_duration(store, finished):
    f = RunFollower(store, data.RUN_ID, clock=fixed_clock(data.at(9999)))
    f.poll()
    p = f.progress()
    assert p.elapsed_s == 40 and p.eta_s == 0
    assert p.per_min == 6 / 40 * 60
