"""SQL tables (sqlmodel) that hold runs, consultations, turns and what follows.

Columns that stages filter or sort on are real columns; the rest of each
record is kept whole in a JSON column so the pydantic record round-trips
exactly. The schema itself is created by the named migrations in
:mod:`arena.core.migrations`; a test checks the two agree.

Rows and records meet in one place: :func:`row_values` gives a record's
column values by field name and :func:`from_row` builds a record from a row
the same way, so a column named like a field never needs a hand mapping.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from arena.core.types import Turn

M = TypeVar("M", bound=BaseModel)


class RunRow(SQLModel, table=True):
    """One run."""

    __tablename__ = "runs"
    id: str = Field(primary_key=True)
    name: str = Field(index=True)
    status: str
    config: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    schema_version: int


class CaseRow(SQLModel, table=True):
    """A case as played in a run (kept so later stages never need the case file)."""

    __tablename__ = "cases"
    run_id: str = Field(primary_key=True)
    case_id: str = Field(primary_key=True)
    organ_system: str
    difficulty: str
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ConsultationRow(SQLModel, table=True):
    """One consultation; ``status`` is ``running`` until its transcript is saved."""

    __tablename__ = "consultations"
    __table_args__ = (
        UniqueConstraint("run_id", "case_id", "doctor", "trial", "format", name="uq_consultation_key"),
        Index("ix_consultations_run_started", "run_id", "started_at"),
    )
    id: str = Field(primary_key=True)
    run_id: str = Field(index=True)
    case_id: str
    trial: int
    seed: int = Field(sa_column=Column(BigInteger, nullable=False))
    doctor: str
    patient: str
    persona: str
    status: str
    stop_reason: str | None = None
    error: str | None = None
    n_turns: int = 0
    final: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    usage: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    schema_version: int
    worker: str | None = None
    care: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    format: str = "dialogue"


class TurnRow(SQLModel, table=True):
    """One turn, written as it happens; ``seq`` lets a viewer follow new rows."""

    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("consultation_id", "idx", name="uq_turn"),
        Index("ix_turns_run_seq", "run_id", "seq"),
    )
    seq: int | None = Field(default=None, primary_key=True)
    run_id: str
    consultation_id: str = Field(index=True)
    idx: int
    role: str
    content: str
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class VerdictRow(SQLModel, table=True):
    """One judge's verdict on one rubric item."""

    __tablename__ = "verdicts"
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True)
    consultation_id: str = Field(index=True)
    item_id: str
    judge: str
    outcome: str
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ScoreRow(SQLModel, table=True):
    """A consultation's committee score."""

    __tablename__ = "scores"
    consultation_id: str = Field(primary_key=True)
    run_id: str = Field(index=True)
    overall: float
    diagnosis: str
    must_ask_coverage: float | None = None
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class MistakeRow(SQLModel, table=True):
    """A mistake record."""

    __tablename__ = "mistakes"
    id: str = Field(primary_key=True)
    run_id: str = Field(index=True)
    consultation_id: str
    category: str
    risk: str
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class MistakeClusterRow(SQLModel, table=True):
    """Near-duplicate mistakes merged into one."""

    __tablename__ = "mistake_clusters"
    id: str = Field(primary_key=True)
    run_id: str = Field(index=True)
    count: int
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class QAItemRow(SQLModel, table=True):
    """A single-shot QA item."""

    __tablename__ = "qa_items"
    id: str = Field(primary_key=True)
    run_id: str = Field(index=True)
    mistake_id: str
    valid: bool
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class MigrationRow(SQLModel, table=True):
    """A migration that has been applied to this database."""

    __tablename__ = "migrations"
    name: str = Field(primary_key=True)
    applied_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


# Core handles on the tables: stages and the terminal app query with plain
# SQLAlchemy Core, which keeps bulk reads and writes fast and typed.
RUNS = SQLModel.metadata.tables["runs"]
CASES = SQLModel.metadata.tables["cases"]
CONSULTATIONS = SQLModel.metadata.tables["consultations"]
TURNS = SQLModel.metadata.tables["turns"]
VERDICTS = SQLModel.metadata.tables["verdicts"]
SCORES = SQLModel.metadata.tables["scores"]
MISTAKES = SQLModel.metadata.tables["mistakes"]
QA_ITEMS = SQLModel.metadata.tables["qa_items"]
CLUSTERS = SQLModel.metadata.tables["mistake_clusters"]


def aware(value: datetime | None) -> datetime | None:
    """Return ``value`` as a UTC-aware datetime (SQLite hands back naive ones; everything written is UTC)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def row_values(table: Table, record: BaseModel, **given: Any) -> dict[str, Any]:
    """Return the values of ``table``'s columns for ``record``, the one mapping from records to rows.

    Each column named like a field of the record takes that field's value; the
    caller gives the rest (``run_id``, a redacted ``data`` document, a column
    named otherwise), and what it gives wins.

    Args:
        table: The table written.
        record: The record stored in the row.
        **given: Values of the other columns, or ones to use instead of the record's.

    Returns:
        Column name to value, ready for an ``INSERT``.
    """
    fields = type(record).model_fields
    row = {c.name: getattr(record, c.name) for c in table.columns if c.name in fields and c.name not in given}
    row.update(given)
    return row


def from_row(model: type[M], row: Any, **given: Any) -> M:
    """Build a record from a row, the one mapping from rows to records.

    Each field named like a column of the row takes that column's value (times
    as UTC-aware, see :func:`aware`); ``given`` supplies or replaces fields.

    Args:
        model: The record type.
        row: A SQLAlchemy row (or anything with a ``_mapping`` or a mapping).
        **given: Fields not in the row, or values to use instead of the row's.

    Returns:
        The validated record.
    """
    values = getattr(row, "_mapping", row)
    fields: dict[str, Any] = {}
    for name in model.model_fields:
        if name in given or name not in values:
            continue
        value = values[name]
        fields[name] = aware(value) if isinstance(value, datetime) else value
    fields.update(given)
    return model.model_validate(fields)


def turn_from_row(cid: str, idx: int, role: str, content: str, created: datetime | None, data: str) -> Turn:
    """Build a turn from its row's columns and the text of its ``data`` column.

    Args:
        cid: ``consultation_id``.
        idx: ``idx`` (the turn's index).
        role: ``role``.
        content: ``content``.
        created: ``created_at``, UTC-aware.
        data: The ``data`` column as stored JSON text.
    """
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
