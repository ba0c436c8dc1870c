"""Read-only, incremental queries on the store for the terminal app.

Everything here is SQLAlchemy Core on the tables :mod:`arena.core.tables`
registers, run on a :class:`~arena.core.store.Store`'s engine. Nothing writes.

The app follows a run without re-reading it: turns by their ``seq``
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
from typing import Any, get_args

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy import case as sql_case
from sqlalchemy.engine import Engine, Row

from arena.core.tables import CASES, CONSULTATIONS, MISTAKES, QA_ITEMS, RUNS, SCORES, TURNS, VERDICTS, aware
from arena.core.types import Case, Role
from judges.committee import COMMITTEE

ROLES: tuple[str, ...] = get_args(Role)
"""Every role a usage record may be kept under."""

_CHUNK = 500
"""Most ids bound into one ``IN (...)``: old SQLite builds allow 999 parameters."""


def _chunks(ids: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class UsageTotals:
    """Calls, tokens and cost, added up."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: UsageTotals) -> None:
        """Add ``other`` into this total in place."""
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost_usd += other.cost_usd

    def sub(self, other: UsageTotals) -> None:
        """Take ``other`` out of this total in place."""
        self.calls -= other.calls
        self.prompt_tokens -= other.prompt_tokens
        self.completion_tokens -= other.completion_tokens
        self.cost_usd -= other.cost_usd

    @classmethod
    def from_json(cls, data: Any) -> UsageTotals:
        """Build a total from a stored :class:`arena.core.types.Usage` dict (missing keys count 0)."""
        if not isinstance(data, dict):
            return cls()
        return cls(
            calls=int(data.get("calls") or 0),
            prompt_tokens=int(data.get("prompt_tokens") or 0),
            completion_tokens=int(data.get("completion_tokens") or 0),
            cost_usd=float(data.get("cost_usd") or 0.0),
        )


def usage_by_role_from_json(data: Any) -> dict[str, UsageTotals]:
    """Parse a consultation's ``usage`` column (role -> usage dict)."""
    if not isinstance(data, dict):
        return {}
    return {str(role): UsageTotals.from_json(u) for role, u in data.items()}


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run's row."""

    id: str
    name: str
    status: str
    created_at: datetime
    finished_at: datetime | None
    config: dict[str, Any]

    @property
    def planned(self) -> int:
        """Consultations the run was asked for: cases times trials."""
        return int(self.config.get("cases") or 0) * int(self.config.get("trials") or 1)

    @property
    def doctor(self) -> str:
        """The configured doctor model."""
        return str(self.config.get("doctor") or "")

    @property
    def judges(self) -> list[str]:
        """The configured judges."""
        return [str(j) for j in self.config.get("judges") or []]


@dataclass(frozen=True, slots=True)
class RunListing:
    """A run with its consultation counts and cost, for the runs list."""

    run: RunInfo
    done: int
    running: int
    failed: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One stored turn."""

    seq: int
    consultation_id: str
    idx: int
    role: str
    content: str
    data: dict[str, Any]
    created_at: datetime

    @property
    def revealed(self) -> list[str]:
        """Fact ids this turn disclosed."""
        return [str(x) for x in self.data.get("revealed") or []]

    @property
    def guard(self) -> list[dict[str, Any]]:
        """Hallucination-guard events (``claim``, ``action``)."""
        return [g for g in self.data.get("guard") or [] if isinstance(g, dict)]

    @property
    def action(self) -> dict[str, Any] | None:
        """The parsed doctor action, for doctor turns."""
        a = self.data.get("action")
        return a if isinstance(a, dict) else None

    @property
    def usage(self) -> UsageTotals:
        """Model usage for producing this turn."""
        return UsageTotals.from_json(self.data.get("usage"))


@dataclass(frozen=True, slots=True)
class ConsultationRecord:
    """One consultation's row, without its final answer (see :func:`final_answer`)."""

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
    usage: dict[str, UsageTotals]
    started_at: datetime
    finished_at: datetime | None
    started_raw: Any
    """``started_at`` exactly as the database returned it, for watermarks."""


@dataclass(frozen=True, slots=True)
class CaseMeta:
    """The few case fields the tables show, read with JSON paths."""

    case_id: str
    organ_system: str
    difficulty: str
    title: str
    diagnosis: str


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    """A consultation's committee score."""

    consultation_id: str
    overall: float
    diagnosis: str
    must_ask_coverage: float | None


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


