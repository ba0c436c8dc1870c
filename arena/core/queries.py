"""Every read query of the store, for the stages and the terminal app alike.

:class:`StoreQueries` is mixed into :class:`~arena.core.store.Store`, which
adds the connection, the migrations and the writes. Records come back as the
core types of :mod:`arena.core.types` (built from rows by
:func:`arena.core.tables.from_row`); the few records here are views a core
type does not give: a run's counts, a consultation's row while it runs, a
turn with the ``seq`` it was written at.

The terminal app follows a run without re-reading it: turns by their ``seq``
(``ix_turns_run_seq`` makes "turns of this run after seq N" an index range
scan), consultations by a :class:`ConsultationCursor` (new rows by their start
time, status changes by primary-key probes of the ones still running), and
judging and distilling by cheap signatures that say when to re-read. Sums over
JSON columns (cost and tokens) are done by the database with JSON paths, which
SQLAlchemy renders for SQLite, PostgreSQL and MySQL alike.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, get_args

from sqlalchemy import ColumnElement, Table, Text, and_, cast, func, select
from sqlalchemy import case as sql_case
from sqlalchemy.engine import Engine, Row

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
    aware,
    from_row,
    turn_from_row,
)
from arena.core.types import (
    CareCost,
    Case,
    FinalAnswer,
    Mistake,
    MistakeCluster,
    QAItem,
    Role,
    Run,
    Score,
    Transcript,
    Turn,
    Usage,
    Verdict,
)

ROLES: tuple[str, ...] = get_args(Role)
"""Every role a usage record may be kept under."""

_CHUNK = 500
"""Most ids bound into one ``IN (...)``: old SQLite builds allow 999 parameters."""


def _chunks(ids: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


# --------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class RunListing:
    """A run with its consultation counts and cost, for a runs list."""

    run: Run
    done: int
    running: int
    failed: int
    cost_usd: float


class TurnAt(NamedTuple):
    """A stored turn and the ``seq`` it was written at (a follower resumes after the last one seen)."""

    seq: int
    turn: Turn


@dataclass(slots=True)
class TurnStats:
    """Turn count and usage by role of one consultation, as of some ``seq``."""

    turns: int = 0
    usage: dict[str, Usage] = field(default_factory=dict)


def _parse_usage(data: Any) -> dict[str, Usage]:
    """Parse a consultation's ``usage`` column (role -> stored :class:`~arena.core.types.Usage`)."""
    if not isinstance(data, dict):
        return {}
    return {str(role): Usage.model_validate(u) for role, u in data.items() if isinstance(u, dict)}


@dataclass(frozen=True, slots=True)
class ConsultationRecord:
    """One consultation's row while it may still run, without its final answer (see ``final_answer``).

    A :class:`~arena.core.types.Transcript` is a finished consultation with
    its turns; this is the row a follower polls, ``status`` and all.
    """

    id: str
    run_id: str
    case_id: str
    trial: int
    doctor: str
    patient: str
    persona: str
    status: str
    stop_reason: str | None
    error: str | None
    n_turns: int
    usage: dict[str, Usage]
    started_at: datetime
    finished_at: datetime | None
    started_raw: Any
    """``started_at`` exactly as the database returned it, for watermarks."""


@dataclass(slots=True)
class ConsultationCursor:
    """Where a follower stands in a run's consultations.

    :meth:`StoreQueries.consultation_rows` advances a cursor in place (a run
    may hold 100,000 consultations: copying the id sets each poll would cost
    more than the poll), and only once all its queries have succeeded.
    """

    count: int = 0
    """Consultation rows of the run seen so far."""
    started_at: Any = None
    """Newest ``started_at`` seen, as the database stores it."""
    seen: set[str] = field(default_factory=set)
    """Ids seen so far."""
    running: set[str] = field(default_factory=set)
    """Ids last seen with status ``running``."""

    def advance(self, rows: Iterable[ConsultationRecord], count: int) -> None:
        """Take ``rows`` (new or changed) and the run's row ``count`` into account."""
        for r in rows:
            self.seen.add(r.id)
            if r.status == "running":
                self.running.add(r.id)
            else:
                self.running.discard(r.id)
            if self.started_at is None or r.started_raw > self.started_at:
                self.started_at = r.started_raw
        self.count = max(count, self.count, len(self.seen))


