import json
import os
import signal
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, update
from sqlmodel import SQLModel

from arena.core.migrations import MIGRATIONS
from arena.core.redaction import REDACTED
from arena.core.store import Store, StoreError
from arena.core.tables import MISTAKES, RUNS, from_row, row_values
from arena.core.types import FinalAnswer, GuardEvent, Mistake, Run, RunConfig, Transcript, Turn, Usage, Verdict, utcnow
from judges.scoring import score_consultation
from tests.conftest import start_consultation


def test_migrations_are_recorded_once_in_order(db_url):
    url = db_url
    s1 = Store(url)
    assert s1.applied_migrations() == [n for n, _ in MIGRATIONS]
    s2 = Store(url)
    assert s2.migrate() == []
    assert s2.applied_migrations() == [n for n, _ in MIGRATIONS]


def test_migrated_schema_matches_the_table_models(store):
    insp = inspect(store.engine)
    for name, table in SQLModel.metadata.tables.items():
        cols = {c["name"] for c in insp.get_columns(name)}
        assert cols == set(table.columns.keys()), name


def test_env_var_selects_the_database(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_DB", f"sqlite:///{tmp_path / 'env.db'}")
    assert Store().url.endswith("env.db")
    assert (tmp_path / "env.db").exists()


def _run(store, stemi) -> Run:
    run = Run(id="r1", name="first", config=RunConfig(cases=1))
    store.create_run(run, [stemi])
    return run


def test_a_ctrl_c_during_a_write_lets_it_end_whole_then_interrupts(db_url, stemi):
    store = Store(db_url)
    _run(store, stemi)

    def write(conn):
        conn.execute(update(RUNS).where(RUNS.c.id == "r1").values(status="interrupted"))
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C with the transaction open
        for _ in range(1000):  # Python raises KeyboardInterrupt here, unless it is held
            pass
        conn.execute(update(RUNS).where(RUNS.c.id == "r1").values(name="second"))

    with pytest.raises(KeyboardInterrupt):
        store._write("marking run r1 interrupted", write)
    run = Store(db_url).get_run("r1")
    assert (run.status, run.name) == ("interrupted", "second")
    # The next write goes through, and Ctrl-C is Python's own again.
    store.set_run_status("r1", "finished")
    assert Store(db_url).get_run("r1").status == "finished"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_turns_are_visible_to_another_reader_while_running(db_url, stemi):
    url = db_url
    writer, reader = Store(url), Store(url)
    _run(writer, stemi)
    start_consultation(writer, "r1/c/t0")
    writer.add_turns("r1", [Turn(consultation_id="r1/c/t0", index=0, role="patient", content="ow")])
    assert reader.consultation_status("r1") == {"running": 1}
    # Not finished yet: no transcript, but the turn is in the table a viewer follows.
    assert list(reader.transcripts("r1")) == []
    with reader.engine.connect() as conn:
        rows = conn.exec_driver_sql("select content from turns where consultation_id='r1/c/t0'").all()
    assert rows == [("ow",)]


def test_finish_writes_remaining_turns_and_round_trips(store, stemi):
    _run(store, stemi)
    start_consultation(store, "r1/c/t0")
    turns = [
        Turn(consultation_id="r1/c/t0", index=0, role="patient", content="ow", revealed=["hpi.chief"]),
        Turn(consultation_id="r1/c/t0", index=1, role="doctor", content="where?", usage=Usage(calls=1)),
        Turn(consultation_id="r1/c/t0", index=2, role="patient", content="chest"),
    ]
    store.add_turns("r1", turns[:1])
    tr = Transcript(
        id="r1/c/t0",
        run_id="r1",
        case_id="acs-stemi",
        doctor="d",
        patient="p",
        turns=turns,
        final=FinalAnswer(diagnosis="STEMI", differential=["PE"], plan="PCI"),
        stop_reason="final_answer",
        usage={"doctor": Usage(calls=1)},
    )
    store.finish_consultations([tr], {"r1/c/t0": 1})
    [back] = list(store.transcripts("r1"))
    assert back.turns == tr.turns
    assert back.final == tr.final and back.stop_reason == "final_answer"
    assert back.usage == tr.usage
    assert store.consultation_status("r1") == {"done": 1}
    assert store.cases("r1")["acs-stemi"] == stemi


def test_turn_records_keep_any_text_and_lose_secrets_on_the_way_in(store, stemi):
    _run(store, stemi)
    start_consultation(store, "r1/c/t0")
    plain = GuardEvent(claim="J'ai mal à la poitrine, 胸が痛い", action="regenerated", reason="unsupported")
    secret = GuardEvent(claim="ok", action="replaced", reason="verifier a/b?api_key=sk-0123456789abcdef failed")
    store.add_turns(
        "r1",
        [
            Turn(consultation_id="r1/c/t0", index=0, role="patient", content="ça", guard=[plain]),
            Turn(consultation_id="r1/c/t0", index=1, role="patient", content="ok", guard=[secret]),
        ],
    )
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("select data from turns where consultation_id='r1/c/t0' order by idx").all()
    # SQLite hands back the stored text; PostgreSQL's driver decodes its JSON column itself.
    first, second = (r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows)
    # What any JSON reader gets back: the text as written, and the key masked.
    assert first["guard"] == [plain.model_dump(mode="json")]
    assert second["guard"][0]["reason"] == f"verifier a/b?api_key={REDACTED} failed"


def test_runs_resolve_by_id_name_and_latest(store, stemi):
    _run(store, stemi)
    assert store.get_run("r1").name == "first"
    assert store.get_run("first").id == "r1"
    assert store.get_run("latest").id == "r1"
    assert store.find_run(None) == store.find_run("first") == store.get_run("r1")
    assert store.find_run("nope") is None
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.get_run("nope")


def test_rows_and_records_map_by_field_name():
    m = Mistake(
        id="m1",
        run_id="r0",
        consultation_id="c1",
        case_id="k",
        doctor="d",
        item_id="i",
        title="t",
        description="x",
        category="safety",
        cause="omission",
        risk="high",
    )
    row = row_values(MISTAKES, m, run_id="r1", data={"kept": True})
    # Columns named like fields take the record's values; what the caller gives wins.
    assert row == {
        "id": "m1",
        "run_id": "r1",
        "consultation_id": "c1",
        "category": "safety",
        "risk": "high",
        "data": {"kept": True},
    }
    naive = datetime(2026, 1, 2, 3, 4, 5)
    stored = {"id": "r1", "name": "n", "status": "finished", "config": {"cases": 3}, "created_at": naive}
    run = from_row(Run, stored, finished_at=None)
    assert run.created_at == naive.replace(tzinfo=UTC) and run.config.cases == 3
    columns = {"id", "name", "status", "config", "created_at", "finished_at", "schema_version"}
    assert set(row_values(RUNS, run)) == columns


def test_one_consultations_verdicts_and_one_case(store, stemi):
    _run(store, stemi)
    mine = Verdict(consultation_id="c", item_id="i", judge="j", outcome="met", points=5)
    other = mine.model_copy(update={"consultation_id": "d"})
    store.replace_judgement("r1", [mine, other], [])
    assert store.verdicts("r1", "c") == [mine] and store.verdicts("r1") == [mine, other]
    assert store.case("r1", stemi.id) == stemi and store.case("r1", "nope") is None


def test_rejudging_replaces_verdicts(store, stemi):
    _run(store, stemi)
    v = Verdict(consultation_id="c", item_id="i", judge="j", outcome="met", points=5, tags=["axis:history"])
    sc = score_consultation("c", [v], "exact")
    store.replace_judgement("r1", [v, v], [sc])
    store.replace_judgement("r1", [v], [sc])
    assert store.verdicts("r1") == [v]
    assert store.scores("r1") == [sc]


def test_an_older_database_is_upgraded_in_order(db_url):
    from sqlalchemy import MetaData, create_engine, insert

    from arena.core.migrations import m001_initial, migrations_table

    url = db_url
    engine = create_engine(url)
    md = MetaData()
    table = migrations_table(md)
    with engine.begin() as conn:
        md.create_all(conn)
        m001_initial(conn)
        conn.execute(insert(table).values(name="m001_initial", applied_at=utcnow()))
    assert "mistake_clusters" not in inspect(engine).get_table_names()
    store = Store(url)
    assert "mistake_clusters" in store.table_names()
    assert store.applied_migrations() == [n for n, _ in MIGRATIONS]


def test_processes_opening_a_new_database_at_once_apply_each_migration_once(tmp_path):
    import threading

    from arena.core.migrations import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'race.db'}"
    start = threading.Barrier(4)
    errors: list[BaseException] = []
    applied: list[list[str]] = []

    def open_store() -> None:
        start.wait()
        try:
            store = Store(url)
            applied.append(store.applied_migrations())
            store.engine.dispose()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert applied == [[name for name, _ in MIGRATIONS]] * 4


