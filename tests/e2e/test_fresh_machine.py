"""The command line as a new user meets it: an empty HOME and TMPDIR, no database, Ctrl-C, real case files."""

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from arena.core.store import Store
from personas.leak_check import LeakCheck
from tests.conftest import arena, arena_argv
from tui.cli import wait_for_database

pytestmark = pytest.mark.slow

PUBLIC = Path(__file__).resolve().parents[2] / "data" / "public"


def _fresh(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A working folder and an environment whose HOME and TMPDIR are new and empty."""
    for name in ("home", "tmp", "work"):
        (tmp_path / name).mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "ARENA_"))}
    env.update(HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"))
    return tmp_path / "work", env


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip()]


def test_a_small_simulation_runs_through_ray_with_an_empty_home_and_tmpdir(tmp_path):
    work, env = _fresh(tmp_path)
    # A rate-limited doctor is played on Ray's actors only (the driver would count its limit twice); three
    # consultations of built-in agents would be over in the driver before Ray is up.
    doctor = "mock/doctor?questions=3&rpm=6000"
    r = arena(work, "simulate", "--cases", "3", "--doctor", doctor, "--no-distill", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    store = Store(f"sqlite:///{work / 'arena.db'}", create=False)
    run = store.get_run("latest")
    transcripts = list(store.transcripts(run.id))
    assert len(transcripts) == 3 and not any(t.error for t in transcripts)
    # The consultations ran in Ray workers (each transcript names its node and process), not in the driver.
    assert all(t.worker and ":" in t.worker for t in transcripts)
    # Ray's token and its no-cloud-probe folder were made under the new TMPDIR, nothing was needed from before.
    assert list((tmp_path / "tmp").glob("medarena-ray-home-*/.ray/auth_token"))


def test_a_run_of_chat_models_starts_in_the_driver_while_ray_starts_and_hands_over_to_it(tmp_path):
    work, env = _fresh(tmp_path)
    # Eight waves of about 2.7 s each: Ray (up in 2-5 s here) comes up well before the last.
    doctor = "mock/doctor?questions=4&latency=0.3"
    r = arena(work, "simulate", "--cases", "24", "--concurrency", "3", "--doctor", doctor, "--no-distill", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stderr and "main thread" not in r.stderr
    store = Store(f"sqlite:///{work / 'arena.db'}", create=False)
    transcripts = list(store.transcripts(store.get_run("latest").id))
    assert len(transcripts) == 24 and not any(t.error for t in transcripts)
    # The first ones were played in the driver (no worker); Ray, up within the run, played the rest.
    assert transcripts and any(t.worker is None for t in transcripts)
    assert any(t.worker and ":" in t.worker for t in transcripts)
    assert list((tmp_path / "tmp").glob("medarena-ray-home-*/.ray/auth_token"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_cluster_that_cannot_be_joined_is_one_line_and_exit_2(tmp_path):
    work, env = _fresh(tmp_path)
    port = _free_port()
    r = arena(work, "simulate", "--cases", "2", "--address", f"127.0.0.1:{port}", env=env, timeout=120)
    assert r.returncode == 2
    lines = _error_lines(r.stderr)
    assert lines == [f"arena: error: cannot join Ray at 127.0.0.1:{port}: Connection refused"], r.stderr[-2000:]
    assert not (work / "arena.db").exists()


READERS = {
    "runs": ["runs"],
    "show": ["show", "latest"],
    "report": ["report", "latest"],
    "export": ["export", "hf", "latest", "--out", "ds"],
    "judge": ["judge", "latest"],
    "distill": ["distill", "latest"],
    "compare": ["compare", "a", "b"],
    "resume": ["simulate", "--resume", "latest"],
}


@pytest.mark.parametrize("args", list(READERS.values()), ids=list(READERS))
def test_commands_on_stored_runs_create_no_database(tmp_path, args):
    work, env = _fresh(tmp_path)
    r = arena(work, *args, env=env, timeout=120)
    assert r.returncode == 2
    assert _error_lines(r.stderr) == [
        "arena: error: no medarena database at sqlite:///arena.db (`arena simulate` makes one)"
    ]
    assert list(work.iterdir()) == []


def test_watch_waits_for_the_database_without_making_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'later.db'}"
    waiting = threading.Event()
    said: list[str] = []

    def on_wait(line: str) -> None:
        said.append(line)
        waiting.set()

    def writer() -> None:
        waiting.wait(timeout=60)
        assert not (tmp_path / "later.db").exists()  # the waiting reader made nothing
        Store(url).engine.dispose()

    t = threading.Thread(target=writer)
    t.start()
    wait_for_database(url, poll_s=0.05, on_wait=on_wait)
    t.join()
    assert said and "later.db" in said[0]
    assert Store(url, create=False).applied_migrations()


CHAT_RUN = ["--cases", "40", "--concurrency", "4", "--doctor", "mock/doctor?questions=6&latency=0.2"]
CHAT_RUN += ["--patient", "mock/patient?latency=0.2"]
BUILTIN_RUN = ["--cases", "3000"]
"""Built-in agents, played by the driver itself while Ray starts: enough cases that the run is still going."""


@pytest.mark.parametrize("options", [CHAT_RUN, BUILTIN_RUN], ids=["chat", "builtin"])
def test_ctrl_c_exits_130_with_the_command_that_resumes_the_run(options, tmp_path):
    work, env = _fresh(tmp_path)
    url = f"sqlite:///{work / 'arena.db'}"
    total = int(options[1])
    args = ["simulate", *options, "--no-judge", "--db", url]
    proc = subprocess.Popen(arena_argv(*args), cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Interrupt once some consultations are saved and others are not.
        deadline = time.monotonic() + 180
        saved = 0
        while saved < 2:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "no consultation was saved in time"
            if (work / "arena.db").exists():
                try:
                    store = Store(url, create=False)
                    saved = len(store.finished_ids(store.get_run("latest").id))
                    store.engine.dispose()
                except Exception:  # noqa: BLE001 - the run is still being created
                    saved = 0
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = err.decode()
    assert proc.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    last = _error_lines(stderr)[-1]
    m = re.fullmatch(rf"arena: interrupted: (\d+) of {total} consultations saved; continue with: (.+)", last)
    assert m, last
    store = Store(url, create=False)
    run = store.get_run("latest")
    assert run.status == "interrupted"
    assert int(m.group(1)) == len(store.finished_ids(run.id)) >= 2
    again = shlex.split(m.group(2))
    assert again[:4] == ["arena", "simulate", "--resume", run.id]
    r = arena(work, *again[1:], env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(store.finished_ids(run.id)) == total
    assert store.get_run(run.id).status == "finished"


@pytest.mark.parametrize(("name", "fmt"), [("agentclinic_medqa.jsonl", "agentclinic"), ("all_craft_md.jsonl", "mediq")])
def test_imported_public_cases_play_through_the_cli_without_naming_the_diagnosis(tmp_path, name, fmt):
    work, env = _fresh(tmp_path)
    r = arena(work, "cases", "import", "--format", fmt, str(PUBLIC / name), "--out", "imported.jsonl", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    read = re.search(r"read (\d+) records: imported (\d+), skipped (\d+)", r.stdout)
    assert read, r.stdout
    assert int(read.group(2)) + int(read.group(3)) == int(read.group(1))
    assert len((work / "imported.jsonl").read_text().splitlines()) == int(read.group(2))
    r = arena(work, "simulate", "--case-file", "imported.jsonl", "--cases", "5", "--no-distill", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    store = Store(f"sqlite:///{work / 'arena.db'}", create=False)
    run = store.get_run("latest")
    cases = store.cases(run.id)
    transcripts = list(store.transcripts(run.id))
    assert len(transcripts) == 5 and [t.error for t in transcripts] == [None] * 5
    imported = {json.loads(line)["id"] for line in (work / "imported.jsonl").read_text().splitlines()}
    assert {t.case_id for t in transcripts} <= imported
    for t in transcripts:
        check = LeakCheck(cases[t.case_id])
        said = [turn.content for turn in t.turns if turn.role == "patient"]
        assert said, t.id
        for text in said:
            leak = check.find(text)
            assert leak is None or leak.kind not in ("diagnosis", "icd10"), (t.case_id, text)


def test_import_prints_counts_and_strict_writes_nothing(tmp_path):
    work, env = _fresh(tmp_path)
    lines = (PUBLIC / "agentclinic_nejm.jsonl").read_text(encoding="utf-8").splitlines()
    (work / "mixed.jsonl").write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n", encoding="utf-8")
    r = arena(work, "cases", "import", "--format", "agentclinic", "mixed.jsonl", "--out", "o.jsonl", env=env)
    assert r.returncode == 0, r.stderr
    assert "read 16 records: imported 15, skipped 1 (1 x invalid JSON" in r.stdout
    assert _error_lines(r.stderr) == [
        "skipped mixed.jsonl:2: invalid JSON: Expecting property name enclosed in double quotes (column 2)"
    ]
    assert len((work / "o.jsonl").read_text().splitlines()) == 15
    r = arena(
        work, "cases", "import", "--format", "agentclinic", "mixed.jsonl", "--out", "strict.jsonl", "--strict", env=env
    )
    assert r.returncode == 2
    assert _error_lines(r.stderr) == [
        "arena: error: mixed.jsonl:2: invalid JSON: Expecting property name enclosed in double quotes (column 2)"
    ]
    assert not (work / "strict.jsonl").exists()