@dataclass(frozen=True, slots=True)
class CaseMeta:
    """The few case fields a table of consultations shows, read with JSON paths (not the whole case)."""

    case_id: str
    organ_system: str
    difficulty: str
    title: str
    diagnosis: str


@dataclass(frozen=True, slots=True)
class DoctorScore:
    """Mean score of one doctor model over its scored consultations."""

    doctor: str
    scored: int
    mean: float
    diagnosis_accuracy: float


@dataclass(frozen=True, slots=True)
class Failure:
    """A consultation that ended in an error."""

    consultation_id: str
    case_id: str
    doctor: str
    error: str
    finished_at: datetime | None


_CONSULTATION_COLS = [c for c in CONSULTATIONS.c if c.name not in ("final", "seed", "schema_version")]


def _consultation(row: Row[Any]) -> ConsultationRecord:
    return ConsultationRecord(
        id=row.id,
        run_id=row.run_id,
        case_id=row.case_id,
        trial=int(row.trial),
        doctor=row.doctor,
        patient=row.patient,
        persona=row.persona,
        status=row.status,
        stop_reason=row.stop_reason,
        error=row.error,
        n_turns=int(row.n_turns or 0),
        usage=_parse_usage(row.usage),
        started_at=aware(row.started_at) or datetime.fromtimestamp(0, UTC),
        finished_at=aware(row.finished_at),
        started_raw=row.started_at,
    )


def _cost_expr() -> ColumnElement[Any]:
    # One JSON path per role: the database adds the costs up without handing
    # the usage documents to Python.
    usage = CONSULTATIONS.c.usage
    total: ColumnElement[Any] | None = None
    for role in ROLES:
        part = func.coalesce(usage[(role, "cost_usd")].as_float(), 0.0)
        total = part if total is None else total + part
    assert total is not None
    return total


def _usage(calls: Any, prompt: Any, completion: Any, cost: Any) -> Usage:
    # Sums the database took over JSON paths (None when nothing was summed).
    return Usage(
        calls=int(calls or 0),
        prompt_tokens=int(prompt or 0),
        completion_tokens=int(completion or 0),
        cost_usd=float(cost or 0.0),
    )