@dataclass(frozen=True, slots=True)
class ItemVerdicts:
    """Every judge's verdict on one rubric item, and the committee's."""

    item_id: str
    criterion: str
    points: float
    tags: tuple[str, ...]
    by_judge: dict[str, str]
    """Judge name -> ``met``/``not_met``/``unscored``."""
    explanations: dict[str, str]
    committee: str | None

    @property
    def split(self) -> bool:
        """Whether the judges that scored the item disagree."""
        return len({o for o in self.by_judge.values() if o != "unscored"}) > 1


@dataclass(frozen=True, slots=True)
class ConsultationVerdicts:
    """The rubric verdicts of one consultation."""

    judges: tuple[str, ...]
    items: tuple[ItemVerdicts, ...]

    @property
    def splits(self) -> int:
        """How many items the judges split on."""
        return sum(1 for i in self.items if i.split)


@dataclass(frozen=True, slots=True)
class MistakeRecord:
    """A mistake record."""

    id: str
    consultation_id: str
    case_id: str
    doctor: str
    item_id: str
    title: str
    description: str
    category: str
    cause: str
    risk: str
    tags: tuple[str, ...]
    turns: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class QARecord:
    """A QA item, with the consultation its mistake came from."""

    id: str
    mistake_id: str
    consultation_id: str | None
    scenario: str
    question: str
    answer: str
    rationale: str
    options: tuple[str, ...]
    valid: bool
    rejection: str


# --------------------------------------------------------------------------- runs


def _run_info(row: Row[Any]) -> RunInfo:
    return RunInfo(
        id=row.id,
        name=row.name,
        status=row.status,
        created_at=aware(row.created_at) or datetime.fromtimestamp(0, UTC),
        finished_at=aware(row.finished_at),
        config=dict(row.config or {}),
    )


def get_run(engine: Engine, run_id: str) -> RunInfo | None:
    """Return one run by id, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).first()
    return _run_info(row) if row is not None else None


def find_run(engine: Engine, ref: str | None) -> RunInfo | None:
    """Return a run by id, by name (newest of that name), or the newest run.

    Args:
        engine: The store's engine.
        ref: Run id, run name, ``latest``, or None for the newest run.

    Returns:
        The run, or None when there is no such run (yet).
    """
    newest = RUNS.c.created_at.desc()
    with engine.connect() as conn:
        if ref is None or ref == "latest":
            row = conn.execute(select(RUNS).order_by(newest).limit(1)).first()
        else:
            row = (
                conn.execute(select(RUNS).where(RUNS.c.id == ref)).first()
                or conn.execute(select(RUNS).where(RUNS.c.name == ref).order_by(newest).limit(1)).first()
            )
    return _run_info(row) if row is not None else None


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


def list_runs(engine: Engine, run_ids: Collection[str] | None = None) -> list[RunListing]:
    """Return runs, newest first, with done / running / failed counts and cost.

    Args:
        engine: The store's engine.
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
    with engine.connect() as conn:
        runs = [_run_info(r) for r in conn.execute(runs_q)]
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


def newest_run_time(engine: Engine) -> Any:
    """Return the newest run's ``created_at`` as stored (None without runs): tells when to re-list."""
    with engine.connect() as conn:
        return conn.execute(select(func.max(RUNS.c.created_at))).scalar()


def progress(engine: Engine, run_id: str) -> dict[str, int]:
    """Return a run's consultation counts by status (``running``, ``done``, ``error``)."""
    c = CONSULTATIONS.c
    with engine.connect() as conn:
        rows = conn.execute(select(c.status, func.count()).where(c.run_id == run_id).group_by(c.status))
        return {r[0]: int(r[1]) for r in rows}


def usage_by_role(engine: Engine, run_id: str) -> dict[str, UsageTotals]:
    """Return calls, tokens and cost by role over a run's finished consultations.

    The sums are taken by the database over the ``usage`` JSON column.
    """
    usage = CONSULTATIONS.c.usage
    cols: list[ColumnElement[Any]] = []
    for role in ROLES:
        for key in ("calls", "prompt_tokens", "completion_tokens", "cost_usd"):
            cols.append(func.sum(usage[(role, key)].as_float()))
    with engine.connect() as conn:
        row = conn.execute(select(*cols).where(CONSULTATIONS.c.run_id == run_id)).one()
    out: dict[str, UsageTotals] = {}
    for i, role in enumerate(ROLES):
        calls, prompt, completion, cost = row[i * 4 : i * 4 + 4]
        if calls is None and prompt is None and cost is None:
            continue
        out[role] = UsageTotals(int(calls or 0), int(prompt or 0), int(completion or 0), float(cost or 0.0))
    return out


