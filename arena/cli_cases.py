"""``arena cases ...``: generate, import, validate, inspect case banks."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from arena.core.types import ATYPICAL_RATE, Case
from arena.display import make_console

cases_app = typer.Typer(no_args_is_help=True, help="Generate, import, validate and inspect case banks.")
out = make_console()


def write_jsonl(cases: Sequence[Case], path: Path) -> None:
    """Write cases as JSONL atomically: a failure leaves no partial file.

    Args:
        cases: The cases.
        path: Destination file.
    """
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for c in cases:
                fh.write(c.model_dump_json(exclude_defaults=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@cases_app.command("generate")
def generate_cmd(
    n: Annotated[int, typer.Option("--n", min=1, help="How many cases.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed; the same seed gives the same file.")] = 0,
    out_file: Annotated[Path, typer.Option("--out", help="JSONL file to write.")] = Path("cases.jsonl"),
    atypical_rate: Annotated[
        float | None,
        typer.Option(
            "--atypical-rate", min=0.0, max=1.0, help=f"Share of atypical presentations (default: {ATYPICAL_RATE})."
        ),
    ] = None,
) -> None:
    """Generate unique synthetic cases from the knowledge base."""
    from cases.synthesizer import generate

    t0 = time.perf_counter()
    cases = generate(n, seed, atypical_rate=ATYPICAL_RATE if atypical_rate is None else atypical_rate)
    write_jsonl(cases, out_file)
    out.print(f"wrote {len(cases)} cases to {out_file} in {time.perf_counter() - t0:.1f} s")


@cases_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="File to import.")],
    fmt: Annotated[str, typer.Option("--format", help="agentclinic, mediq or healthbench.")],
    out_file: Annotated[Path, typer.Option("--out", help="JSONL file to write.")],
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 2, nothing written) on any record that would be skipped.")
    ] = False,
) -> None:
    """Import cases from another benchmark's format; records that cannot be read are skipped with a reason."""
    from cases.importers import import_cases
    from cases.loader import CaseFileError

    result = import_cases(fmt, file, strict=strict)
    for skip in result.skipped:
        print(f"skipped {skip.message}", file=sys.stderr)
    if not result.cases:
        raise CaseFileError(f"{file}: none of its {result.read} records could be imported; nothing written")
    write_jsonl(result.cases, out_file)
    by_reason = Counter(s.reason for s in result.skipped)
    skipped = f"skipped {len(result.skipped)}" + (
        " (" + "; ".join(f"{n} x {reason}" for reason, n in by_reason.most_common()) + ")" if by_reason else ""
    )
    out.print(f"read {result.read} records: imported {len(result.cases)}, {skipped}", markup=False, highlight=False)
    out.print(f"wrote {len(result.cases)} cases to {out_file}; {result.matched} matched a knowledge-base condition")
    if result.unmatched:
        shown = ", ".join(sorted(set(result.unmatched))[:10])
        out.print(f"{len(result.unmatched)} without a knowledge-base condition (minimal rubric only): {shown}")


@cases_app.command("validate")
def validate_cmd(file: Annotated[Path, typer.Argument(help="JSONL case file.")]) -> None:
    """Check a case file's schema and consistency; exit 2 on the first problem."""
    from cases.loader import CaseFileError, load_case_file
    from cases.synthesizer import consistency_problems

    cases = load_case_file(file)
    for n, c in enumerate(cases, start=1):
        problems = consistency_problems(c)
        if problems:
            raise CaseFileError(f"{file}: case {c.id} (record {n}): {problems[0]}")
    out.print(f"{file}: {len(cases)} cases, all valid")


def _age_band(age: int) -> str:
    if age < 12:
        return "0-11"
    if age < 18:
        return "12-17"
    lo = (age // 20) * 20
    return f"{max(18, lo)}-{lo + 19}"


@cases_app.command("stats")
def stats_cmd(file: Annotated[Path, typer.Argument(help="JSONL case file.")]) -> None:
    """Counts by organ system, complaint, difficulty, age band and sex."""
    from cases.loader import load_case_file

    cases = load_case_file(file)
    keys = {
        "organ system": lambda c: c.organ_system or "-",
        "complaint": lambda c: c.complaint or "-",
        "difficulty": lambda c: c.difficulty,
        "age band": lambda c: _age_band(c.demographics.age),
        "sex": lambda c: c.demographics.sex,
        "diagnosis": lambda c: c.diagnosis.name,
    }
    out.print(f"{file}: {len(cases)} cases, {sum(c.atypical for c in cases)} atypical")
    for title, key in keys.items():
        counts = Counter(key(c) for c in cases)
        t = Table(title=f"by {title} ({len(counts)})")
        t.add_column(title)
        t.add_column("cases", justify="right")
        for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:40]:
            t.add_row(str(k), str(v))
        out.print(t)


@cases_app.command("show")
def show_cmd(
    file: Annotated[Path, typer.Argument(help="JSONL case file.")],
    case_id: Annotated[str, typer.Argument(help="Case id.")],
) -> None:
    """Show one case, readably."""
    from cases.loader import CaseFileError, load_case_file

    found = [c for c in load_case_file(file) if c.id == case_id]
    if not found:
        raise CaseFileError(f"{file}: no case {case_id!r}")
    c = found[0]
    d = c.demographics
    out.print(f"[bold]{c.id}[/bold] {c.title}  ({c.organ_system}, {c.difficulty}{', atypical' if c.atypical else ''})")
    out.print(f"{d.name}, {d.age} {d.sex}; speaker: {c.speaker}; complaint: {c.complaint or '-'}")
    out.print(f"opens with: {c.chief_complaint!r}")
    t = Table("fact", "category", "disclosure", "topic", "text", "lay")
    for f in c.facts:
        t.add_row(f.id, f.category, f.disclosure, f.topic, ("NOT " if f.negative else "") + f.text, f.lay)
    out.print(t)
    out.print(
        f"diagnosis: {c.diagnosis.name} ({c.diagnosis.icd10}); differentials: "
        + ", ".join(x.name for x in c.differentials)
    )
    r = Table("item", "points", "tags", "criterion", "check")
    for i in c.rubric:
        chk = f"{i.check.kind} {i.check.met_when} {i.check.targets}" if i.check else "-"
        r.add_row(i.id, f"{i.points:g}", " ".join(i.tags), i.criterion, chk)
    out.print(r)