class StoreQueries:
    """The store's reads; :class:`~arena.core.store.Store` supplies ``engine``."""

    engine: Engine

    # ------------------------------------------------------------------ runs

    def find_run(self, ref: str | None) -> Run | None:
        """Return a run by id, by name (newest of that name), or the newest run; None when there is none.

        Args:
            ref: Run id, run name, ``latest``, or None for the newest run.
        """
        newest = RUNS.c.created_at.desc()
        with self.engine.connect() as conn:
            if ref is None or ref == "latest":
                row = conn.execute(select(RUNS).order_by(newest).limit(1)).first()
            else:
                row = (
                    conn.execute(select(RUNS).where(RUNS.c.id == ref)).first()
                    or conn.execute(select(RUNS).where(RUNS.c.name == ref).order_by(newest).limit(1)).first()
                )
        return from_row(Run, row) if row is not None else None

    def list_runs(self) -> list[tuple[Run, int, int]]:
        """Return every run, newest first, with its consultation and error counts."""
        return [(x.run, x.done + x.running + x.failed, x.failed) for x in self.run_listings()]

    def run_listings(self, run_ids: Collection[str] | None = None) -> list[RunListing]:
        """Return runs, newest first, with done / running / failed counts and cost.

        Args:
            run_ids: Only these runs (to refresh the live ones); None for all.
        """
        c = CONSULTATIONS.c
        runs_q = select(RUNS).order_by(RUNS.c.created_at.desc())
        counts_q = select(c.run_id, c.status, func.count(), func.sum(_cost_expr())).group_by(c.run_id, c.status)
        if run_ids is not None:
            ids = list(run_ids)
            if not ids:
                return []
            runs_q = runs_q.where(RUNS.c.id.in_(ids))
            counts_q = counts_q.where(c.run_id.in_(ids))
        counts: dict[str, dict[str, int]] = {}
        costs: dict[str, float] = {}
        with self.engine.connect() as conn:
            runs = [from_row(Run, r) for r in conn.execute(runs_q)]
            for run_id, status, n, cost in conn.execute(counts_q):
                counts.setdefault(run_id, {})[status] = int(n)
                costs[run_id] = costs.get(run_id, 0.0) + float(cost or 0.0)
        return [
            RunListing(
                run=r,
                done=counts.get(r.id, {}).get("done", 0),
                running=counts.get(r.id, {}).get("running", 0),
                failed=counts.get(r.id, {}).get("error", 0),
                cost_usd=costs.get(r.id, 0.0),
            )
            for r in runs
        ]

    def newest_run_time(self) -> Any:
        """Return the newest run's ``created_at`` as stored (None without runs): tells when to re-list."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(RUNS.c.created_at))).scalar()

    def cases(self, run_id: str) -> dict[str, Case]:
        """Return the cases a run played, by id."""
        # The JSON text goes straight to pydantic's parser: decoding it to
        # Python objects first and validating those took twice as long.
        raw = cast(CASES.c.data, Text)
        with self.engine.connect() as conn:
            rows = conn.execute(select(raw).where(CASES.c.run_id == run_id)).scalars().all()
        return {c.id: c for c in (Case.model_validate_json(d) for d in rows)}

    def case(self, run_id: str, case_id: str) -> Case | None:
        """Return one case a run played, or None."""
        raw = cast(CASES.c.data, Text)
        with self.engine.connect() as conn:
            data = conn.execute(select(raw).where(CASES.c.run_id == run_id, CASES.c.case_id == case_id)).scalar()
        return Case.model_validate_json(data) if data is not None else None

    # ------------------------------------------------------------------ consultations

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
                by_c.setdefault(cid, []).append(turn_from_row(cid, idx, role, content, aware(created), data))
        for r in rows:
            yield from_row(
                Transcript,
                r,
                turns=by_c.get(r.id, []),
                final=r.final or None,
                usage=r.usage or {},
                care=r.care or None,
                finished_at=aware(r.finished_at) or aware(r.started_at),
            )

    def consultation_meta(self, run_id: str) -> list[dict[str, Any]]:
        """Return each finished consultation's id, case, trial, doctor, persona, format and final answer.

        Turns are left out.
        """
        c = CONSULTATIONS.c
        q = select(c.id, c.case_id, c.trial, c.doctor, c.persona, c.format, c.final, c.stop_reason)
        with self.engine.connect() as conn:
            rows = conn.execute(q.where(c.run_id == run_id, c.status != "running").order_by(c.id)).mappings().all()
        return [dict(r) for r in rows]

    def care_costs(self, run_id: str) -> dict[str, CareCost]:
        """Return what each finished consultation's care cost, by consultation id.

        Consultations stored before costs were kept have no record and are
        absent from the result.
        """
        c = CONSULTATIONS.c
        q = select(c.id, c.care).where(c.run_id == run_id, c.status != "running", c.care.is_not(None))
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(c.id)).all()
        # A JSON null (rather than SQL NULL) reads back as None: no record either.
        return {cid: CareCost.model_validate(care) for cid, care in rows if care}

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

    def consultation_status(self, run_id: str) -> dict[str, int]:
        """Return consultation counts by status for a run."""
        c = CONSULTATIONS.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.status, func.count()).where(c.run_id == run_id).group_by(c.status))
            return {r[0]: r[1] for r in rows}

    # ------------------------------------------------------------------ judging and distilling

    def _records(self, table: Table, run_id: str, order: Any, consultation_id: str | None = None) -> list[str]:
        # The stored JSON text, for pydantic's own parser (see cases()).
        raw = cast(table.c.data, Text)
        q = select(raw).where(table.c.run_id == run_id)
        if consultation_id is not None:
            q = q.where(table.c.consultation_id == consultation_id)
        with self.engine.connect() as conn:
            return list(conn.execute(q.order_by(order)).scalars())

    def verdicts(self, run_id: str, consultation_id: str | None = None) -> list[Verdict]:
        """Return every verdict of a run (or of one of its consultations), in the order written."""
        rows = self._records(VERDICTS, run_id, VERDICTS.c.id, consultation_id)
        return [Verdict.model_validate_json(d) for d in rows]

    def scores(self, run_id: str) -> list[Score]:
        """Return every score of a run."""
        return [Score.model_validate_json(d) for d in self._records(SCORES, run_id, SCORES.c.consultation_id)]

    def mistakes(self, run_id: str, consultation_id: str | None = None) -> list[Mistake]:
        """Return a run's mistake records (or one consultation's), by id."""
        rows = self._records(MISTAKES, run_id, MISTAKES.c.id, consultation_id)
        return [Mistake.model_validate_json(d) for d in rows]

    def clusters(self, run_id: str) -> list[MistakeCluster]:
        """Return a run's mistake clusters, largest first."""
        rows = self._records(CLUSTERS, run_id, CLUSTERS.c.count.desc())
        return [MistakeCluster.model_validate_json(d) for d in rows]

    def qa_items(self, run_id: str) -> list[QAItem]:
        """Return a run's QA items (valid and rejected)."""
        return [QAItem.model_validate_json(d) for d in self._records(QA_ITEMS, run_id, QA_ITEMS.c.id)]

    # ------------------------------------------------------------------ following a run

    def usage_by_role(self, run_id: str) -> dict[str, Usage]:
        """Return calls, tokens and cost by role over a run's finished consultations.

        The sums are taken by the database over the ``usage`` JSON column.
        """
        usage = CONSULTATIONS.c.usage
        cols: list[ColumnElement[Any]] = []
        for role in ROLES:
            for key in ("calls", "prompt_tokens", "completion_tokens", "cost_usd"):
                cols.append(func.sum(usage[(role, key)].as_float()))
        with self.engine.connect() as conn:
            row = conn.execute(select(*cols).where(CONSULTATIONS.c.run_id == run_id)).one()
        out: dict[str, Usage] = {}
        for i, role in enumerate(ROLES):
            calls, prompt, completion, cost = row[i * 4 : i * 4 + 4]
            if calls is None and prompt is None and cost is None:
                continue
            out[role] = _usage(calls, prompt, completion, cost)
        return out

    def max_turn_seq(self, run_id: str) -> int:
        """Return the highest turn ``seq`` of a run, 0 when it has none."""
        t = TURNS.c
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(t.seq)).where(t.run_id == run_id)).scalar() or 0)

    def turns_since(
        self,
        run_id: str,
        after_seq: int,
        *,
        consultation_id: str | None = None,
        limit: int | None = None,
    ) -> list[TurnAt]:
        """Return the turns written after ``after_seq``, in ``seq`` order.

        Args:
            run_id: The run.
            after_seq: Only turns with a greater ``seq`` (0 or -1 for all).
            consultation_id: Only this consultation's turns.
            limit: At most this many (the oldest first); None for all.
        """
        t = TURNS.c
        q = select(t.seq, t.consultation_id, t.idx, t.role, t.content, t.created_at, cast(t.data, Text))
        q = q.where(t.run_id == run_id, t.seq > after_seq)
        if consultation_id is not None:
            q = q.where(t.consultation_id == consultation_id)
        q = q.order_by(t.seq)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [
                TurnAt(int(seq), turn_from_row(cid, idx, role, content, aware(created), data))
                for seq, cid, idx, role, content, created, data in conn.execute(q)
            ]

    def turn_stats(self, consultation_ids: Sequence[str], up_to_seq: int) -> dict[str, TurnStats]:
        """Count the turns and add up the usage of some consultations, in the database.

        Used once when the app opens a run that is under way, so the
        consultations already in flight show their turns and cost so far
        without their turns being read.
        """
        t = TURNS.c
        u = t.data["usage"]
        out: dict[str, TurnStats] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(consultation_ids)):
                q = (
                    select(
                        t.consultation_id,
                        t.role,
                        func.count(),
                        func.sum(u["calls"].as_float()),
                        func.sum(u["prompt_tokens"].as_float()),
                        func.sum(u["completion_tokens"].as_float()),
                        func.sum(u["cost_usd"].as_float()),
                    )
                    .where(t.consultation_id.in_(chunk), t.seq <= up_to_seq)
                    .group_by(t.consultation_id, t.role)
                )
                for cid, role, n, calls, prompt, completion, cost in conn.execute(q):
                    st = out.setdefault(cid, TurnStats())
                    st.turns += int(n)
                    st.usage[role] = _usage(calls, prompt, completion, cost)
        return out

    def consultation_count(self, run_id: str) -> int:
        """Return how many consultations a run has (an index-only count)."""
        c = CONSULTATIONS.c
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(CONSULTATIONS).where(c.run_id == run_id)).scalar() or 0
            )

    def consultation_rows(
        self, run_id: str, changed_since: ConsultationCursor | None = None
    ) -> tuple[list[ConsultationRecord], ConsultationCursor]:
        """Return a run's consultations that are new or changed since a cursor.

        Without a cursor every row is returned. With one, three small queries
        run: an index-only count tells whether rows were added; if so, rows
        started at or after the newest start time seen are read (and those
        already seen dropped); the rows last seen running are probed by
        primary key for a new status. Only if the count still disagrees (a row
        committed with an older start time) are the run's ids read to find the
        missing rows.

        Args:
            run_id: The run.
            changed_since: The cursor of the previous call (advanced in
                place), or None to read every row and start a cursor.

        Returns:
            The new or changed rows in start order, and the cursor.
        """
        c = CONSULTATIONS.c
        base = select(*_CONSULTATION_COLS).where(c.run_id == run_id)
        with self.engine.connect() as conn:
            if changed_since is None:
                rows = [_consultation(r) for r in conn.execute(base.order_by(c.started_at, c.id))]
                cursor = ConsultationCursor()
                cursor.advance(rows, len(rows))
                return rows, cursor
            cur = changed_since
            changed: dict[str, ConsultationRecord] = {}
            count = int(
                conn.execute(select(func.count()).select_from(CONSULTATIONS).where(c.run_id == run_id)).scalar() or 0
            )
            if count > cur.count:
                q = base if cur.started_at is None else base.where(c.started_at >= cur.started_at)
                for r in conn.execute(q):
                    if r.id not in cur.seen:
                        changed[r.id] = _consultation(r)
                if cur.count + len(changed) < count:
                    ids = set(conn.execute(select(c.id).where(c.run_id == run_id)).scalars())
                    missing = sorted(ids - cur.seen - changed.keys())
                    for chunk in _chunks(missing):
                        for r in conn.execute(base.where(c.id.in_(chunk))):
                            changed[r.id] = _consultation(r)
            probe = sorted(cur.running - changed.keys())
            for chunk in _chunks(probe):
                for r in conn.execute(base.where(c.id.in_(chunk), c.status != "running")):
                    changed[r.id] = _consultation(r)
        rows = sorted(changed.values(), key=lambda r: (r.started_at, r.id))
        cur.advance(rows, count)
        return rows, cur

    def get_consultation(self, consultation_id: str) -> ConsultationRecord | None:
        """Return one consultation's row, or None."""
        c = CONSULTATIONS.c
        with self.engine.connect() as conn:
            row = conn.execute(select(*_CONSULTATION_COLS).where(c.id == consultation_id)).first()
        return _consultation(row) if row is not None else None

    def consultations_by_id(self, consultation_ids: Sequence[str]) -> list[ConsultationRecord]:
        """Return the rows of these consultations (primary-key lookups)."""
        c = CONSULTATIONS.c
        out: list[ConsultationRecord] = []
        with self.engine.connect() as conn:
            for chunk in _chunks(list(consultation_ids)):
                q = select(*_CONSULTATION_COLS).where(c.id.in_(chunk))
                out.extend(_consultation(r) for r in conn.execute(q))
        return out

    def final_answer(self, consultation_id: str) -> FinalAnswer | None:
        """Return a consultation's final answer (diagnosis, differential, plan), if it gave one."""
        c = CONSULTATIONS.c
        with self.engine.connect() as conn:
            value = conn.execute(select(c.final).where(c.id == consultation_id)).scalar()
        return FinalAnswer.model_validate(value) if isinstance(value, dict) and value else None

    def failures(self, run_id: str, limit: int = 100) -> list[Failure]:
        """Return a run's failed consultations with their errors, newest first."""
        c = CONSULTATIONS.c
        q = (
            select(c.id, c.case_id, c.doctor, c.error, c.finished_at)
            .where(c.run_id == run_id, c.status == "error")
            .order_by(c.finished_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [Failure(r.id, r.case_id, r.doctor, r.error or "", aware(r.finished_at)) for r in conn.execute(q)]

    def case_meta(self, run_id: str, case_ids: Collection[str] | None = None) -> dict[str, CaseMeta]:
        """Return organ system, difficulty, title and diagnosis of a run's cases.

        Title and diagnosis come out of the case JSON by path, so the case
        documents themselves are not read.
        """
        k = CASES.c
        q = select(
            k.case_id,
            k.organ_system,
            k.difficulty,
            k.data["title"].as_string(),
            k.data[("diagnosis", "name")].as_string(),
        ).where(k.run_id == run_id)
        out: dict[str, CaseMeta] = {}
        with self.engine.connect() as conn:
            if case_ids is None:
                rows: list[Any] = list(conn.execute(q))
            else:
                rows = [r for chunk in _chunks(sorted(case_ids)) for r in conn.execute(q.where(k.case_id.in_(chunk)))]
            for case_id, organ, difficulty, title, diagnosis in rows:
                out[case_id] = CaseMeta(case_id, organ or "", difficulty or "", title or "", diagnosis or "")
        return out

    def judgement_signature(self, run_id: str) -> tuple[int, float]:
        """Return (scores, sum of overall scores) of a run: changes whenever it is (re-)judged."""
        s = SCORES.c
        with self.engine.connect() as conn:
            n, total = conn.execute(select(func.count(), func.sum(s.overall)).where(s.run_id == run_id)).one()
        return int(n or 0), round(float(total or 0.0), 9)

    def doctor_scores(self, run_id: str) -> list[DoctorScore]:
        """Return the mean committee score and diagnosis accuracy per doctor model."""
        s, c = SCORES.c, CONSULTATIONS.c
        hit = func.sum(sql_case((s.diagnosis.in_(("exact", "partial")), 1), else_=0))
        q = (
            select(c.doctor, func.count(), func.avg(s.overall), hit)
            .select_from(SCORES.join(CONSULTATIONS, c.id == s.consultation_id))
            .where(s.run_id == run_id)
            .group_by(c.doctor)
            .order_by(c.doctor)
        )
        with self.engine.connect() as conn:
            return [
                DoctorScore(doctor, int(n), float(mean or 0.0), float(hits or 0) / int(n) if n else 0.0)
                for doctor, n, mean, hits in conn.execute(q)
            ]

    def verdict_count(self, consultation_id: str) -> int:
        """Return how many verdicts a consultation has (tells when to re-read them)."""
        v = VERDICTS.c
        with self.engine.connect() as conn:
            q = select(func.count()).select_from(VERDICTS).where(v.consultation_id == consultation_id)
            return int(conn.execute(q).scalar() or 0)

    def distillation_signature(self, run_id: str) -> tuple[int, int]:
        """Return (mistakes, QA items) of a run: changes whenever it is (re-)distilled."""
        m, q = MISTAKES.c, QA_ITEMS.c
        with self.engine.connect() as conn:
            nm = conn.execute(select(func.count()).select_from(MISTAKES).where(m.run_id == run_id)).scalar()
            nq = conn.execute(select(func.count()).select_from(QA_ITEMS).where(q.run_id == run_id)).scalar()
        return int(nm or 0), int(nq or 0)

    def qa_sources(self, run_id: str) -> dict[str, str]:
        """Return the consultation each QA item of a run came from, by item id (through its mistake)."""
        q, m = QA_ITEMS.c, MISTAKES.c
        stmt = (
            select(q.id, m.consultation_id)
            .select_from(QA_ITEMS.join(MISTAKES, and_(m.id == q.mistake_id, m.run_id == q.run_id)))
            .where(q.run_id == run_id)
        )
        with self.engine.connect() as conn:
            return {qid: cid for qid, cid in conn.execute(stmt)}