# --------------------------------------------------------------------------- turns


def _turn(row: Row[Any], content: bool = True) -> TurnRecord:
    return TurnRecord(
        seq=int(row.seq),
        consultation_id=row.consultation_id,
        idx=int(row.idx),
        role=row.role,
        content=row.content if content else "",
        data=dict(row.data or {}),
        created_at=aware(row.created_at) or datetime.fromtimestamp(0, UTC),
    )


def max_turn_seq(engine: Engine, run_id: str) -> int:
    """Return the highest turn ``seq`` of a run, 0 when it has none."""
    t = TURNS.c
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(t.seq)).where(t.run_id == run_id)).scalar() or 0)


def turns_since(
    engine: Engine,
    run_id: str,
    after_seq: int,
    *,
    consultation_id: str | None = None,
    limit: int | None = None,
) -> list[TurnRecord]:
    """Return the turns written after ``after_seq``, in ``seq`` order.

    Args:
        engine: The store's engine.
        run_id: The run.
        after_seq: Only turns with a greater ``seq`` (0 or -1 for all).
        consultation_id: Only this consultation's turns.
        limit: At most this many (the oldest first); None for all.
    """
    t = TURNS.c
    q = select(TURNS).where(t.run_id == run_id, t.seq > after_seq)
    if consultation_id is not None:
        q = q.where(t.consultation_id == consultation_id)
    q = q.order_by(t.seq)
    if limit is not None:
        q = q.limit(limit)
    with engine.connect() as conn:
        return [_turn(r) for r in conn.execute(q)]


@dataclass(slots=True)
class TurnStats:
    """Turn count and usage by role of one consultation, as of some ``seq``."""

    turns: int = 0
    usage: dict[str, UsageTotals] = field(default_factory=dict)


def turn_stats(engine: Engine, consultation_ids: Sequence[str], up_to_seq: int) -> dict[str, TurnStats]:
    """Count the turns and add up the usage of some consultations, in the database.

    Used once when the app opens a run that is under way, so the consultations
    already in flight show their turns and cost so far without their turns
    being read.
    """
    t = TURNS.c
    u = t.data["usage"]
    out: dict[str, TurnStats] = {}
    with engine.connect() as conn:
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
                st.usage[role] = UsageTotals(int(calls or 0), int(prompt or 0), int(completion or 0), float(cost or 0))
    return out


# --------------------------------------------------------------------------- consultations


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
        usage=usage_by_role_from_json(row.usage),
        started_at=aware(row.started_at) or datetime.fromtimestamp(0, UTC),
        finished_at=aware(row.finished_at),
        started_raw=row.started_at,
    )


@dataclass(slots=True)
class ConsultationCursor:
    """Where a follower stands in a run's consultations.

    :func:`consultation_rows` advances a cursor in place (a run may hold
    100,000 consultations: copying the id sets each poll would cost more than
    the poll), and only once all its queries have succeeded.
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


def consultation_count(engine: Engine, run_id: str) -> int:
    """Return how many consultations a run has (an index-only count)."""
    c = CONSULTATIONS.c
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(CONSULTATIONS).where(c.run_id == run_id)).scalar() or 0
        )


def consultation_rows(
    engine: Engine, run_id: str, changed_since: ConsultationCursor | None = None
) -> tuple[list[ConsultationRecord], ConsultationCursor]:
    """Return a run's consultations that are new or changed since a cursor.

    Without a cursor every row is returned. With one, three small queries run:
    an index-only count tells whether rows were added; if so, rows started at
    or after the newest start time seen are read (and those already seen
    dropped); the rows last seen running are probed by primary key for a new
    status. Only if the count still disagrees (a row committed with an older
    start time) are the run's ids read to find the missing rows.

    Args:
        engine: The store's engine.
        run_id: The run.
        changed_since: The cursor of the previous call (advanced in place), or
            None to read every row and start a cursor.

    Returns:
        The new or changed rows in start order, and the cursor.
    """
    c = CONSULTATIONS.c
    base = select(*_CONSULTATION_COLS).where(c.run_id == run_id)
    with engine.connect() as conn:
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


def get_consultation(engine: Engine, consultation_id: str) -> ConsultationRecord | None:
    """Return one consultation's row, or None."""
    c = CONSULTATIONS.c
    with engine.connect() as conn:
        row = conn.execute(select(*_CONSULTATION_COLS).where(c.id == consultation_id)).first()
    return _consultation(row) if row is not None else None


