from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from arena.core.types import Turn
from tests.tui import data
from tui import queries as q


def test_turns_since_follows_by_seq(store, finished):
    e = store.engine
    turns = q.turns_since(e, data.RUN_ID, 0)
    assert len(turns) == sum(len(tr.turns) for tr in finished)
    assert [t.seq for t in turns] == sorted(t.seq for t in turns)
    last = turns[-1].seq
    assert q.turns_since(e, data.RUN_ID, last) == []
    assert q.max_turn_seq(e, data.RUN_ID) == last
    one = q.turns_since(e, data.RUN_ID, 0, consultation_id=finished[0].id)
    assert [t.idx for t in one] == list(range(10))
    guarded = one[4]
    assert guarded.guard == [{"claim": "I came back from Thailand last week", "action": "replaced"}]
    assert one[6].role == "measurement" and one[6].revealed
    assert q.turns_since(e, data.RUN_ID, 0, limit=3) == turns[:3]


def test_consultation_rows_are_incremental(store):
    bank = data.cases()
    data.create_run(store, n_cases=4)
    e = store.engine
    a = data.start(store, bank["acs-stemi"], started=data.at(0))
    rows, cur = q.consultation_rows(e, data.RUN_ID)
    assert [r.id for r in rows] == [a] and cur.running == {a}

    # Nothing changed: nothing returned.
    rows, cur = q.consultation_rows(e, data.RUN_ID, cur)
    assert rows == []

    # A new consultation, and the first one finishing.
    b = data.start(store, bank["dka"], started=data.at(5))
    case = bank["acs-stemi"]
    turns = data.script(case, a, data.at(0))
    store.finish_consultations([data.transcript(case, a, turns)], {})
    rows, cur = q.consultation_rows(e, data.RUN_ID, cur)
    assert {r.id: r.status for r in rows} == {a: "done", b: "running"}
    assert cur.running == {b} and cur.count == 2
    done = next(r for r in rows if r.id == a)
    assert done.n_turns == 10 and done.usage["doctor"].calls == 5

    # A row committed late with an older start time is still found.
    c = data.start(store, bank["migraine"], started=data.at(1))
    rows, cur = q.consultation_rows(e, data.RUN_ID, cur)
    assert [r.id for r in rows] == [c]
    assert cur.count == 3


def test_polling_a_quiet_run_reads_no_rows(store, finished):
    e = store.engine
    _rows, cur = q.consultation_rows(e, data.RUN_ID)
    seen: list[str] = []

    def log(_conn, _cursor, statement, _params, _context, _many):
        seen.append(statement)

    event.listen(e, "before_cursor_execute", log)
    try:
        rows, cur = q.consultation_rows(e, data.RUN_ID, cur)
        turns = q.turns_since(e, data.RUN_ID, q.max_turn_seq(e, data.RUN_ID))
    finally:
        event.remove(e, "before_cursor_execute", log)
    assert rows == [] and turns == []
    # A finished, quiet run: a count and two index lookups, never a read of the table.
    assert len(seen) == 3
    assert "count(*)" in seen[0]


def test_usage_scores_and_failures(store, finished):
    e = store.engine
    usage = q.usage_by_role(e, data.RUN_ID)
    assert usage["doctor"].calls == sum(tr.usage["doctor"].calls for tr in finished)
    assert abs(usage["doctor"].cost_usd - sum(tr.usage["doctor"].cost_usd for tr in finished)) < 1e-9
    doctors = {d.doctor: d for d in q.doctor_scores(e, data.RUN_ID)}
    assert doctors[data.OTHER_DOCTOR].scored == 3 and doctors[data.DOCTOR].scored == 2
    assert doctors[data.OTHER_DOCTOR].diagnosis_accuracy == 2 / 3
    [failure] = q.failures(e, data.RUN_ID)
    assert failure.error.startswith("TimeoutError")
    assert q.progress(e, data.RUN_ID) == {"done": 5, "error": 1}
    [listing] = q.list_runs(e)
    assert (listing.done, listing.running, listing.failed) == (5, 0, 1)
    assert abs(listing.cost_usd - sum(u.cost_usd for u in usage.values())) < 1e-9
    assert q.find_run(e, None) == q.find_run(e, "demo") == q.get_run(e, data.RUN_ID)
    assert q.find_run(e, "nope") is None


def test_verdicts_flag_judges_splitting(store, finished):
    e = store.engine
    case = data.cases()["acs-stemi"]
    verdicts = q.consultation_verdicts(e, finished[0].id, case)
    assert verdicts.judges == data.JUDGES
    assert [i.item_id for i in verdicts.items] == [r.id for r in case.rubric]
    split = [i for i in verdicts.items if i.split]
    assert [i.item_id for i in split] == [r.id for n, r in enumerate(case.rubric) if n % 4 == 3]
    assert all(i.committee == "unscored" for i in split)
    assert verdicts.items[0].criterion == case.rubric[0].criterion
    assert q.verdict_count(e, finished[0].id) == 3 * len(case.rubric)


def test_mistakes_and_qa_items_name_their_consultation(store, finished):
    e = store.engine
    mistakes = q.mistakes(e, data.RUN_ID)
    assert mistakes and mistakes[0].risk == "critical"
    items = q.qa_items(e, data.RUN_ID)
    by_mistake = {m.id: m.consultation_id for m in mistakes}
    assert all(i.consultation_id == by_mistake[i.mistake_id] for i in items)
    assert sum(not i.valid for i in items) == 1
    assert q.distillation_signature(e, data.RUN_ID) == (len(mistakes), len(items))


def test_turn_stats_add_up_in_the_database(store):
    bank = data.cases()
    data.create_run(store, n_cases=1)
    case = bank["appendicitis"]
    cid = data.start(store, case)
    turns = data.script(case, cid, data.T0)
    store.add_turns(data.RUN_ID, turns[:5])
    stats = q.turn_stats(store.engine, [cid], q.max_turn_seq(store.engine, data.RUN_ID))
    assert stats[cid].turns == 5
    assert stats[cid].usage["doctor"].calls == 2
    assert stats[cid].usage["patient"].prompt_tokens == sum(t.usage.prompt_tokens for t in turns[:5:2])


def test_case_meta_reads_json_paths(store, finished):
    meta = q.case_meta(store.engine, data.RUN_ID)
    assert meta["acs-stemi"].organ_system == "cardiovascular"
    assert meta["acs-stemi"].diagnosis == data.cases()["acs-stemi"].diagnosis.name
    assert set(q.case_meta(store.engine, data.RUN_ID, ["dka"])) == {"dka"}


def test_turn_created_at_round_trips_as_utc(store):
    data.create_run(store, n_cases=1)
    case = data.cases()["gord"]
    cid = data.start(store, case)
    store.add_turns(
        data.RUN_ID, [Turn(consultation_id=cid, index=0, role="patient", content="hi", created_at=data.at(3))]
    )
    [t] = q.turns_since(store.engine, data.RUN_ID, 0)
    assert t.created_at == data.T0 + timedelta(seconds=3)
