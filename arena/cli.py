"""The ``arena`` command line."""

from __future__ import annotations

import gc
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from arena.cli_cases import cases_app
from arena.cli_report import register as register_report_commands
from arena.core.errors import error_line
from arena.core.types import CONSULT_FORMATS, DEFAULT_THRESHOLD, RISK_LEVELS, Case, ExportSplit, RunConfig
from arena.display import make_console

if TYPE_CHECKING:
    from collections.abc import Callable

    from arena.core.store import Store
    from arena.display import Display

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="medarena: simulated consultations between doctor models and fact-bounded patients.",
)
export_app = typer.Typer(no_args_is_help=True, help="Export a run.")
app.add_typer(export_app, name="export")
app.add_typer(cases_app, name="cases")
register_report_commands(app)

out = make_console()

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: $ARENA_DB or sqlite:///arena.db).")]


def _store(db: str | None, *, create: bool = False):  # type: ignore[no-untyped-def]
    """Open the store; only a new run may create the database."""
    from arena.core.store import Store

    return Store(db, create=create)


def _default(field: str) -> str:
    """How an option's help shows ``RunConfig``'s default for ``field`` (the value is written there, once)."""
    value = RunConfig.model_fields[field].get_default(call_default_factory=True)
    return f"(default: {', '.join(value) if isinstance(value, list) else value})"


class _Stopped(Exception):
    """The user stopped a command; the message says what was kept and how to go on."""


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _print_summary(store, run_id: str) -> None:  # type: ignore[no-untyped-def]
    from judges.scoring import bootstrap_ci

    s = store.summary(run_id)
    scores = [sc.overall for sc in store.scores(run_id)]
    t = Table(title=f"run {s.name} ({s.run_id})", show_header=True)
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row("consultations", f"{s.consultations} ({s.distinct_cases} distinct cases)")
    t.add_row("errors", str(s.errors))
    t.add_row("diagnosis accuracy", _pct(s.diagnosis_accuracy))
    t.add_row("must-ask coverage", _pct(s.must_ask_coverage))
    if scores:
        lo, hi = bootstrap_ci(scores)
        t.add_row("mean score (95% CI)", f"{s.mean_score:.3f} [{lo:.3f}, {hi:.3f}]")
    t.add_row("mistakes found", str(s.mistakes))
    t.add_row("QA items made", str(s.qa_items))
    out.print(t)


_OPTION_OF = {
    "formats": "format",
    "doctors": "doctor",
    "judges": "judge",
    "timeout_s": "timeout",
    "max_cost_usd": "max-cost",
}
"""The command-line option of each run setting whose name differs from the option's."""


def _formats(given: str | None) -> list[str] | None:
    """The ``--format`` list: ``all`` is every format; otherwise names separated by commas."""
    if given is None:
        return None
    if given.strip() == "all":
        return list(CONSULT_FORMATS)
    return [f.strip() for f in given.split(",") if f.strip()]