def consultations_by_id(engine: Engine, consultation_ids: Sequence[str]) -> list[ConsultationRecord]:
    """Return the rows of these consultations (primary-key lookups)."""
    c = CONSULTATIONS.c
    out: list[ConsultationRecord] = []
    with engine.connect() as conn:
        for chunk in _chunks(list(consultation_ids)):
            out.extend(_consultation(r) for r in conn.execute(select(*_CONSULTATION_COLS).where(c.id.in_(chunk))))
    return out


def final_answer(engine: Engine, consultation_id: str) -> dict[str, Any] | None:
    """Return a consultation's final answer (diagnosis, differential, plan), if it gave one."""
    c = CONSULTATIONS.c
    with engine.connect() as conn:
        value = conn.execute(select(c.final).where(c.id == consultation_id)).scalar()
    return value if isinstance(value, dict) else None


def failures(engine: Engine, run_id: str, limit: int = 100) -> list[Failure]:
    """Return a run's failed consultations with their errors, newest first."""
    c = CONSULTATIONS.c
    q = (
        select(c.id, c.case_id, c.doctor, c.error, c.finished_at)
        .where(c.run_id == run_id, c.status == "error")
        .order_by(c.finished_at.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [Failure(r.id, r.case_id, r.doctor, r.error or "", aware(r.finished_at)) for r in conn.execute(q)]


# --------------------------------------------------------------------------- cases


def case_meta(engine: Engine, run_id: str, case_ids: Collection[str] | None = None) -> dict[str, CaseMeta]:
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
    with engine.connect() as conn:
        if case_ids is None:
            rows: list[Any] = list(conn.execute(q))
        else:
            rows = [r for chunk in _chunks(sorted(case_ids)) for r in conn.execute(q.where(k.case_id.in_(chunk)))]
        for case_id, organ, difficulty, title, diagnosis in rows:
            out[case_id] = CaseMeta(case_id, organ or "", difficulty or "", title or "", diagnosis or "")
    return out


def case_record(engine: Engine, run_id: str, case_id: str) -> Case | None:
    """Return one case of a run, whole."""
    k = CASES.c
    with engine.connect() as conn:
        data = conn.execute(select(k.data).where(k.run_id == run_id, k.case_id == case_id)).scalar()
    return Case.model_validate(data) if data is not None else None


# --------------------------------------------------------------------------- judging


def judgement_signature(engine: Engine, run_id: str) -> tuple[int, float]:
    """Return (scores, sum of overall scores) of a run: changes whenever it is (re-)judged."""
    s = SCORES.c
    with engine.connect() as conn:
        n, total = conn.execute(select(func.count(), func.sum(s.overall)).where(s.run_id == run_id)).one()
    return int(n or 0), round(float(total or 0.0), 9)


def scores(engine: Engine, run_id: str) -> dict[str, ScoreRecord]:
    """Return the committee scores of a run by consultation id (columns only, no JSON)."""
    s = SCORES.c
    q = select(s.consultation_id, s.overall, s.diagnosis, s.must_ask_coverage).where(s.run_id == run_id)
    with engine.connect() as conn:
        return {r[0]: ScoreRecord(r[0], float(r[1]), r[2], r[3]) for r in conn.execute(q)}


def doctor_scores(engine: Engine, run_id: str) -> list[DoctorScore]:
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
    with engine.connect() as conn:
        return [
            DoctorScore(doctor, int(n), float(mean or 0.0), float(hits or 0) / int(n) if n else 0.0)
            for doctor, n, mean, hits in conn.execute(q)
        ]


def verdict_count(engine: Engine, consultation_id: str) -> int:
    """Return how many verdicts a consultation has (tells when to re-read them)."""
    v = VERDICTS.c
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(VERDICTS).where(v.consultation_id == consultation_id)
            ).scalar()
            or 0
        )


