"""The SQL store: every stage reads its input from here and writes its output back.

SQLite by default (``./arena.db``); any SQLAlchemy URL through ``--db`` or
``ARENA_DB`` (PostgreSQL through ``postgresql+psycopg://...``). Writes are
batched per call and each call is one transaction, so a failure never leaves
half a record behind. A write that meets a locked or briefly unreachable
database is tried again whole, a bounded number of times with growing pauses,
then fails with one line saying so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic_core import to_json
from sqlalchemy import (
    MetaData,
    Table,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.schema import CreateTable
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from arena.core.errors import error_line
from arena.core.migrations import MIGRATIONS, MIGRATIONS_TABLE, migrations_table
from arena.core.queries import StoreQueries
from arena.core.redaction import redact_data, redact_secrets
from arena.core.tables import (
    CASES,
    CLUSTERS,
    CONSULTATIONS,
    MISTAKES,
    QA_ITEMS,
    RUNS,
    SCORES,
    TURNS,
    VERDICTS,
    row_values,
)
from arena.core.types import (
    SCHEMA_VERSION,
    Case,
    Mistake,
    MistakeCluster,
    QAItem,
    Run,
    RunStatus,
    RunSummary,
    Score,
    StoredRecord,
    Transcript,
    Turn,
    Verdict,
    base_case_id,
    utcnow,
)

DEFAULT_DB = "sqlite:///arena.db"

log = logging.getLogger(__name__)

T = TypeVar("T")


class StoreError(RuntimeError):
    """The database cannot be opened or holds no such record."""


@dataclass(frozen=True)
class WritePolicy:
    """How long a write waits for a locked or unreachable database before it fails."""

    attempts: int = 5
    """Tries of each write transaction, the first included."""
    backoff_s: float = 0.5
    """Pause before the second try; it doubles each time, up to ``max_backoff_s``."""
    max_backoff_s: float = 8.0
    """Longest pause between tries."""
    lock_wait_s: float = 10.0
    """How long one try waits on another writer's lock before it counts as failed
    (SQLite ``busy_timeout``, PostgreSQL ``lock_timeout``)."""
    on_retry: Callable[[int, BaseException], None] | None = None
    """Called with the failed try's number and its error before each pause (tests and logs)."""


DEFAULT_WRITE_POLICY = WritePolicy()


def _json_text(value: Any) -> str:
    """The text a JSON column stores for ``value``.

    Pydantic's serializer, not the standard library's: it writes a turn's record in a fifth of
    the time, and the driver writes every turn of a run. Non-finite numbers are written as
    ``json.dumps`` writes them, so what reads them back is unchanged.
    """
    return to_json(value, inf_nan_mode="constants").decode()


def resolve_db_url(url: str | None = None) -> str:
    """Return the database URL: the argument, else ``ARENA_DB``, else ``./arena.db``."""
    return url or os.environ.get("ARENA_DB") or DEFAULT_DB


