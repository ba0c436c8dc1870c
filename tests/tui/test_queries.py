"""The store's read queries as the terminal app uses them (following, listing, browsing)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from arena.core.types import GuardEvent, Turn
from tests.tui import data
from tui.rubric import group_verdicts
from tui.screens.browse import riskiest_first


def test_turns_since_follows_by_seq(store, finished):
    turns = store.turns_since(data.RUN_ID, 0)
    assert len(turns) == sum(len(tr.turns) for tr in finished)
    assert [t.seq for t in turns] == sorted(t.seq for t in turns)
    last = turns[-1].seq
    assert store.turns_since(data.RUN_ID, last) == []
    assert store.max_turn_seq(data.RUN_ID) == last
    one = [t.turn for t in store.turns_since(data.RUN_ID, 0, consultation_id=finished[0].id)]
    assert [t.index for t in one] == list(range(10))
    assert one == finished[0].turns
    guarded = one[4]
    assert guarded.guard == [GuardEvent(claim="I came back from Thailand last week", action="replaced")]
    assert one[6].role == "measurement" and one[6].revealed
    assert store.turns_since(data.RUN_ID, 0, limit=3) == turns[:3]


def test_consultation_rows_are_incremental(store):
    bank = data.cases()
    data.create_run(store, n_cases=4)
    a = data.start(store, bank["acs-stemi"], started=data.at(0))
    rows, cur = store.consultation_rows(data.RUN_ID)
    assert [r.id for r in rows] == [a] and cur.running == {a}

    # Nothing changed: nothing returned.
    rows, cur = store.consultation_rows(data.RUN_ID, cur)
    assert rows == []

    # A new consultation, and the first one finishing.
    b = data.start(store, bank["dka"], started=data.at(5))
    case = bank["acs-stemi"]
    turns = data.script(case, a, data.at(0))
    store.finish_consultations([data.transcript(case, a, turns)], {})
    rows, cur = store.consultation_rows(data.RUN_ID, cur)
    assert {r.id: r.status for r in rows} == {a: "done", b: "running"}
    assert cur.running == {b} and cur.count == 2
    done = next(r for r in rows if r.id == a)
    assert done.n_turns == 10 and done.usage["doctor"].calls == 5

    # A row committed late with an older start time is still found.
    c = data.start(store, bank["migraine"], started=data.at(1))
    rows, cur = store.consultation_rows(data.RUN_ID, cur)
    assert [r.id for r in rows] == [c]
    assert cur.count == 3


def test_polling_a_quiet_run_reads_no_rows(store, finished):
    _rows, cur = store.consultation_rows(data.RUN_ID)
    seen: list[str] = []

    def log(_conn, _cursor, statement, _params, _context, _many):
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", log)
    try:
        rows, cur = store.consultation_rows(data.RUN_ID, cur)
        turns = store.turns_since(data.RUN_ID, store.max_turn_seq(data.RUN_ID))
    finally:
        event.remove(store.engine, "before_cursor_execute", log)
    assert rows == [] and turns == []
    # A finished, quiet run: a count and two index lookups, never a read of the table.
    assert len(seen) == 3
    assert "count(*)" in seen[0]


def test_usage_scores_and_failures(store, finished):
    usage = store.usage_by_role(data.RUN_ID)
    assert usage["doctor"].calls == sum(tr.usage["doctor"].calls for tr in finished)
    assert abs(usage["doctor"].cost_usd - sum(tr.usage["doctor"].cost_usd for tr in finished)) < 1e-9
    doctors = {d.doctor: d for d in store.doctor_scores(data.RUN_ID)}
    assert doctors[data.OTHER_DOCTOR].scored == 3 and doctors[data.DOCTOR].scored == 2
    assert doctors[data.OTHER_DOCTOR].diagnosis_accuracy == 2 / 3
    [failure] = store.failures(data.RUN_ID)
    assert failure.error.startswith("TimeoutError")
    assert store.consultation_status(data.RUN_ID) == {"done": 5, "error": 1}
    [listing] = store.run_listings()
    assert (listing.done, listing.running, listing.failed) == (5, 0, 1)
    assert abs(listing.cost_usd - sum(u.cost_usd for u in usage.values())) < 1e-9
    assert store.run_listings([]) == [] and store.run_listings([data.RUN_ID]) == [listing]
    assert store.find_run(None) == store.find_run("demo") == store.get_run(data.RUN_ID) == listing.run
    assert store.find_run("nope") is None


def test_verdicts_flag_judges_splitting(store, finished):
    case = data.cases()["acs-stemi"]
    verdicts = group_verdicts(store.verdicts(data.RUN_ID, finished[0].id), case)
    assert verdicts.judges == data.JUDGES
    assert [i.item_id for i in verdicts.items] == [r.id for r in case.rubric]
    split = [i for i in verdicts.items if i.split]
    assert [i.item_id for i in split] == [r.id for n, r in enumerate(case.rubric) if n % 4 == 3]
    assert all(i.committee == "unscored" for i in split)
    assert verdicts.items[0].criterion == case.rubric[0].criterion
    assert store.verdict_count(finished[0].id) == 3 * len(case.rubric)


def test_mistakes_and_qa_items_name_their_consultation(store, finished):
    mistakes = riskiest_first(store.mistakes(data.RUN_ID))
    assert mistakes and mistakes[0].risk == "critical"
    one = mistakes[-1].consultation_id
    assert {m.consultation_id for m in store.mistakes(data.RUN_ID, one)} == {one}
    items = store.qa_items(data.RUN_ID)
    sources = store.qa_sources(data.RUN_ID)
    by_mistake = {m.id: m.consultation_id for m in mistakes}
    assert all(sources[i.id] == by_mistake[i.mistake_id] for i in items)
    assert sum(not i.valid for i in items) == 1
    assert store.distillation_signature(data.RUN_ID) == (len(mistakes), len(items))


def test_turn_stats_add_up_in_the_database(store):
    bank = data.cases()
    data.create_run(store, n_cases=1)
    case = bank["appendicitis"]
    cid = data.start(store, case)
    turns = data.script(case, cid, data.T0)
    store.add_turns(data.RUN_ID, turns[:5])
    stats = store.turn_stats([cid], store.max_turn_seq(data.RUN_ID))
    assert stats[cid].turns == 5
    assert stats[cid].usage["doctor"].calls == 2
    assert stats[cid].usage["patient"].prompt_tokens == sum(t.usage.prompt_tokens for t in turns[:5:2])


def test_case_meta_reads_json_paths(store, finished):
    meta = store.case_meta(data.RUN_ID)
    assert meta["acs-stemi"].organ_system == "cardiovascular"
    assert meta["acs-stemi"].diagnosis == data.cases()["acs-stemi"].diagnosis.name
    assert set(store.case_meta(data.RUN_ID, ["dka"])) == {"dka"}
    assert store.case(data.RUN_ID, "dka") == data.cases()["dka"]
    assert store.case(data.RUN_ID, "nope") is None


def test_turn_created_at_round_trips_as_utc(store):
    data.create_run(store, n_cases=1)
    case = data.cases()["gord"]
    cid = data.start(store, case)
    store.add_turns(
        data.RUN_ID, [Turn(consultation_id=cid, index=0, role="patient", content="hi", created_at=data.at(3))]
    )
    [t] = store.turns_since(data.RUN_ID, 0)
    assert t.turn.created_at == data.T0 + timedelta(seconds=3)