def consultation_verdicts(engine: Engine, consultation_id: str, case: Case | None = None) -> ConsultationVerdicts:
    """Return every judge's verdict and the committee's on each rubric item.

    Args:
        engine: The store's engine.
        consultation_id: The consultation.
        case: Its case, for the criteria text and the rubric order; without
            it items are listed in the order judged.

    Returns:
        Items in rubric order; ``judges`` lists the judges (never the
        committee) in the order they first appear.
    """
    v = VERDICTS.c
    q = select(v.item_id, v.judge, v.outcome, v.data).where(v.consultation_id == consultation_id).order_by(v.id)
    judges: list[str] = []
    order: list[str] = []
    by_item: dict[str, dict[str, str]] = {}
    expl: dict[str, dict[str, str]] = {}
    committee: dict[str, str] = {}
    info: dict[str, tuple[float, tuple[str, ...]]] = {}
    with engine.connect() as conn:
        for item_id, judge, outcome, data in conn.execute(q):
            if item_id not in by_item:
                order.append(item_id)
                by_item[item_id] = {}
                expl[item_id] = {}
            d = data or {}
            info.setdefault(item_id, (float(d.get("points") or 0.0), tuple(d.get("tags") or ())))
            if judge == COMMITTEE:
                committee[item_id] = outcome
                continue
            if judge not in judges:
                judges.append(judge)
            by_item[item_id][judge] = outcome
            expl[item_id][judge] = str(d.get("explanation") or "")
    criteria: dict[str, str] = {}
    if case is not None:
        rubric = [r.id for r in case.rubric]
        criteria = {r.id: r.criterion for r in case.rubric}
        rank = {rid: i for i, rid in enumerate(rubric)}
        order.sort(key=lambda i: rank.get(i, len(rank)))
    items = tuple(
        ItemVerdicts(
            item_id=i,
            criterion=criteria.get(i, ""),
            points=info[i][0],
            tags=info[i][1],
            by_judge=by_item[i],
            explanations=expl[i],
            committee=committee.get(i),
        )
        for i in order
    )
    return ConsultationVerdicts(judges=tuple(judges), items=items)


# --------------------------------------------------------------------------- distilling


def distillation_signature(engine: Engine, run_id: str) -> tuple[int, int]:
    """Return (mistakes, QA items) of a run: changes whenever it is (re-)distilled."""
    m, q = MISTAKES.c, QA_ITEMS.c
    with engine.connect() as conn:
        nm = conn.execute(select(func.count()).select_from(MISTAKES).where(m.run_id == run_id)).scalar()
        nq = conn.execute(select(func.count()).select_from(QA_ITEMS).where(q.run_id == run_id)).scalar()
    return int(nm or 0), int(nq or 0)


def _mistake(data: dict[str, Any]) -> MistakeRecord:
    return MistakeRecord(
        id=str(data.get("id", "")),
        consultation_id=str(data.get("consultation_id", "")),
        case_id=str(data.get("case_id", "")),
        doctor=str(data.get("doctor", "")),
        item_id=str(data.get("item_id", "")),
        title=str(data.get("title", "")),
        description=str(data.get("description", "")),
        category=str(data.get("category", "")),
        cause=str(data.get("cause", "")),
        risk=str(data.get("risk", "")),
        tags=tuple(str(t) for t in data.get("tags") or ()),
        turns=tuple(int(t) for t in data.get("turns") or ()),
    )


_RISK_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def mistakes(engine: Engine, run_id: str, consultation_id: str | None = None) -> list[MistakeRecord]:
    """Return a run's mistakes (or one consultation's), riskiest first."""
    m = MISTAKES.c
    q = select(m.data).where(m.run_id == run_id)
    if consultation_id is not None:
        q = q.where(m.consultation_id == consultation_id)
    with engine.connect() as conn:
        out = [_mistake(d) for d in conn.execute(q.order_by(m.id)).scalars()]
    out.sort(key=lambda r: (_RISK_ORDER.get(r.risk, 9), r.consultation_id, r.id))
    return out


def qa_items(engine: Engine, run_id: str) -> list[QARecord]:
    """Return a run's QA items (valid and rejected) with their source consultation."""
    q, m = QA_ITEMS.c, MISTAKES.c
    stmt = (
        select(q.data, m.consultation_id)
        .select_from(QA_ITEMS.outerjoin(MISTAKES, and_(m.id == q.mistake_id, m.run_id == q.run_id)))
        .where(q.run_id == run_id)
        .order_by(q.id)
    )
    out: list[QARecord] = []
    with engine.connect() as conn:
        for data, cid in conn.execute(stmt):
            d = data or {}
            out.append(
                QARecord(
                    id=str(d.get("id", "")),
                    mistake_id=str(d.get("mistake_id", "")),
                    consultation_id=cid,
                    scenario=str(d.get("scenario", "")),
                    question=str(d.get("question", "")),
                    answer=str(d.get("answer", "")),
                    rationale=str(d.get("rationale", "")),
                    options=tuple(str(o) for o in d.get("options") or ()),
                    valid=bool(d.get("valid", True)),
                    rejection=str(d.get("rejection", "")),
                )
            )
    return out