def display_url(url: str) -> str:
    """Return a database URL fit to print or store: any password is masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for other databases and in-memory SQLite."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.query.get("mode") == "memory":
        return None
    name = str(parsed.database)
    return Path(name.removeprefix("file:")) if name.startswith("file:") else Path(name)


def database_file_exists(url: str) -> bool:
    """Whether the database could be there without being made: False only for a SQLite file that is missing.

    Connecting to a missing SQLite file creates it, so readers look first.
    A server's database is asked when the store opens.
    """
    path = sqlite_file(resolve_db_url(url))
    return path is None or path.exists()


def fully_migrated(url: str) -> bool:
    """Whether a database exists at ``url`` with every migration applied; creates nothing.

    A reader that opens a database another process is still making waits
    for this, so the two never apply the same migration at once.
    """
    if not database_file_exists(url):
        return False
    engine = create_engine(resolve_db_url(url))
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(MIGRATIONS_TABLE):
                return False
            done = set(conn.execute(select(migrations_table(MetaData()).c.name)).scalars())
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return all(name in done for name, _ in MIGRATIONS)


def _first_line(exc: BaseException) -> str:
    # A driver error wrapped by SQLAlchemy says what went wrong in its original exception.
    return error_line(getattr(exc, "orig", None) or exc)


def is_transient(exc: BaseException) -> bool:
    """Whether a database error may go away if the same transaction is tried again.

    SQLite: another writer holds the lock. PostgreSQL and other servers: the
    connection dropped or could not be made, or the server rolled the
    transaction back (serialization failure, deadlock); all are
    ``OperationalError`` or an invalidated connection.
    """
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    msg = _first_line(exc).lower()
    if "sqlite" in type(exc.orig).__module__ or "sqlite" in (exc.statement or "").lower():
        return "locked" in msg or "busy" in msg
    return True


def _text(value: str) -> str:
    """Return text fit for any backend's text column: PostgreSQL refuses NUL characters.

    A model may answer with raw bytes (a broken provider, a garbled stream);
    each NUL becomes U+FFFD on every backend, so a run reads back the same
    wherever it was stored.
    """
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _sqlite_pragmas(lock_wait_s: float) -> Callable[[Any, Any], None]:
    def connect(dbapi_conn: Any, _record: Any) -> None:
        # WAL lets a viewer read while the run writes; busy_timeout makes a
        # concurrent writer wait a while before a try counts as failed.
        cur = dbapi_conn.cursor()
        # The wait first: switching a new database to WAL takes a lock another process may hold.
        cur.execute(f"PRAGMA busy_timeout={int(lock_wait_s * 1000)}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return connect


@contextlib.contextmanager
def _whole_on_ctrl_c() -> Iterator[None]:
    """Hold a Ctrl-C that comes during a transaction until the transaction has ended, then raise it.

    Python raises KeyboardInterrupt wherever the main thread happens to be. Inside a transaction's
    commit, rollback or return to the pool, that could leave the connection holding SQLite's write
    lock while the exception (whose frames keep the connection alive) was handled, and the run's
    "interrupted" status, written next on another connection, then waited for a lock that never came
    free. Only the main thread gets signals, and only Python's own handler is held back (an event
    loop's handler, say, is left alone).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    pressed: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, _frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if pressed:
            raise KeyboardInterrupt


def _stored(table: Table, run_id: str, record: StoredRecord, **given: Any) -> dict[str, Any]:
    # Judging and distilling rows: the record's columns, the run, and the whole
    # record (secrets masked) as the ``data`` document readers parse back.
    return row_values(table, record, run_id=run_id, data=redact_data(record.model_dump(mode="json")), **given)