@app.command()
def simulate(
    cases: Annotated[int | None, typer.Option("--cases", min=1, help=f"Cases to play {_default('cases')}.")] = None,
    case_file: Annotated[
        str | None,
        typer.Option("--case-file", help="JSONL case file, or 'builtin' (default: synthesize cases)."),
    ] = None,
    doctor: Annotated[
        list[str] | None,
        typer.Option(
            "--doctor",
            help="Doctor: a model name (?style=thorough|efficient|cautious|patient_centred), builtin/checklist, "
            "an http(s):// endpoint, or 'human'. Repeat to compare doctors on the same cases and seeds.",
        ),
    ] = None,
    patient: Annotated[str | None, typer.Option("--patient", help=f"Patient model {_default('patient')}.")] = None,
    guard_matcher: Annotated[
        str | None,
        typer.Option(
            "--guard-matcher",
            help="Matcher of the hallucination guard on a model-played patient: lexical, minilm "
            f"(needs the minilm extra) or a litellm embedding model {_default('guard_matcher')}.",
        ),
    ] = None,
    guard_verifier: Annotated[
        str | None,
        typer.Option(
            "--guard-verifier",
            help="Chat model that reviews the guard's rejections and its loosely backed acceptances.",
        ),
    ] = None,
    gatekeeper: Annotated[
        str | None,
        typer.Option(
            "--gatekeeper",
            help="Chat model that writes the exam and test results a case lacks when the knowledge base "
            f"does not know its condition {_default('gatekeeper')}.",
        ),
    ] = None,
    judge: Annotated[
        list[str] | None,
        typer.Option("--judge", help=f"Judge model; repeat for a committee {_default('judges')}."),
    ] = None,
    persona: Annotated[
        str | None,
        typer.Option(
            "--persona", help=f"Patient persona (see personas/personas.json), or 'mix' {_default('persona')}."
        ),
    ] = None,
    personas: Annotated[
        str | None,
        typer.Option("--personas", help="'mix': a seeded persona per case, a caregiver where the case needs one."),
    ] = None,
    trials: Annotated[
        int | None, typer.Option("--trials", min=1, help=f"Trials per case {_default('trials')}.")
    ] = None,
    formats: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="How each case reaches the doctor: dialogue (the default), vignette (the whole case in one "
            "message), summary (what the dialogue drew out, in one message; needs dialogue), a comma-separated "
            "list, or all. Every format is played by the same doctors with the same seeds.",
        ),
    ] = None,
    choices: Annotated[
        bool,
        typer.Option("--choices", help="Show doctors the answer options of cases that have them (MedQA, MediQ)."),
    ] = False,
    max_turns: Annotated[
        int | None, typer.Option("--max-turns", min=1, help=f"Doctor turns before cut-off {_default('max_turns')}.")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, help=f"Consultations in flight {_default('concurrency')}.")
    ] = None,
    actors: Annotated[int | None, typer.Option("--actors", min=1, help="Ray actors (default: one per CPU).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help=f"Seed {_default('seed')}.")] = None,
    db: DbOpt = None,
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster to join (or $RAY_ADDRESS).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Run name.")] = None,
    no_judge: Annotated[bool, typer.Option("--no-judge", help="Stop after simulating.")] = False,
    no_distill: Annotated[bool, typer.Option("--no-distill", help="Stop after judging.")] = False,
    tui: Annotated[bool, typer.Option("--tui", help="Follow the run in the terminal app while it goes.")] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.001, help="Seconds allowed per consultation.")
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", min=0.0, help="USD: stop starting consultations once the run has cost this much."),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Continue an interrupted run (id or name) where it stopped."),
    ] = None,
) -> None:
    """Run consultations, judge them, distill the failures, print a summary."""
    from arena import pipeline
    from arena.display import make_display

    given = {
        "cases": cases,
        "case_file": case_file or None,
        "doctors": doctor or None,
        "patient": patient,
        "guard_matcher": guard_matcher,
        "guard_verifier": guard_verifier,
        "gatekeeper": gatekeeper,
        "judges": judge or None,
        "persona": personas or persona,
        "trials": trials,
        "formats": _formats(formats),
        "choices": choices or None,
        "max_turns": max_turns,
        "concurrency": concurrency,
        "actors": actors,
        "seed": seed,
        "timeout_s": timeout,
        "max_cost_usd": max_cost,
    }
    # An option left out is left to RunConfig, where each default is written once.
    config = RunConfig.model_validate({k: v for k, v in given.items() if v is not None})
    made: list[Case] | None = None
    if resume is None:
        pipeline.validate_config(config)
        # Bad case files fail here, before the database is touched; so does a cluster that cannot be
        # joined, and a local Ray that cannot start, unless it starts in the background while the driver
        # plays (pipeline.start_ray). The cases are made before Ray starts.
        made = pipeline.prepare(config, address)
        store = _store(db, create=True)
    else:
        store = _store(db)
        resume = store.get_run(resume).id  # an unknown run fails here, in one line

    def stages(display: Display, run_id: str | None) -> str:
        return pipeline.run_stages(
            store,
            config,
            display,
            name=name,
            address=address,
            run_id=run_id,
            resume=resume is not None,
            judge_run=not no_judge,
            distill_run=not no_distill,
            cases=made,
        )

    try:
        run_id = _beside_the_app(store, address, resume, stages) if tui else stages(make_display(), resume)
    except pipeline.RunInterrupted as stop:
        again = ["arena", "simulate", "--resume", stop.run_id]
        if db is not None:
            again += ["--db", store.display_url]
        if address is not None:
            again += ["--address", address]
        raise _Stopped(
            f"interrupted: {stop.saved} of {stop.total} consultations saved; continue with: {shlex.join(again)}"
        ) from None
    run = store.get_run(run_id)
    _print_summary(store, run.id)
    out.print(f"Results: run [bold]{run.id}[/bold] in {store.display_url}")
    out.print(f"  arena show {run.id}   |   arena export hf {run.id} --out DIR")


