"""Named, ordered schema migrations, each recorded in the ``migrations`` table.

Each migration spells out its own DDL instead of calling
``SQLModel.metadata.create_all``: the first migration must keep creating the
schema as it was when it was written, even after the models change, or later
migrations would find their work already done. New schema changes are new
entries at the end of :data:`MIGRATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Connection

Migration = Callable[[Connection], None]


def m001_initial(conn: Connection) -> None:
    """Create runs, cases, consultations, turns, verdicts, scores, mistakes, qa_items."""
    md = MetaData()
    ts = DateTime(timezone=True)
    Table(
        "runs",
        md,
        Column("id", String, primary_key=True),
        Column("name", String, nullable=False, index=True),
        Column("status", String, nullable=False),
        Column("config", JSON, nullable=False),
        Column("created_at", ts, nullable=False),
        Column("finished_at", ts, nullable=True),
        Column("schema_version", Integer, nullable=False),
    )
    Table(
        "cases",
        md,
        Column("run_id", String, primary_key=True),
        Column("case_id", String, primary_key=True),
        Column("organ_system", String, nullable=False),
        Column("difficulty", String, nullable=False),
        Column("data", JSON, nullable=False),
    )
    Table(
        "consultations",
        md,
        Column("id", String, primary_key=True),
        Column("run_id", String, nullable=False, index=True),
        Column("case_id", String, nullable=False),
        Column("trial", Integer, nullable=False),
        Column("seed", Integer, nullable=False),
        Column("doctor", String, nullable=False),
        Column("patient", String, nullable=False),
        Column("persona", String, nullable=False),
        Column("status", String, nullable=False),
        Column("stop_reason", String, nullable=True),
        Column("error", Text, nullable=True),
        Column("n_turns", Integer, nullable=False),
        Column("final", JSON, nullable=True),
        Column("usage", JSON, nullable=True),
        Column("started_at", ts, nullable=False),
        Column("finished_at", ts, nullable=True),
        Column("schema_version", Integer, nullable=False),
        UniqueConstraint("run_id", "case_id", "doctor", "trial", name="uq_consultation_key"),
    )
    Table(
        "turns",
        md,
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("run_id", String, nullable=False),
        Column("consultation_id", String, nullable=False, index=True),
        Column("idx", Integer, nullable=False),
        Column("role", String, nullable=False),
        Column("content", Text, nullable=False),
        Column("data", JSON, nullable=False),
        Column("created_at", ts, nullable=False),
        UniqueConstraint("consultation_id", "idx", name="uq_turn"),
        Index("ix_turns_run_seq", "run_id", "seq"),
    )
    Table(
        "verdicts",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("run_id", String, nullable=False, index=True),
        Column("consultation_id", String, nullable=False, index=True),
        Column("item_id", String, nullable=False),
        Column("judge", String, nullable=False),
        Column("outcome", String, nullable=False),
        Column("data", JSON, nullable=False),
    )
    Table(
        "scores",
        md,
        Column("consultation_id", String, primary_key=True),
        Column("run_id", String, nullable=False, index=True),
        Column("overall", Float, nullable=False),
        Column("diagnosis", String, nullable=False),
        Column("must_ask_coverage", Float, nullable=True),
        Column("data", JSON, nullable=False),
    )
    Table(
        "mistakes",
        md,
        Column("id", String, primary_key=True),
        Column("run_id", String, nullable=False, index=True),
        Column("consultation_id", String, nullable=False),
        Column("category", String, nullable=False),
        Column("risk", String, nullable=False),
        Column("data", JSON, nullable=False),
    )
    Table(
        "qa_items",
        md,
        Column("id", String, primary_key=True),
        Column("run_id", String, nullable=False, index=True),
        Column("mistake_id", String, nullable=False),
        Column("valid", Boolean, nullable=False),
        Column("data", JSON, nullable=False),
    )
    md.create_all(conn)


def m002_mistake_clusters(conn: Connection) -> None:
    """Create mistake_clusters: near-duplicate mistakes merged, with their members."""
    md = MetaData()
    Table(
        "mistake_clusters",
        md,
        Column("id", String, primary_key=True),
        Column("run_id", String, nullable=False, index=True),
        Column("count", Integer, nullable=False),
        Column("data", JSON, nullable=False),
    )
    md.create_all(conn)


def m003_consultation_worker(conn: Connection) -> None:
    """Record where each consultation ran, and index consultations by start time within a run."""
    from sqlalchemy import text

    conn.execute(text("ALTER TABLE consultations ADD COLUMN worker VARCHAR"))
    conn.execute(text("CREATE INDEX ix_consultations_run_started ON consultations (run_id, started_at)"))


def m004_consultation_seed_bigint(conn: Connection) -> None:
    """Widen consultations.seed to 64 bits: seeds are unsigned 32-bit CRCs, past a 32-bit signed INTEGER.

    SQLite's INTEGER already holds 64 bits; PostgreSQL's does not.
    """
    from sqlalchemy import text

    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE consultations ALTER COLUMN seed TYPE BIGINT"))


def m005_consultation_care(conn: Connection) -> None:
    """Record what each consultation's visit and orders cost (a JSON :class:`~arena.core.types.CareCost`)."""
    from sqlalchemy import text

    conn.execute(text("ALTER TABLE consultations ADD COLUMN care JSON"))


