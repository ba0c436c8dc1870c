"""The database locked or dropping out under a write: bounded retries, then one clear error, never half a record."""

import sqlite3

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError

from arena.cli import main
from arena.core.store import Store, StoreError, WritePolicy
from arena.core.tables import CONSULTATIONS, TURNS, VERDICTS
from arena.core.types import Run, RunConfig, Turn, Verdict, utcnow
from tests.conftest import start_consultation, store_run

FAST = {"backoff_s": 0.01, "max_backoff_s": 0.02, "lock_wait_s": 0.2}


class WriteLock:
    """Another session holding the database's write lock until released.

    SQLite: an exclusive transaction on a connection of its own. PostgreSQL: an
    EXCLUSIVE lock on the tables the writes go to. Either way readers go on reading.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            self.conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            self.conn.execute("BEGIN EXCLUSIVE")
        else:
            self.engine = create_engine(url)
            self.conn = self.engine.connect()
            self.conn.begin()
            self.conn.execute(text("LOCK TABLE runs, consultations, turns, verdicts, scores IN EXCLUSIVE MODE"))
        self.held = True

    def release(self) -> None:
        if self.held:
            self.conn.rollback()
            self.conn.close()
            if not self.sqlite:
                self.engine.dispose()
            self.held = False


def _turn(cid: str, i: int) -> Turn:
    return Turn(consultation_id=cid, index=i, role="doctor", content=f"question {i}", created_at=utcnow())


def _count(store: Store, table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _started(store: Store, stemi) -> str:
    store.create_run(Run(id="r1", name="r1", config=RunConfig(cases=1)), [stemi])
    cid = "r1/acs-stemi/t0"
    start_consultation(store, cid, case_id=stemi.id)
    return cid


def test_a_write_waits_out_a_lock_released_between_tries(db_url, stemi):
    tries: list[tuple[int, str]] = []
    lock: list[WriteLock] = []

    def on_retry(attempt: int, exc: BaseException) -> None:
        tries.append((attempt, type(exc).__name__))
        lock[0].release()  # the other writer finishes while this one backs off

    store = Store(db_url, WritePolicy(attempts=4, on_retry=on_retry, **FAST))
    cid = _started(store, stemi)
    lock.append(WriteLock(db_url))
    try:
        store.add_turns("r1", [_turn(cid, i) for i in range(3)])
    finally:
        lock[0].release()
    assert tries == [(1, "OperationalError")], "exactly one failed try, then the write went through"
    with store.engine.connect() as conn:
        assert conn.execute(select(TURNS.c.idx).order_by(TURNS.c.idx)).scalars().all() == [0, 1, 2]


def test_a_lock_held_past_the_budget_fails_in_one_line_and_writes_nothing(db_url, stemi):
    tries: list[int] = []
    store = Store(db_url, WritePolicy(attempts=3, on_retry=lambda n, _e: tries.append(n), **FAST))
    cid = _started(store, stemi)
    lock = WriteLock(db_url)
    try:
        with pytest.raises(StoreError) as err:
            store.add_turns("r1", [_turn(cid, i) for i in range(5)])
    finally:
        lock.release()
    assert tries == [1, 2], "three tries: two retries, then the error"
    msg = str(err.value)
    assert "\n" not in msg and "unavailable" in msg and "saving 5 turns failed 3 times" in msg
    assert "nothing of it was saved" in msg
    assert _count(store, TURNS) == 0
    # The database works again once the lock is gone.
    store.add_turns("r1", [_turn(cid, 0)])
    assert _count(store, TURNS) == 1


def test_judge_against_a_locked_database_is_one_line_exit_2_and_keeps_the_old_verdicts(db_url, monkeypatch, capsys):
    store = Store(db_url)
    run = store_run(store, "locked", diligence=0.6, n=4, trials=1)
    assert main(["judge", run, "--db", db_url]) == 0
    before = store.verdicts(run)
    assert before
    monkeypatch.setattr("arena.core.store.DEFAULT_WRITE_POLICY", WritePolicy(attempts=2, **FAST))
    capsys.readouterr()
    lock = WriteLock(db_url)
    try:
        code = main(["judge", run, "--db", db_url])
    finally:
        lock.release()
    stderr = capsys.readouterr().err
    err = [ln for ln in stderr.splitlines() if ln.startswith("arena:")]
    assert code == 2
    assert len(err) == 1 and err[0].startswith("arena: error: database ") and "failed 2 times" in err[0], stderr
    assert "Traceback" not in stderr
    assert store.verdicts(run) == before


class DropOut:
    """Makes the n-th statement of each try fail as a dropped connection would, for the first ``times`` tries."""

    def __init__(self, store: Store, on_statement: str, times: int) -> None:
        self.on_statement, self.left = on_statement, times
        event.listen(store.engine, "before_cursor_execute", self)

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if self.left and statement.lstrip().upper().startswith(self.on_statement):
            self.left -= 1
            raise OperationalError(statement, parameters, Exception("server closed the connection unexpectedly"))


def _verdict(cid: str, item: str) -> Verdict:
    return Verdict(consultation_id=cid, item_id=item, judge="j", outcome="met", points=1.0, explanation="x")


def test_a_transaction_cut_after_its_delete_is_tried_again_whole(db_url, stemi, monkeypatch):
    store = Store(db_url, WritePolicy(attempts=3, **FAST))
    cid = _started(store, stemi)
    store.replace_judgement("r1", [_verdict(cid, "old")], [])
    # The replacement's DELETE runs, then its INSERT fails: the DELETE must not stand.
    DropOut(store, "INSERT INTO VERDICTS", times=2)
    store.replace_judgement("r1", [_verdict(cid, "new-a"), _verdict(cid, "new-b")], [])
    assert [v.item_id for v in store.verdicts("r1")] == ["new-a", "new-b"]

    DropOut(store, "INSERT INTO VERDICTS", times=5)
    with pytest.raises(StoreError, match="failed 3 times"):
        store.replace_judgement("r1", [_verdict(cid, "newer")], [])
    assert [v.item_id for v in store.verdicts("r1")] == ["new-a", "new-b"], "the cut transaction left nothing"
    assert _count(store, VERDICTS) == 2 and _count(store, CONSULTATIONS) == 1


def test_an_error_no_retry_can_cure_is_raised_at_once(db_url, stemi):
    tries: list[int] = []
    store = Store(db_url, WritePolicy(attempts=5, on_retry=lambda n, _e: tries.append(n), **FAST))
    cid = _started(store, stemi)
    store.add_turns("r1", [_turn(cid, 0)])
    with pytest.raises(Exception, match=r"(?i)unique|duplicate") as err:
        store.add_turns("r1", [_turn(cid, 1), _turn(cid, 0)])  # turn 0 again breaks uq_turn
    assert not isinstance(err.value, StoreError) and tries == []
    assert _count(store, TURNS) == 1, "turn 1 went with the failed transaction"