def _beside_the_app(
    store: Store, address: str | None, resume: str | None, stages: Callable[[Display, str | None], str]
) -> str:
    """Run the stages in a worker thread, silently, while the terminal app follows the run in this one."""
    import threading

    from arena import pipeline
    from arena.display import SilentDisplay
    from arena.ray_local import init_ray
    from tui.cli import run_app_in_process

    run_id = resume or pipeline.new_run_id()
    # Ray starts here, in the main thread, before the app takes over the
    # terminal: Ray wants the real stderr and the main thread's signal handlers.
    init_ray(address)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            stages(SilentDisplay(), run_id)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread below
            failure.append(exc)

    worker = threading.Thread(target=work, name="arena-run", daemon=True)
    worker.start()
    run_app_in_process(store.url, run_id)
    if worker.is_alive():
        out.print("the terminal app closed; the run goes on to the end...")
    worker.join()
    if failure:
        raise failure[0]
    return run_id


@app.command("ray-env")
def ray_env() -> None:
    """Print the environment to start Ray nodes with (`ray start`) so none contacts the cloud."""
    from arena.ray_local import ray_start_env

    env = ray_start_env({})
    for key in sorted(env):
        print(f"export {key}={shlex.quote(env[key])}")


@app.command()
def watch(
    run: Annotated[str | None, typer.Argument(help="Run id or name (default: the newest).")] = None,
    db: DbOpt = None,
) -> None:
    """Follow a run live in the terminal app (or replay a finished one)."""
    from tui.cli import watch as watch_app

    watch_app(run, db)


@app.command("distill")
def distill_cmd(
    run: Annotated[str, typer.Argument(help="Run id or name.")],
    generator: Annotated[
        str | None,
        typer.Option("--generator", help="builtin/templates (default) or a chat model that writes QA items."),
    ] = None,
    replicate: Annotated[
        bool, typer.Option("--replicate", help="Put each QA item to the doctor that made the mistake.")
    ] = False,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold", min=0.0, max=1.0, help=f"Similarity at which mistakes merge (default: {DEFAULT_THRESHOLD})."
        ),
    ] = None,
    db: DbOpt = None,
) -> None:
    """Turn a judged run's failures into mistake records, clusters and QA items."""
    from arena import pipeline

    s = pipeline.distill(
        _store(db),
        run,
        generator=generator,
        replicate_items=replicate,
        threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
    )
    out.print(
        f"{s.mistakes} mistakes, {s.clusters} after de-duplication; "
        f"QA items {s.qa_valid} valid, {s.qa_rejected} rejected"
        + (f"; replicated {s.replicated} of {s.replication_tried}" if s.replication_tried else "")
    )
    out.print(f"{s.simulator_skipped} failed items skipped because the simulated patient or gatekeeper caused them")