def m006_consultation_format(conn: Connection) -> None:
    """Record each consultation's format; the same case, doctor and trial may then be stored once per format.

    The unique key (run, case, doctor, trial) gains ``format``. PostgreSQL
    changes a constraint in place; SQLite cannot, so there the table is built
    anew under the new key, its rows copied over, and its indexes made again.
    """
    from sqlalchemy import text

    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE consultations ADD COLUMN format VARCHAR NOT NULL DEFAULT 'dialogue'"))
        conn.execute(text("ALTER TABLE consultations DROP CONSTRAINT uq_consultation_key"))
        conn.execute(
            text(
                "ALTER TABLE consultations ADD CONSTRAINT uq_consultation_key "
                "UNIQUE (run_id, case_id, doctor, trial, format)"
            )
        )
        return
    columns = [c["name"] for c in conn.execute(text("PRAGMA table_info(consultations)")).mappings()]
    md = MetaData()
    ts = DateTime(timezone=True)
    Table(
        "consultations_new",
        md,
        Column("id", String, primary_key=True),
        Column("run_id", String, nullable=False),
        Column("case_id", String, nullable=False),
        Column("trial", Integer, nullable=False),
        Column("seed", BigInteger, nullable=False),
        Column("doctor", String, nullable=False),
        Column("patient", String, nullable=False),
        Column("persona", String, nullable=False),
        Column("status", String, nullable=False),
        Column("stop_reason", String, nullable=True),
        Column("error", Text, nullable=True),
        Column("n_turns", Integer, nullable=False),
        Column("final", JSON, nullable=True),
        Column("usage", JSON, nullable=True),
        Column("started_at", ts, nullable=False),
        Column("finished_at", ts, nullable=True),
        Column("schema_version", Integer, nullable=False),
        Column("worker", String, nullable=True),
        Column("care", JSON, nullable=True),
        Column("format", String, nullable=False, server_default="dialogue"),
        UniqueConstraint("run_id", "case_id", "doctor", "trial", "format", name="uq_consultation_key"),
    )
    md.create_all(conn)
    names = ", ".join(columns)
    conn.execute(text(f"INSERT INTO consultations_new ({names}) SELECT {names} FROM consultations"))
    conn.execute(text("DROP TABLE consultations"))
    conn.execute(text("ALTER TABLE consultations_new RENAME TO consultations"))
    conn.execute(text("CREATE INDEX ix_consultations_run_id ON consultations (run_id)"))
    conn.execute(text("CREATE INDEX ix_consultations_run_started ON consultations (run_id, started_at)"))


MIGRATIONS: list[tuple[str, Migration]] = [
    ("m001_initial", m001_initial),
    ("m002_mistake_clusters", m002_mistake_clusters),
    ("m003_consultation_worker", m003_consultation_worker),
    ("m004_consultation_seed_bigint", m004_consultation_seed_bigint),
    ("m005_consultation_care", m005_consultation_care),
    ("m006_consultation_format", m006_consultation_format),
]
"""Every migration, in the order it must run. Append; never reorder or rename."""


MIGRATIONS_TABLE = "migrations"
"""The bookkeeping table; a database without it holds no medarena records."""


def migrations_table(md: MetaData) -> Table:
    """Return the bookkeeping table that records applied migrations."""
    return Table(
        MIGRATIONS_TABLE,
        md,
        Column("name", String, primary_key=True),
        Column("applied_at", DateTime(timezone=True), nullable=False),
    )