class Store(StoreQueries):
    """Reads and writes every record of every run (most reads are in :class:`~arena.core.queries.StoreQueries`)."""

    def __init__(self, url: str | None = None, write_policy: WritePolicy | None = None, *, create: bool = True) -> None:
        """Open (and migrate) the database.

        Args:
            url: SQLAlchemy URL; see :func:`resolve_db_url`.
            write_policy: Retries of writes that meet a locked or unreachable
                database (default :data:`DEFAULT_WRITE_POLICY`).
            create: Make the database (file and tables) when it is not there.
                Commands that only read, or work on runs already stored, pass
                False, so a wrong folder or URL is reported instead of
                leaving an empty database behind.

        Raises:
            StoreError: if the database cannot be opened or migrated, or (with
                ``create`` False) holds no medarena records.
        """
        self.url = resolve_db_url(url)
        self.display_url = display_url(self.url)
        self.write_policy = write_policy or DEFAULT_WRITE_POLICY
        missing = f"no medarena database at {self.display_url} (`arena simulate` makes one)"
        if not create and not database_file_exists(self.url):
            raise StoreError(missing)
        try:
            backend = make_url(self.url).get_backend_name()
            sqlite = backend == "sqlite"
            kwargs: dict[str, Any] = {}
            if backend == "postgresql":
                # A try stuck behind another session's lock fails after this long and is retried.
                kwargs["connect_args"] = {"options": f"-c lock_timeout={int(self.write_policy.lock_wait_s * 1000)}"}
            # A server may drop idle connections (restart, failover): check each one before use.
            self.engine: Engine = create_engine(
                self.url, pool_pre_ping=not sqlite, json_serializer=_json_text, **kwargs
            )
        except (SQLAlchemyError, ValueError, ImportError) as exc:
            raise StoreError(f"cannot open database {self.display_url!r}: {_first_line(exc)}") from None
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas(self.write_policy.lock_wait_s))
        try:
            if not create and not inspect(self.engine).has_table(MIGRATIONS_TABLE):
                self.engine.dispose()
                raise StoreError(missing)
            # Several processes may open a new database at once (`arena watch` beside `arena simulate`):
            # one waiting on another's migration past the lock timeout tries again.
            self._retrying("schema migration", self.migrate)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open database {self.display_url!r}: {_first_line(exc)}") from None

    def _write(self, what: str, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one transaction; try it again whole while the database is locked or unreachable.

        Args:
            what: What is being written, for the error message.
            fn: The transaction's statements; it may run more than once, and
                only the run that commits leaves anything behind.

        Raises:
            StoreError: once every try has failed. Errors a retry cannot
                cure (a broken constraint, say) are raised as they are, at once.
        """

        def once() -> T:
            with _whole_on_ctrl_c(), self.engine.begin() as conn:
                return fn(conn)

        return self._retrying(what, once)

    def _retrying(self, what: str, fn: Callable[[], T]) -> T:
        """Call ``fn``, again while the database is locked or unreachable, as the write policy says.

        Raises:
            StoreError: once every try has failed; other errors at once, as they are.
        """
        policy = self.write_policy

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if exc is None:
                return
            log.warning(
                "database %s: %s failed (try %d of %d): %s; trying again",
                self.display_url,
                what,
                state.attempt_number,
                policy.attempts,
                _first_line(exc),
            )
            if policy.on_retry is not None:
                policy.on_retry(state.attempt_number, exc)

        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts),
            wait=wait_exponential(multiplier=policy.backoff_s, max=policy.max_backoff_s),
            retry=retry_if_exception(is_transient),
            before_sleep=before_sleep,
        )
        try:
            for attempt in retrying:
                with attempt:
                    result = fn()
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise StoreError(
                f"database {self.display_url} unavailable: {what} failed {policy.attempts} times "
                f"({_first_line(last) if last else 'unknown error'}); nothing of it was saved"
            ) from None
        return result

    # ------------------------------------------------------------------ schema

    def migrate(self) -> list[str]:
        """Apply the migrations this database has not had yet, in order.

        Returns:
            Names of the migrations applied now.
        """
        md = MetaData()
        table = migrations_table(md)
        applied_now: list[str] = []
        with self.engine.begin() as conn:
            # IF NOT EXISTS: another process may be creating it at this very moment.
            conn.execute(CreateTable(table, if_not_exists=True))
            done = {r[0] for r in conn.execute(select(table.c.name))}
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            try:
                with self.engine.begin() as conn:
                    # Claimed before it is applied: a second process opening a new database at the
                    # same moment (`arena watch` beside `arena simulate`) waits on this row, then
                    # finds it taken, instead of applying the migration twice.
                    conn.execute(insert(table).values(name=name, applied_at=utcnow()))
                    fn(conn)
            except IntegrityError:
                continue
            applied_now.append(name)
        return applied_now

    def applied_migrations(self) -> list[str]:
        """Return the names of applied migrations, in the order applied."""
        table = migrations_table(MetaData())
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(table.c.name).order_by(table.c.applied_at, table.c.name))]

    def table_names(self) -> list[str]:
        """Return the tables in the database."""
        return sorted(inspect(self.engine).get_table_names())

    # ------------------------------------------------------------------ runs

    def create_run(self, run: Run, cases: Sequence[Case]) -> None:
        """Record a new run and the cases it will play, in one transaction."""
        unique = {c.id: c for c in cases}

        def write(conn: Connection) -> None:
            conn.execute(
                insert(RUNS).values(
                    # A key given as a model parameter is used for calls, never stored.
                    row_values(RUNS, run, config=redact_data(run.config.model_dump(mode="json")), finished_at=None)
                )
            )
            if unique:
                conn.execute(
                    insert(CASES),
                    [
                        row_values(CASES, c, run_id=run.id, case_id=c.id, data=c.model_dump(mode="json"))
                        for c in unique.values()
                    ],
                )

        self._write(f"recording run {run.id}", write)

    def set_run_status(self, run_id: str, status: RunStatus) -> None:
        """Update a run's status (and its finish time when it stops)."""
        values: dict[str, Any] = {"status": status}
        if status != "running":
            values["finished_at"] = utcnow()
        self._write(
            f"marking run {run_id} {status}",
            lambda conn: conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values)),
        )

    def get_run(self, ref: str) -> Run:
        """Return a run by id, by name (newest of that name), or ``latest``.

        Raises:
            StoreError: if there is no such run.
        """
        run = self.find_run(ref)
        if run is None:
            raise StoreError(f"no run {ref!r} in {self.display_url} (see `arena runs`)")
        return run

    # ------------------------------------------------------------------ consultations

    def start_consultations(self, started: Iterable[dict[str, Any]]) -> None:
        """Record consultations that have begun (``status='running'``).

        Args:
            started: Dicts with id, run_id, case_id, trial, seed, doctor,
                patient, persona and started_at.
        """
        rows = [
            {
                **d,
                "doctor": redact_secrets(d["doctor"]),
                "patient": redact_secrets(d["patient"]),
                "status": "running",
                "n_turns": 0,
                "schema_version": SCHEMA_VERSION,
            }
            for d in started
        ]
        if rows:
            self._write(f"starting {len(rows)} consultations", lambda conn: conn.execute(insert(CONSULTATIONS), rows))

    def add_turns(self, run_id: str, turns: Iterable[Turn]) -> None:
        """Append turns as they happen, in one transaction."""
        rows = [self._turn_row(run_id, t) for t in turns]
        if rows:
            self._write(f"saving {len(rows)} turns", lambda conn: conn.execute(insert(TURNS), rows))

    @staticmethod
    def _turn_row(run_id: str, t: Turn) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "consultation_id": t.consultation_id,
            "idx": t.index,
            "role": t.role,
            "content": _text(t.content),
            "data": redact_data(
                t.model_dump(mode="json", exclude={"consultation_id", "index", "role", "content", "created_at"})
            ),
            "created_at": t.created_at,
        }

    def finish_consultations(self, transcripts: Sequence[Transcript], turns_written: dict[str, int]) -> None:
        """Save finished consultations, with any turns not yet written, at once.

        Args:
            transcripts: Finished transcripts.
            turns_written: For each consultation id, how many of its turns are
                already stored; the rest of ``tr.turns`` are written here. A
                transcript sent without its turns (they all arrived as they
                happened) counts this many.
        """
        if not transcripts:
            return
        missing = [self._turn_row(tr.run_id, t) for tr in transcripts for t in tr.turns[turns_written.get(tr.id, 0) :]]

        def write(conn: Connection) -> None:
            if missing:
                conn.execute(insert(TURNS), missing)
            for tr in transcripts:
                conn.execute(
                    update(CONSULTATIONS)
                    .where(CONSULTATIONS.c.id == tr.id)
                    .values(
                        status="error" if tr.error else "done",
                        stop_reason=tr.stop_reason,
                        error=_text(redact_secrets(tr.error)) if tr.error else tr.error,
                        n_turns=len(tr.turns) or turns_written.get(tr.id, 0),
                        final=tr.final.model_dump(mode="json") if tr.final else None,
                        usage={k: v.model_dump() for k, v in tr.usage.items()},
                        finished_at=tr.finished_at,
                        worker=tr.worker,
                        care=tr.care.model_dump(mode="json") if tr.care else None,
                    )
                )

        self._write(f"saving {len(transcripts)} finished consultations", write)

    def discard_consultations(self, run_id: str, ids: Sequence[str] | None = None) -> int:
        """Delete consultations that never finished, with their turns, so they can be played again.

        Args:
            run_id: The run.
            ids: The consultations to delete; default every one still marked running.

        Returns:
            How many were deleted.
        """
        c, t = CONSULTATIONS.c, TURNS.c

        def write(conn: Connection) -> int:
            todo = ids
            if todo is None:
                todo = list(conn.execute(select(c.id).where(c.run_id == run_id, c.status == "running")).scalars())
            for i in range(0, len(todo), 500):
                chunk = list(todo[i : i + 500])
                conn.execute(delete(TURNS).where(t.run_id == run_id, t.consultation_id.in_(chunk)))
                conn.execute(delete(CONSULTATIONS).where(c.run_id == run_id, c.id.in_(chunk)))
            return len(todo)

        return self._write(f"discarding unfinished consultations of run {run_id}", write)

    # ------------------------------------------------------------------ judging and distilling

    def _replace(self, run_id: str, tables: dict[Table, list[dict[str, Any]]]) -> None:
        # Delete-then-insert in one transaction: re-running a stage replaces its output whole.
        def write(conn: Connection) -> None:
            for table, rows in tables.items():
                conn.execute(delete(table).where(table.c.run_id == run_id))
                if rows:
                    conn.execute(insert(table), rows)

        self._write(f"replacing {', '.join(t.name for t in tables)} of run {run_id}", write)

    def replace_judgement(self, run_id: str, verdicts: Sequence[Verdict], scores: Sequence[Score]) -> None:
        """Replace a run's verdicts and scores in one transaction (re-judging is idempotent)."""
        self._replace(
            run_id,
            {
                VERDICTS: [_stored(VERDICTS, run_id, v, judge=redact_secrets(v.judge)) for v in verdicts],
                SCORES: [_stored(SCORES, run_id, sc) for sc in scores],
            },
        )

    def replace_distillation(
        self,
        run_id: str,
        mistakes: Sequence[Mistake],
        items: Sequence[QAItem],
        clusters: Sequence[MistakeCluster] = (),
    ) -> None:
        """Replace a run's mistakes, clusters and QA items in one transaction."""
        self._replace(
            run_id,
            {
                CLUSTERS: [_stored(CLUSTERS, run_id, c) for c in clusters],
                QA_ITEMS: [_stored(QA_ITEMS, run_id, q) for q in items],
                MISTAKES: [_stored(MISTAKES, run_id, m) for m in mistakes],
            },
        )

    def update_qa_items(self, items: Sequence[QAItem]) -> None:
        """Rewrite stored QA items (e.g. after replication), in one transaction."""

        def write(conn: Connection) -> None:
            for q in items:
                conn.execute(
                    update(QA_ITEMS)
                    .where(QA_ITEMS.c.id == q.id)
                    .values(valid=q.valid, data=redact_data(q.model_dump(mode="json")))
                )

        self._write(f"updating {len(items)} QA items", write)

    # ------------------------------------------------------------------ summary

    def summary(self, run_id: str) -> RunSummary:
        """Return the headline figures of a run."""
        run = self.get_run(run_id)
        status = self.consultation_status(run.id)
        scores = self.scores(run.id)
        c = CONSULTATIONS.c
        with self.engine.connect() as conn:
            case_ids = conn.execute(select(c.case_id).where(c.run_id == run.id).distinct()).scalars().all()
        # Repeats of one bank case (``id#k``) are the same patient: count it once.
        distinct = len({base_case_id(i) for i in case_ids})
        cov = [sc.must_ask_coverage for sc in scores if sc.must_ask_coverage is not None]
        return RunSummary(
            run_id=run.id,
            name=run.name,
            consultations=sum(status.values()),
            errors=status.get("error", 0),
            distinct_cases=int(distinct),
            diagnosis_accuracy=(sum(sc.diagnosis in ("exact", "partial") for sc in scores) / len(scores))
            if scores
            else None,
            must_ask_coverage=(sum(cov) / len(cov)) if cov else None,
            mean_score=(sum(sc.overall for sc in scores) / len(scores)) if scores else None,
            mistakes=len(self.mistakes(run.id)),
            qa_items=sum(1 for q in self.qa_items(run.id) if q.valid),
        )
