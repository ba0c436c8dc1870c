"""Each consultation's cost of care reaches the store and comes back, on every path that saves one."""

from sqlalchemy import text

from arena.core.store import Store
from arena.core.types import CareCost, CareItem, Run, RunConfig, Transcript, utcnow
from arena.runner import ActorSettings, Job, run_jobs
from cases.loader import select_cases
from cases.prices import care_cost
from tests.conftest import consult, start_consultation


def _run(store: Store, case) -> None:
    store.create_run(Run(id="r1", name="first", config=RunConfig(cases=1)), [case])


def test_a_played_consultation_s_care_round_trips(store, stemi):
    _run(store, stemi)
    start_consultation(store, "r1/c/t0")
    tr, _ = consult(stemi, diligence=1.0, cid="r1/c/t0")
    assert tr.care is not None and len(tr.care.items) > 1
    store.finish_consultations([tr], {})
    [back] = list(store.transcripts("r1"))
    assert back.care == tr.care
    assert back.care is not None and back.care.items[1].turn is not None
    assert store.care_costs("r1") == {"r1/c/t0": tr.care}


def test_a_consultation_without_care_reads_back_without_it(store, stemi):
    _run(store, stemi)
    store.start_consultations(
        [
            {
                "id": f"r1/c/t{trial}",
                "run_id": "r1",
                "case_id": "acs-stemi",
                "trial": trial,
                "seed": 0,
                "doctor": "d",
                "patient": "p",
                "persona": "plain",
                "started_at": utcnow(),
            }
            for trial in range(3)
        ]
    )
    priced = CareCost(currency="USD", total=200.0, items=[CareItem(item="visit", price=200.0)])

    def tr(trial: int, care: CareCost | None) -> Transcript:
        return Transcript(
            id=f"r1/c/t{trial}",
            run_id="r1",
            case_id="acs-stemi",
            trial=trial,
            doctor="d",
            patient="p",
            stop_reason="max_turns",
            care=care,
        )

    store.finish_consultations([tr(0, priced), tr(1, None), tr(2, priced)], {})
    # An older database: its rows were written before the column existed.
    with store.engine.begin() as conn:
        conn.execute(text("update consultations set care = NULL where id = 'r1/c/t2'"))
    back = {t.id: t.care for t in store.transcripts("r1")}
    assert back == {"r1/c/t0": priced, "r1/c/t1": None, "r1/c/t2": None}
    assert store.care_costs("r1") == {"r1/c/t0": priced}


def test_the_driver_saves_care_though_workers_send_transcripts_without_turns(db_url, bank):
    store = Store(db_url)
    cases = select_cases(bank, 4)
    store.create_run(Run(id="r1", name="r1", config=RunConfig(cases=4)), cases)
    settings = ActorSettings(run_id="r1", patient="builtin/patient", max_turns=20)
    jobs = [
        Job(consultation_id=f"r1/{c.id}/t0", case_id=c.id, trial=0, seed=i, doctor="builtin/checklist?diligence=1.0")
        for i, c in enumerate(cases)
    ]
    done: list[Transcript] = []
    # Two batches, as a resumed run plays what the first one left.
    for batch in (jobs[:2], jobs[2:]):
        run_jobs(store, settings, {c.id: c for c in cases}, batch, concurrency=2, in_process=True, on_done=done.append)
    assert all(t.turns == [] and t.care is not None for t in done)
    stored = {t.id: t for t in store.transcripts("r1")}
    costs = store.care_costs("r1")
    assert sorted(costs) == sorted(stored) == sorted(j.consultation_id for j in jobs)
    by_case = {c.id: c for c in cases}
    for cid, t in stored.items():
        # Priced again from the turns the store holds: the saved record is that consultation's bill.
        assert costs[cid] == t.care == care_cost(t.turns, by_case[t.case_id])
        assert costs[cid].total > costs[cid].items[0].price  # every one of them ordered something
