"""Follow one run incrementally: fetch what changed, then apply it to an in-memory view.

The split matters: :func:`fetch_delta` only queries (so the app runs it in a
worker thread, off the event loop) and :meth:`RunFollower.apply` only changes
memory (so it runs on the event loop, where the widgets read the same state).
Each poll reads the turns written since the last ``seq`` seen, then the
consultations that are new or no longer running, then - every few seconds -
two signatures that say whether the run has been (re-)judged or distilled.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from arena.core.queries import CaseMeta, ConsultationCursor, ConsultationRecord, DoctorScore, TurnAt, TurnStats
from arena.core.store import Store
from arena.core.types import Run, Score, Usage, utcnow

MAX_TURNS_PER_POLL = 5000
"""Turns read in one poll at most; a backlog is worked off over the next polls."""

SIGNATURE_EVERY_S = 2.0
"""How often to check whether the run was (re-)judged or distilled, by default."""

RATE_WINDOW_S = 60.0
"""Throughput is measured over this much recent time."""

Clock = Callable[[], datetime]


def used(u: Usage) -> bool:
    """Whether a usage record counts anything (calls, tokens or cost)."""
    return bool(u.calls or u.prompt_tokens or u.completion_tokens or u.cost_usd)


def _take(total: Usage, u: Usage) -> None:
    # The inverse of ``Usage.add``: a consultation's old usage leaves the
    # running sums before its new usage is added.
    total.calls -= u.calls
    total.prompt_tokens -= u.prompt_tokens
    total.completion_tokens -= u.completion_tokens
    total.cost_usd -= u.cost_usd
    total.retries -= u.retries
    total.rate_wait_s -= u.rate_wait_s


def planned(run: Run) -> int:
    """Consultations a run was asked for: cases times trials."""
    return run.config.cases * run.config.trials


@dataclass(slots=True)
class ConsultationView:
    """What the app knows about one consultation; updated in place."""

    rec: ConsultationRecord
    meta: CaseMeta | None = None
    live_turns: int = 0
    """Turns seen so far while it runs (the row's ``n_turns`` is set only at the end)."""
    live_usage: dict[str, Usage] = field(default_factory=dict)
    """Usage added up from its turns while it runs."""
    score: Score | None = None
    version: int = 0
    """The follower version that last changed it."""

    @property
    def id(self) -> str:
        """Consultation id."""
        return self.rec.id

    @property
    def status(self) -> str:
        """``running``, ``done`` or ``error``."""
        return self.rec.status

    @property
    def turns(self) -> int:
        """Turns so far (final count once finished)."""
        return self.live_turns if self.rec.status == "running" else max(self.rec.n_turns, self.live_turns)

    @property
    def usage(self) -> dict[str, Usage]:
        """Usage by role: live while running, the stored total once finished."""
        return self.live_usage if self.rec.status == "running" else self.rec.usage

    @property
    def organ_system(self) -> str:
        """Organ system of its case."""
        return self.meta.organ_system if self.meta else ""

    @property
    def cost_usd(self) -> float:
        """Cost so far over every role."""
        return sum(u.cost_usd for u in self.usage.values())


@dataclass(frozen=True, slots=True)
class FetchState:
    """What :func:`fetch_delta` needs to know of the follower; built on the event loop."""

    run_id: str
    loaded: bool
    after_seq: int
    cursor: ConsultationCursor
    case_ids: Collection[str]
    judgement: tuple[int, float] | None
    distillation: tuple[int, int] | None
    check_signatures: bool


@dataclass(frozen=True, slots=True)
class Delta:
    """What changed in the store since a :class:`FetchState`."""

    run: Run | None
    consultations: list[ConsultationRecord]
    cursor: ConsultationCursor
    turns: list[TurnAt]
    after_seq: int
    more_turns: bool
    turn_stats: dict[str, TurnStats]
    cases: dict[str, CaseMeta]
    judgement: tuple[int, float] | None
    scores: dict[str, Score] | None
    doctor_scores: list[DoctorScore] | None
    distillation: tuple[int, int] | None
    query_s: float


def fetch_delta(store: Store, state: FetchState) -> Delta:
    """Query what changed since ``state`` (safe to call from a worker thread).

    Turns are read before consultations: a writer starts a consultation before
    it writes the consultation's turns, so every turn read belongs to a
    consultation the second query sees.
    """
    t0 = time.perf_counter()
    run = store.find_run(state.run_id)
    stats: dict[str, TurnStats] = {}
    turns: list[TurnAt] = []
    more = False
    if not state.loaded:
        after = store.max_turn_seq(state.run_id)
        rows, cursor = store.consultation_rows(state.run_id)
        running = [r.id for r in rows if r.status == "running"]
        if running:
            stats = store.turn_stats(running, after)
    else:
        turns = store.turns_since(state.run_id, state.after_seq, limit=MAX_TURNS_PER_POLL)
        more = len(turns) >= MAX_TURNS_PER_POLL
        after = turns[-1].seq if turns else state.after_seq
        # The cursor is advanced in place: the follower does not touch it
        # while a fetch runs (the app polls under a lock).
        rows, cursor = store.consultation_rows(state.run_id, state.cursor)
    missing = {r.case_id for r in rows} - set(state.case_ids)
    cases = store.case_meta(state.run_id, None if not state.loaded else missing) if missing else {}
    judgement = distillation = None
    new_scores: dict[str, Score] | None = None
    new_doctors: list[DoctorScore] | None = None
    if state.check_signatures or not state.loaded:
        judgement = store.judgement_signature(state.run_id)
        distillation = store.distillation_signature(state.run_id)
        if judgement != state.judgement:
            new_scores = {sc.consultation_id: sc for sc in store.scores(state.run_id)}
            new_doctors = store.doctor_scores(state.run_id)
    return Delta(
        run=run,
        consultations=rows,
        cursor=cursor,
        turns=turns,
        after_seq=after,
        more_turns=more,
        turn_stats=stats,
        cases=cases,
        judgement=judgement,
        scores=new_scores,
        doctor_scores=new_doctors,
        distillation=distillation,
        query_s=time.perf_counter() - t0,
    )


@dataclass(frozen=True, slots=True)
class Update:
    """What one applied :class:`Delta` changed."""

    version: int
    changed: frozenset[str]
    """Consultations added or changed (status, turns, score)."""
    added: frozenset[str]
    """Consultations seen for the first time."""
    turns: tuple[TurnAt, ...]
    """New turns, in ``seq`` order."""
    run_changed: bool
    scores_changed: bool
    distillation_changed: bool
    more: bool
    """Another poll has more turns waiting."""

    @property
    def empty(self) -> bool:
        """Whether nothing changed."""
        return not (self.changed or self.turns or self.run_changed or self.scores_changed or self.distillation_changed)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a run stands."""

    planned: int
    done: int
    running: int
    failed: int
    elapsed_s: float
    per_min: float | None
    """Consultations finished per minute (recent window, else since the start)."""
    turns_per_s: float | None
    eta_s: float | None

    @property
    def finished(self) -> int:
        """Done plus failed."""
        return self.done + self.failed


@dataclass(frozen=True, slots=True)
class DoctorRow:
    """Live counts and committee scores of one doctor model."""

    doctor: str
    done: int
    running: int
    failed: int
    scored: int
    mean: float | None
    diagnosis_accuracy: float | None


def _ts(value: datetime) -> float:
    return value.timestamp()


class RunFollower:
    """The in-memory state of one followed run."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        clock: Clock = utcnow,
        signature_every_s: float = SIGNATURE_EVERY_S,
    ) -> None:
        """Prepare to follow ``run_id`` (nothing is read until the first poll).

        Args:
            store: The store (only read).
            run_id: The run.
            clock: Wall clock (tests fix it so elapsed time and ETA are stable).
            signature_every_s: How often to check for (re-)judging and distilling.
        """
        self.store = store
        self.signature_every_s = signature_every_s
        self.run_id = run_id
        self.clock = clock
        self.run: Run | None = None
        self.loaded = False
        self.version = 0
        self.after_seq = 0
        self.cursor = ConsultationCursor()
        self.views: dict[str, ConsultationView] = {}
        self.cases: dict[str, CaseMeta] = {}
        self.status_counts: Counter[str] = Counter()
        self.doctor_counts: dict[str, Counter[str]] = {}
        self.usage: dict[str, Usage] = {}
        self.failures: list[ConsultationView] = []
        self._failed: set[str] = set()
        self.doctor_scores: list[DoctorScore] = []
        self.judgement: tuple[int, float] | None = None
        self.distillation: tuple[int, int] | None = None
        self.turns_seen = 0
        self.latencies: deque[float] = deque(maxlen=20_000)
        """Seconds from a turn's ``created_at`` to its being applied here."""
        self.query_times: deque[float] = deque(maxlen=20_000)
        """Seconds each poll spent in the database."""
        self._samples: deque[tuple[float, int, int]] = deque()
        self._last_signature = float("-inf")

    # ------------------------------------------------------------------ polling

    def fetch_state(self) -> FetchState:
        """Return what the next :func:`fetch_delta` needs (call on the event loop)."""
        now = time.monotonic()
        check = now - self._last_signature >= self.signature_every_s
        if check:
            self._last_signature = now
        return FetchState(
            run_id=self.run_id,
            loaded=self.loaded,
            after_seq=self.after_seq,
            cursor=self.cursor,
            case_ids=self.cases.keys(),
            judgement=self.judgement,
            distillation=self.distillation,
            check_signatures=check,
        )

    def resync(self) -> None:
        """Start over with a full read on the next poll (after a failed fetch)."""
        self.loaded = False
        self.cursor = ConsultationCursor()

    def poll(self) -> Update:
        """Fetch and apply in one go, on the calling thread (tests, benchmarks)."""
        return self.apply(fetch_delta(self.store, self.fetch_state()))

    def apply(self, delta: Delta) -> Update:
        """Apply a fetched delta to the in-memory state.

        Returns:
            What changed, for the widgets to redraw just that.
        """
        version = self.version + 1
        changed: set[str] = set()
        added: set[str] = set()
        run_changed = delta.run is not None and delta.run != self.run
        if delta.run is not None:
            self.run = delta.run
        self.cases.update(delta.cases)
        for rec in delta.consultations:
            view = self.views.get(rec.id)
            if view is None:
                view = ConsultationView(rec=rec, meta=self.cases.get(rec.case_id))
                self.views[rec.id] = view
                added.add(rec.id)
            else:
                self._count(view, -1)
                view.rec = rec
            st = delta.turn_stats.get(rec.id)
            if st is not None:
                view.live_turns = st.turns
                view.live_usage = st.usage
            self._count(view, +1)
            if rec.status == "error" and rec.id not in self._failed:
                self._failed.add(rec.id)
                self.failures.append(view)
            changed.add(rec.id)
        for _seq, t in delta.turns:
            view = self.views.get(t.consultation_id)
            if view is None or view.rec.status != "running":
                continue
            if t.index >= view.live_turns:
                view.live_turns = t.index + 1
            u = t.usage
            if used(u):
                view.live_usage.setdefault(t.role, Usage()).add(u)
                self.usage.setdefault(t.role, Usage()).add(u)
            changed.add(t.consultation_id)
        self.turns_seen += len(delta.turns)
        if delta.turns:
            now = self.clock()
            self.latencies.extend(max(0.0, (now - t.created_at).total_seconds()) for _seq, t in delta.turns)
        self.query_times.append(delta.query_s)
        scores_changed = False
        if delta.scores is not None:
            scores_changed = True
            for cid, view in self.views.items():
                sc = delta.scores.get(cid)
                if sc != view.score:
                    view.score = sc
                    changed.add(cid)
        if delta.doctor_scores is not None:
            self.doctor_scores = delta.doctor_scores
        if delta.judgement is not None:
            self.judgement = delta.judgement
        distillation_changed = delta.distillation is not None and delta.distillation != self.distillation
        if delta.distillation is not None:
            self.distillation = delta.distillation
        if delta.cases:
            for view in self.views.values():
                if view.meta is None and view.rec.case_id in delta.cases:
                    view.meta = delta.cases[view.rec.case_id]
        self.after_seq = delta.after_seq
        self.cursor = delta.cursor
        self.loaded = True
        for cid in changed:
            self.views[cid].version = version
        update = Update(
            version=version,
            changed=frozenset(changed),
            added=frozenset(added),
            turns=tuple(delta.turns),
            run_changed=run_changed,
            scores_changed=scores_changed,
            distillation_changed=distillation_changed,
            more=delta.more_turns,
        )
        if not update.empty:
            self.version = version
        self._sample()
        return update

    def _count(self, view: ConsultationView, sign: int) -> None:
        # Counts and usage are kept as running sums so a poll costs what it
        # changed, not what the run holds.
        status = view.rec.status
        self.status_counts[status] += sign
        self.doctor_counts.setdefault(view.rec.doctor, Counter())[status] += sign
        for role, u in view.usage.items():
            total = self.usage.setdefault(role, Usage())
            if sign > 0:
                total.add(u)
            else:
                _take(total, u)

    def _sample(self) -> None:
        now = _ts(self.clock())
        self._samples.append((now, self.status_counts["done"] + self.status_counts["error"], self.turns_seen))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW_S:
            self._samples.popleft()

    # ------------------------------------------------------------------ reading

    def progress(self) -> Progress:
        """Return counts, throughput and ETA of the run."""
        done, failed, running = (self.status_counts[k] for k in ("done", "error", "running"))
        finished = done + failed
        asked = max(planned(self.run) if self.run else 0, len(self.views))
        live = self.run is not None and self.run.status == "running"
        elapsed = 0.0
        if self.run is not None:
            end = self.run.finished_at if (self.run.finished_at and not live) else self.clock()
            elapsed = max(0.0, (end - self.run.created_at).total_seconds())
        per_min: float | None = None
        turns_per_s: float | None = None
        if len(self._samples) >= 2 and live:
            t0, f0, n0 = self._samples[0]
            t1, f1, n1 = self._samples[-1]
            if t1 - t0 >= 3.0:
                per_min = (f1 - f0) / (t1 - t0) * 60.0
                turns_per_s = (n1 - n0) / (t1 - t0)
        if per_min is None and elapsed > 0 and finished:
            per_min = finished / elapsed * 60.0
        if turns_per_s is None and elapsed > 0:
            total_turns = sum(v.turns for v in self.views.values()) if not live else None
            if total_turns is not None:
                turns_per_s = total_turns / elapsed
        eta: float | None = None
        if live and per_min:
            eta = max(0, asked - finished) / (per_min / 60.0)
        elif not live:
            eta = 0.0
        return Progress(asked, done, running, failed, elapsed, per_min, turns_per_s, eta)

    def doctor_rows(self) -> list[DoctorRow]:
        """Return per-doctor counts and scores, by doctor name."""
        by_score = {d.doctor: d for d in self.doctor_scores}
        names = sorted(set(self.doctor_counts) | set(by_score))
        out = []
        for name in names:
            counts = self.doctor_counts.get(name, Counter())
            sc = by_score.get(name)
            out.append(
                DoctorRow(
                    doctor=name,
                    done=counts["done"],
                    running=counts["running"],
                    failed=counts["error"],
                    scored=sc.scored if sc else 0,
                    mean=sc.mean if sc else None,
                    diagnosis_accuracy=sc.diagnosis_accuracy if sc else None,
                )
            )
        return out

    def usage_rows(self) -> list[tuple[str, Usage]]:
        """Return usage by role, roles with any use only, doctor first."""
        order = {"doctor": 0, "patient": 1, "measurement": 2}
        rows = [(r, u) for r, u in self.usage.items() if used(u)]
        if not rows:
            rows = [(r, u) for r, u in self.usage.items()]
        return sorted(rows, key=lambda ru: (order.get(ru[0], 9), ru[0]))

    def total_cost(self) -> float:
        """Cost so far over every role."""
        return sum(u.cost_usd for u in self.usage.values())

    def changed_since(self, version: int) -> list[ConsultationView]:
        """Return the consultations changed after ``version`` (for a screen catching up)."""
        return [v for v in self.views.values() if v.version > version]