@export_app.command("hf")
def export_hf_cmd(
    run: Annotated[str, typer.Argument(help="Run id or name.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Dataset folder to write.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing folder.")] = False,
    min_risk: Annotated[
        str | None, typer.Option("--min-risk", help=f"Keep mistakes at or above: {', '.join(RISK_LEVELS)}.")
    ] = None,
    replicated_only: Annotated[
        bool, typer.Option("--replicated-only", help="Keep QA items the doctor failed again.")
    ] = False,
    split_by: Annotated[
        ExportSplit | None, typer.Option("--split-by", help="Split qa and mistakes by: system or complaint.")
    ] = None,
    push: Annotated[bool, typer.Option("--push", help="Publish to the Hugging Face Hub.")] = False,
    repo: Annotated[str | None, typer.Option("--repo", help="org/name of the dataset repository.")] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the repository private.")] = False,
    db: DbOpt = None,
) -> None:
    """Write a run as a Hugging Face dataset folder (qa, mistakes, transcripts, verdicts); optionally push it."""
    from distill.export_hf import export_hf

    if min_risk is not None and min_risk not in RISK_LEVELS:
        levels = f"{', '.join(RISK_LEVELS[:-1])} or {RISK_LEVELS[-1]}"
        raise typer.BadParameter(f"--min-risk must be {levels}, not {min_risk!r}")
    if push and not repo:
        raise typer.BadParameter("--push needs --repo ORG/NAME")
    counts = export_hf(
        _store(db),
        run,
        out_dir,
        force=force,
        min_risk=min_risk,
        replicated_only=replicated_only,
        split_by=split_by,
        push_repo=repo if push else None,
        private=private,
    )
    out.print(f"wrote {out_dir}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if push:
        out.print(f"published to https://huggingface.co/datasets/{repo}")


@app.command()
def runs(db: DbOpt = None) -> None:
    """List runs, newest first."""
    t = Table("id", "name", "status", "created", "consultations", "errors")
    for r, n, e in _store(db).list_runs():
        t.add_row(r.id, r.name, r.status, r.created_at.strftime("%Y-%m-%d %H:%M:%S"), str(n), str(e))
    out.print(t)


@app.command()
def show(
    run: Annotated[str, typer.Argument(help="Run id or name.")],
    consultation: Annotated[str | None, typer.Argument(help="Consultation id (default: list them).")] = None,
    db: DbOpt = None,
) -> None:
    """Show a run's consultations, or one consultation's transcript and verdicts."""
    store = _store(db)
    r = store.get_run(run)
    if consultation is None:
        scores = {s.consultation_id: s for s in store.scores(r.id)}
        t = Table("stop", "turns", "diagnosis", "match", "score")
        t.add_column("consultation", no_wrap=True)
        for tr in store.transcripts(r.id):
            sc = scores.get(tr.id)
            t.add_row(
                tr.stop_reason,
                str(len(tr.turns)),
                tr.final.diagnosis if tr.final else "-",
                sc.diagnosis if sc else "-",
                f"{sc.overall:.2f}" if sc else "-",
                tr.id,
            )
        out.print(t)
        return
    found = list(store.transcripts(r.id, consultation))
    if not found:
        from arena.core.store import StoreError

        raise StoreError(f"no consultation {consultation!r} in run {r.id}")
    tr = found[0]
    colours = {"doctor": "cyan", "patient": "green", "measurement": "magenta", "case": "yellow"}
    for turn in tr.turns:
        out.print(
            f"[{colours.get(turn.role, 'white')}]{turn.index:>3} {turn.role:>11}[/]: {escape(turn.content)}",
            markup=True,
            highlight=False,
        )
        for made in turn.synthesized:
            # Said, but not from the case: a made-up answer or result, with the rule that made it.
            out.print(
                f"[yellow]{'':>16}~ synthesized {made.topic}: {made.rule.value}"
                + (f" ({escape(made.source)})" if made.source else "")
                + "[/]",
                markup=True,
                highlight=False,
            )
    if tr.final:
        out.print(f"final: {tr.final.diagnosis} | differential: {', '.join(tr.final.differential)}")
        out.print(f"plan: {tr.final.plan}")
    out.print(f"stop: {tr.stop_reason}" + (f" ({tr.error})" if tr.error else ""))
    vt = Table("item", "judge", "outcome", "points", "explanation")
    for v in store.verdicts(r.id):
        if v.consultation_id == tr.id:
            vt.add_row(v.item_id, v.judge, v.outcome, f"{v.points:g}", v.explanation)
    out.print(vt)


def _error(line: str) -> None:
    """Print one error line on stderr, with any key a model name carried masked."""
    from arena.core.redaction import redact_secrets

    print(f"arena: error: {redact_secrets(line)}", file=sys.stderr)


def _os_error_line(e: OSError) -> str:
    """Name the path the user gave, not the temporary file written beside it."""
    if e.filename2:  # a rename onto the target failed: the target is what the user named
        where = str(e.filename2)
    elif e.filename and Path(str(e.filename)).name.startswith("."):
        where = str(Path(str(e.filename)).parent)  # the temporary file of an atomic write
    else:
        where = str(e.filename or "")
    return f"{where}: {e.strerror or e}" if where else str(e.strerror or e)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; expected errors become one line on stderr and exit code 2."""
    from pydantic import ValidationError
    from sqlalchemy.exc import OperationalError
    from typer.exceptions import TyperException

    from arena.core.store import StoreError
    from arena.models import ModelError
    from arena.ray_local import RayStartError
    from cases.kb import KBError
    from cases.loader import CaseFileError
    from cases.prices import PriceListError
    from cases.synthesizer import SynthesisError
    from distill.export_hf import ExportError
    from personas.catalog import PersonaError

    expected = (
        ModelError,
        RayStartError,
        PersonaError,
        CaseFileError,
        StoreError,
        ExportError,
        KBError,
        SynthesisError,
        PriceListError,
    )
    try:
        # Not standalone, Typer returns the exit code of a typer.Exit, and 130 for Ctrl-C.
        code = app(args=argv, standalone_mode=False)
        if code == 130:
            print("arena: interrupted", file=sys.stderr)
        if isinstance(code, int):
            return code
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except _Stopped as e:
        print(f"arena: {e}", file=sys.stderr)
        return 130
    except typer.Abort:
        print("arena: interrupted", file=sys.stderr)
        return 130
    except TyperException as e:
        # Usage errors (bad options, out-of-range numbers): one line, no usage box.
        msg = " ".join((e.format_message() if hasattr(e, "format_message") else str(e)).split())
        if msg:  # empty when the help was shown for a bare command
            _error(msg)
        return 2
    except expected as e:
        _error(str(e))
        return 2
    except OSError as e:
        # A path the user gave that cannot be read or written (missing folder, no permission, a folder not a file).
        _error(_os_error_line(e))
        return 2
    except OperationalError as e:
        # The database went away under a read (writes retry, then raise StoreError).
        _error(f"database unavailable: {error_line(e.orig or e)}")
        return 2
    except ValidationError as e:
        err = e.errors()[0]
        # A run setting is named as its option (formats.0 -> --format); a check of the whole
        # record names its options in its own message.
        field = str(err["loc"][0]) if err["loc"] else ""
        where = f"--{_OPTION_OF.get(field, field.replace('_', '-'))}: " if field else ""
        _error(f"{where}{str(err['msg']).removeprefix('Value error, ')}")
        return 2
    except KeyboardInterrupt:
        print("arena: interrupted", file=sys.stderr)
        return 130
    return 0


def run() -> None:
    """The ``arena`` command: :func:`main`, then exit with its code."""
    from arena.heap import collect_less_often

    collect_less_often()
    code = main()
    # The process ends here. Left to itself, the collector walks every object the run made, several
    # times, on the way out (0.7 s after a 600-case run) for cycles that ending the process frees anyway.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
