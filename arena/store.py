"""The SQL store: every stage reads its input from here and writes its output back.

SQLite by default (``./arena.db``); any SQLAlchemy URL through ``--db`` or
``ARENA_DB``. Writes are batched per call and each call is one transaction,
so a failure never leaves half a record behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    MetaData,
    Table,
    Text,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from arena.migrations import MIGRATIONS, migrations_table
from arena.tables import (
    CASES,
    CLUSTERS,
    CONSULTATIONS,
    MISTAKES,
    QA_ITEMS,
    RUNS,
    SCORES,
    TURNS,
    VERDICTS,
    aware,
)
from arena.types import (
    SCHEMA_VERSION,
    Case,
    FinalAnswer,
    Mistake,
    MistakeCluster,
    QAItem,
    Run,
    RunStatus,
    RunSummary,
    Score,
    Transcript,
    Turn,
    Usage,
    Verdict,
    utcnow,
)
from cases.loader import base_case_id

DEFAULT_DB = "sqlite:///arena.db"


class StoreError(RuntimeError):
    """The database cannot be opened or holds no such record."""


def resolve_db_url(url: str | None = None) -> str:
    """Return the database URL: the argument, else ``ARENA_DB``, else ``./arena.db``."""
    return url or os.environ.get("ARENA_DB") or DEFAULT_DB


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets a viewer read while the run writes; busy_timeout makes a
    # concurrent writer wait instead of failing at once.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _turn_from_row(cid: str, idx: int, role: str, content: str, created: datetime | None, data: str) -> Turn:
    # One JSON document for pydantic's parser: the columns, then the rest of
    # the turn as stored. Parsing the stored text directly is about twice as
    # fast as decoding it to Python objects and validating those.
    head = json.dumps(
        {
            "consultation_id": cid,
            "index": idx,
            "role": role,
            "content": content,
            "created_at": created.isoformat() if created else None,
        }
    )
    rest = data.strip()
    body = head if rest in ("{}", "") else head[:-1] + ", " + rest[1:]
    return Turn.model_validate_json(body)


class Store:
    """Reads and writes every record of every run."""

    def __init__(self, url: str | None = None) -> None:
        """Open (and migrate) the database.

        Args:
            url: SQLAlchemy URL; see :func:`resolve_db_url`.

        Raises:
            StoreError: if the database cannot be opened or migrated.
        """
        self.url = resolve_db_url(url)
        try:
            self.engine: Engine = create_engine(self.url)
        except (SQLAlchemyError, ValueError, ImportError) as exc:
            raise StoreError(f"cannot open database {self.url!r}: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self.migrate()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open database {self.url!r}: {str(exc).splitlines()[0]}") from None

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
            md.create_all(conn)
            done = {r[0] for r in conn.execute(select(table.c.name))}
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            with self.engine.begin() as conn:
                fn(conn)
                conn.execute(insert(table).values(name=name, applied_at=utcnow()))
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
        with self.engine.begin() as conn:
            conn.execute(
                insert(RUNS).values(
                    id=run.id,
                    name=run.name,
                    status=run.status,
                    config=run.config.model_dump(mode="json"),
                    created_at=run.created_at,
                    finished_at=None,
                    schema_version=run.schema_version,
                )
            )
            if unique:
                conn.execute(
                    insert(CASES),
                    [
                        {
                            "run_id": run.id,
                            "case_id": c.id,
                            "organ_system": c.organ_system,
                            "difficulty": c.difficulty,
                            "data": c.model_dump(mode="json"),
                        }
                        for c in unique.values()
                    ],
                )

    def set_run_status(self, run_id: str, status: RunStatus) -> None:
        """Update a run's status (and its finish time when it stops)."""
        values: dict[str, Any] = {"status": status}
        if status != "running":
            values["finished_at"] = utcnow()
        with self.engine.begin() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values))

    @staticmethod
    def _run(row: Any) -> Run:
        return Run(
            id=row.id,
            name=row.name,
            config=row.config,
            status=row.status,
            created_at=aware(row.created_at),
            finished_at=aware(row.finished_at),
            schema_version=row.schema_version,
        )

    def get_run(self, ref: str) -> Run:
        """Return a run by id, by name (newest of that name), or ``latest``.

        Raises:
            StoreError: if there is no such run.
        """
        newest = RUNS.c.created_at.desc()
        with self.engine.connect() as conn:
            if ref == "latest":
                row = conn.execute(select(RUNS).order_by(newest).limit(1)).first()
            else:
                row = (
                    conn.execute(select(RUNS).where(RUNS.c.id == ref)).first()
                    or conn.execute(select(RUNS).where(RUNS.c.name == ref).order_by(newest).limit(1)).first()
                )
        if row is None:
            raise StoreError(f"no run {ref!r} in {self.url} (see `arena runs`)")
        return self._run(row)

    def list_runs(self) -> list[tuple[Run, int, int]]:
        """Return every run, newest first, with its consultation and error counts."""
        c = CONSULTATIONS.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(RUNS).order_by(RUNS.c.created_at.desc())).all()
            counts = {r[0]: r[1] for r in conn.execute(select(c.run_id, func.count()).group_by(c.run_id))}
            errors = {
                r[0]: r[1]
                for r in conn.execute(select(c.run_id, func.count()).where(c.status == "error").group_by(c.run_id))
            }
        return [(self._run(r), counts.get(r.id, 0), errors.get(r.id, 0)) for r in rows]

    def cases(self, run_id: str) -> dict[str, Case]:
        """Return the cases a run played, by id."""
        # The JSON text goes straight to pydantic's parser: decoding it to
        # Python objects first and validating those took twice as long.
        raw = cast(CASES.c.data, Text)
        with self.engine.connect() as conn:
            rows = conn.execute(select(raw).where(CASES.c.run_id == run_id)).scalars().all()
        return {c.id: c for c in (Case.model_validate_json(d) for d in rows)}

    # ------------------------------------------------------------------ consultations

    def start_consultations(self, started: Iterable[dict[str, Any]]) -> None:
        """Record consultations that have begun (``status='running'``).

        Args:
            started: Dicts with id, run_id, case_id, trial, seed, doctor,
                patient, persona and started_at.
        """
        rows = [{**d, "status": "running", "n_turns": 0, "schema_version": SCHEMA_VERSION} for d in started]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(CONSULTATIONS), rows)

    def add_turns(self, run_id: str, turns: Iterable[Turn]) -> None:
        """Append turns as they happen, in one transaction."""
        rows = [self._turn_row(run_id, t) for t in turns]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(TURNS), rows)

    @staticmethod
    def _turn_row(run_id: str, t: Turn) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "consultation_id": t.consultation_id,
            "idx": t.index,
            "role": t.role,
            "content": t.content,
            "data": t.model_dump(mode="json", exclude={"consultation_id", "index", "role", "content", "created_at"}),
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
        with self.engine.begin() as conn:
            if missing:
                conn.execute(insert(TURNS), missing)
            for tr in transcripts:
                conn.execute(
                    update(CONSULTATIONS)
                    .where(CONSULTATIONS.c.id == tr.id)
                    .values(
                        status="error" if tr.error else "done",
                        stop_reason=tr.stop_reason,
                        error=tr.error,
                        n_turns=len(tr.turns) or turns_written.get(tr.id, 0),
                        final=tr.final.model_dump(mode="json") if tr.final else None,
                        usage={k: v.model_dump() for k, v in tr.usage.items()},
                        finished_at=tr.finished_at,
                        worker=tr.worker,
                    )
                )

    def transcripts(self, run_id: str, consultation_id: str | None = None) -> Iterator[Transcript]:
        """Yield the finished transcripts of a run (or one consultation), in id order."""
        c, t = CONSULTATIONS.c, TURNS.c
        q = select(CONSULTATIONS).where(c.run_id == run_id, c.status != "running")
        tq = select(t.consultation_id, t.idx, t.role, t.content, t.created_at, cast(t.data, Text))
        tq = tq.where(t.run_id == run_id)
        if consultation_id is not None:
            q = q.where(c.id == consultation_id)
            tq = tq.where(t.consultation_id == consultation_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(c.id)).all()
            by_c: dict[str, list[Turn]] = {}
            for cid, idx, role, content, created, data in conn.execute(tq.order_by(t.consultation_id, t.idx)):
                by_c.setdefault(cid, []).append(_turn_from_row(cid, idx, role, content, aware(created), data))
        for r in rows:
            yield Transcript(
                id=r.id,
                run_id=r.run_id,
                case_id=r.case_id,
                trial=r.trial,
                seed=r.seed,
                doctor=r.doctor,
                patient=r.patient,
                persona=r.persona,
                turns=by_c.get(r.id, []),
                final=FinalAnswer.model_validate(r.final) if r.final else None,
                stop_reason=r.stop_reason,
                error=r.error,
                usage={k: Usage.model_validate(v) for k, v in (r.usage or {}).items()},
                started_at=aware(r.started_at),
                finished_at=aware(r.finished_at) or aware(r.started_at),
                schema_version=r.schema_version,
                worker=r.worker,
            )

    def consultation_meta(self, run_id: str) -> list[dict[str, Any]]:
        """Return each finished consultation's id, case, trial, doctor, persona and final answer, without turns."""
        c = CONSULTATIONS.c
        q = select(c.id, c.case_id, c.trial, c.doctor, c.persona, c.final, c.stop_reason)
        with self.engine.connect() as conn:
            rows = conn.execute(q.where(c.run_id == run_id, c.status != "running").order_by(c.id)).mappings().all()
        return [dict(r) for r in rows]

    def run_cost(self, run_id: str) -> float:
        """Return what a run's saved consultations cost, over all roles."""
        c = CONSULTATIONS.c
        with self.engine.connect() as conn:
            usages = conn.execute(select(c.usage).where(c.run_id == run_id, c.usage.is_not(None))).scalars()
            return sum(float(u.get("cost_usd", 0.0)) for usage in usages for u in usage.values())

    def finished_ids(self, run_id: str) -> set[str]:
        """Return the ids of a run's consultations whose transcripts are saved."""
        c = CONSULTATIONS.c
        with self.engine.connect() as conn:
            return set(conn.execute(select(c.id).where(c.run_id == run_id, c.status != "running")).scalars())

    def discard_consultations(self, run_id: str, ids: Sequence[str] | None = None) -> int:
        """Delete consultations that never finished, with their turns, so they can be played again.

        Args:
            run_id: The run.
            ids: The consultations to delete; default every one still marked running.

        Returns:
            How many were deleted.
        """
        c, t = CONSULTATIONS.c, TURNS.c
        with self.engine.begin() as conn:
            if ids is None:
                ids = list(conn.execute(select(c.id).where(c.run_id == run_id, c.status == "running")).scalars())
            for i in range(0, len(ids), 500):
                chunk = list(ids[i : i + 500])
                conn.execute(delete(TURNS).where(t.run_id == run_id, t.consultation_id.in_(chunk)))
                conn.execute(delete(CONSULTATIONS).where(c.run_id == run_id, c.id.in_(chunk)))
        return len(ids)

    def consultation_status(self, run_id: str) -> dict[str, int]:
        """Return consultation counts by status for a run."""
        c = CONSULTATIONS.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.status, func.count()).where(c.run_id == run_id).group_by(c.status))
            return {r[0]: r[1] for r in rows}

    # ------------------------------------------------------------------ judging and distilling

    def _replace(self, run_id: str, tables: dict[Table, list[dict[str, Any]]]) -> None:
        # Delete-then-insert in one transaction: re-running a stage replaces its output whole.
        with self.engine.begin() as conn:
            for table, rows in tables.items():
                conn.execute(delete(table).where(table.c.run_id == run_id))
                if rows:
                    conn.execute(insert(table), rows)

    def replace_judgement(self, run_id: str, verdicts: Sequence[Verdict], scores: Sequence[Score]) -> None:
        """Replace a run's verdicts and scores in one transaction (re-judging is idempotent)."""
        self._replace(
            run_id,
            {
                VERDICTS: [
                    {
                        "run_id": run_id,
                        "consultation_id": v.consultation_id,
                        "item_id": v.item_id,
                        "judge": v.judge,
                        "outcome": v.outcome,
                        "data": v.model_dump(mode="json"),
                    }
                    for v in verdicts
                ],
                SCORES: [
                    {
                        "consultation_id": sc.consultation_id,
                        "run_id": run_id,
                        "overall": sc.overall,
                        "diagnosis": sc.diagnosis,
                        "must_ask_coverage": sc.must_ask_coverage,
                        "data": sc.model_dump(mode="json"),
                    }
                    for sc in scores
                ],
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
                CLUSTERS: [
                    {"id": c.id, "run_id": run_id, "count": c.count, "data": c.model_dump(mode="json")}
                    for c in clusters
                ],
                QA_ITEMS: [
                    {
                        "id": q.id,
                        "run_id": run_id,
                        "mistake_id": q.mistake_id,
                        "valid": q.valid,
                        "data": q.model_dump(mode="json"),
                    }
                    for q in items
                ],
                MISTAKES: [
                    {
                        "id": m.id,
                        "run_id": run_id,
                        "consultation_id": m.consultation_id,
                        "category": m.category,
                        "risk": m.risk,
                        "data": m.model_dump(mode="json"),
                    }
                    for m in mistakes
                ],
            },
        )

    def _records(self, table: Table, run_id: str, order: Any) -> list[str]:
        # The stored JSON text, for pydantic's own parser (see cases()).
        raw = cast(table.c.data, Text)
        with self.engine.connect() as conn:
            return list(conn.execute(select(raw).where(table.c.run_id == run_id).order_by(order)).scalars())

    def verdicts(self, run_id: str) -> list[Verdict]:
        """Return every verdict of a run, in the order written."""
        return [Verdict.model_validate_json(d) for d in self._records(VERDICTS, run_id, VERDICTS.c.id)]

    def scores(self, run_id: str) -> list[Score]:
        """Return every score of a run."""
        return [Score.model_validate_json(d) for d in self._records(SCORES, run_id, SCORES.c.consultation_id)]

    def mistakes(self, run_id: str) -> list[Mistake]:
        """Return a run's mistake records."""
        return [Mistake.model_validate_json(d) for d in self._records(MISTAKES, run_id, MISTAKES.c.id)]

    def clusters(self, run_id: str) -> list[MistakeCluster]:
        """Return a run's mistake clusters, largest first."""
        rows = self._records(CLUSTERS, run_id, CLUSTERS.c.count.desc())
        return [MistakeCluster.model_validate_json(d) for d in rows]

    def update_qa_items(self, items: Sequence[QAItem]) -> None:
        """Rewrite stored QA items (e.g. after replication), in one transaction."""
        with self.engine.begin() as conn:
            for q in items:
                conn.execute(
                    update(QA_ITEMS).where(QA_ITEMS.c.id == q.id).values(valid=q.valid, data=q.model_dump(mode="json"))
                )

    def qa_items(self, run_id: str) -> list[QAItem]:
        """Return a run's QA items (valid and rejected)."""
        return [QAItem.model_validate_json(d) for d in self._records(QA_ITEMS, run_id, QA_ITEMS.c.id)]

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