def test_consultations_stored_before_formats_become_dialogues_and_a_case_may_then_be_stored_per_format(db_url):
    from sqlalchemy import MetaData, create_engine, insert, text
    from sqlalchemy.exc import IntegrityError

    from arena.core.migrations import migrations_table

    engine = create_engine(db_url)
    md = MetaData()
    table = migrations_table(md)
    with engine.begin() as conn:
        md.create_all(conn)
        for name, migration in MIGRATIONS[:5]:
            migration(conn)
            conn.execute(insert(table).values(name=name, applied_at=utcnow()))
        conn.execute(
            text(
                "INSERT INTO consultations (id, run_id, case_id, trial, seed, doctor, patient, persona, status, "
                "n_turns, started_at, schema_version, worker) VALUES "
                "('r1/c/t0', 'r1', 'c', 0, 4294967295, 'd', 'p', 'plain', 'done', 3, '2026-01-01', 1, 'n:1')"
            )
        )
    engine.dispose()
    store = Store(db_url)
    assert store.applied_migrations() == [n for n, _ in MIGRATIONS]
    with store.engine.begin() as conn:
        row = conn.execute(text("SELECT format, seed, worker, n_turns FROM consultations")).one()
    assert tuple(row) == ("dialogue", 4294967295, "n:1", 3)
    base = {"run_id": "r1", "case_id": "c", "trial": 0, "seed": 1, "doctor": "d", "patient": "p", "persona": "plain"}
    store.start_consultations([{**base, "id": "r1/c/t0/vignette", "format": "vignette", "started_at": utcnow()}])
    with pytest.raises(IntegrityError):
        store.start_consultations([{**base, "id": "r1/c/t0/again", "format": "vignette", "started_at": utcnow()}])
    indexes = {ix["name"] for ix in inspect(store.engine).get_indexes("consultations")}
    assert {"ix_consultations_run_id", "ix_consultations_run_started"} <= indexes
