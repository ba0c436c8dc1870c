"""The importers on the public case files in data/public/, and (with --play) those cases played through the CLI.

For each file it prints: records, imported, skipped (by reason), mean facts
and rubric items per imported case, the share of diagnoses the knowledge base
knows, and the seconds the import took. With ``--play N`` it then runs
``arena simulate --case-file <imported file> --cases N`` on the MedQA and
CRAFT-MD imports, as a user would, and prints the consultations, the errors
and the patient turns that name the hidden diagnosis (the target is 0 and 0).
Run ``python bench/import_public.py [--play 50]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from arena.cli_cases import write_jsonl
from arena.core.store import Store
from cases.importers import import_cases
from personas.leak_check import LeakCheck

PUBLIC = Path(__file__).resolve().parents[1] / "data" / "public"
FILES = [
    ("agentclinic_medqa.jsonl", "agentclinic"),
    ("agentclinic_nejm.jsonl", "agentclinic"),
    ("all_craft_md.jsonl", "mediq"),
]
PLAYED = ("agentclinic_medqa.jsonl", "all_craft_md.jsonl")


def _import(name: str, fmt: str, out: Path) -> None:
    t0 = time.perf_counter()
    result = import_cases(fmt, PUBLIC / name)
    seconds = time.perf_counter() - t0
    cases = result.cases
    n = len(cases) or 1
    reasons = Counter(s.reason for s in result.skipped)
    print(f"{name}")
    print(
        f"  records {result.read}, imported {len(cases)} ({100 * len(cases) / max(1, result.read):.1f}%), "
        f"skipped {len(result.skipped)}"
    )
    for reason, count in reasons.most_common():
        print(f"    {count} x {reason}")
    print(
        f"  facts per case {sum(len(c.facts) for c in cases) / n:.1f}, "
        f"rubric items per case {sum(len(c.rubric) for c in cases) / n:.1f}"
    )
    with_dx = result.matched + len(result.unmatched)
    print(
        f"  diagnoses in the knowledge base {result.matched}/{with_dx} ({100 * result.matched / max(1, with_dx):.1f}%)"
    )
    print(f"  seconds {seconds:.2f}")
    write_jsonl(cases, out)


def _play(name: str, case_file: Path, n: int, folder: Path) -> None:
    url = f"sqlite:///{folder / (case_file.stem + '.db')}"
    t0 = time.perf_counter()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "arena.cli",
            "simulate",
            "--case-file",
            str(case_file),
            "--cases",
            str(n),
            "--no-distill",
            "--db",
            url,
        ],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        check=False,
    )
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        print(f"{name}: arena simulate exited {r.returncode}: {r.stderr.strip().splitlines()[-1:]}")
        return
    store = Store(url, create=False)
    run = store.get_run("latest")
    cases = store.cases(run.id)
    transcripts = list(store.transcripts(run.id))
    errors = sum(1 for t in transcripts if t.error)
    leaks = 0
    patient_turns = 0
    for t in transcripts:
        check = LeakCheck(cases[t.case_id])
        for turn in t.turns:
            if turn.role != "patient":
                continue
            patient_turns += 1
            leak = check.find(turn.content)
            if leak is not None and leak.kind in ("diagnosis", "icd10"):
                leaks += 1
    summary = store.summary(run.id)
    print(
        f"{name} played: {len(transcripts)} consultations, {errors} errors, {patient_turns} patient turns, "
        f"{leaks} naming the diagnosis; diagnosis accuracy {100 * (summary.diagnosis_accuracy or 0):.1f}%; "
        f"{seconds:.1f} s through the CLI"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--play", type=int, default=0, help="Consultations to play per file (0: import only).")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="medarena-import-") as tmp:
        folder = Path(tmp)
        for name, fmt in FILES:
            _import(name, fmt, folder / name)
        if args.play:
            for name in PLAYED:
                _play(name, folder / name, args.play, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
