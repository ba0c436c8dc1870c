"""A two-node Ray cluster on this machine: `ray start` twice, then `arena simulate --address`."""

import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arena.core.store import Store
from arena.ray_local import ray_start_env
from tests.conftest import arena

pytestmark = pytest.mark.slow


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


RAY = str(Path(sys.executable).with_name("ray"))


def _ray(env, *args, sessions=None):
    """Run a ray command. Each runs in a session of its own, which the daemons it
    leaves behind inherit: _stop() ends exactly those, where `ray stop` would end
    every Ray on the machine."""
    proc = subprocess.Popen(
        [RAY, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    if sessions is not None:
        sessions.add(proc.pid)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:] + out[-2000:]
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _stop(sessions):
    """Kill every process in these sessions (the nodes this test started), and wait until they are gone."""
    end = time.monotonic() + 60
    while True:
        alive = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) in sessions and fields[0] != "Z":
                alive.append(int(d))
        if not alive or time.monotonic() > end:
            return
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _ray_traced(env, trace: Path, out: Path, *args):
    """Start a node under strace -f, which keeps following the node's daemons after `ray start` returns."""
    cmd = [shutil.which("strace"), "-f", "-qq", "-s", "256", "-e", "trace=connect,sendto", "-o", str(trace), RAY, *args]
    with out.open("w") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    end = time.monotonic() + 180
    while "Ray runtime started" not in out.read_text(errors="ignore"):
        assert time.monotonic() < end and proc.poll() in (None, 0), out.read_text(errors="ignore")[-3000:]
        time.sleep(0.2)
    return proc


def _wait_for_usage_code(temp_dir: Path, deadline_s: float = 60) -> bool:
    # The dashboard logs this right after the code that would probe the cloud.
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        logs = "".join(
            Path(f).read_text(errors="ignore")
            for f in glob.glob(str(temp_dir / "session_latest" / "logs" / "dashboard*.log"))
        )
        if "Usage reporting is disabled" in logs:
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def two_nodes(tmp_path):
    env = ray_start_env()
    temp_dir = Path("/tmp") / f"medarena-cluster-{os.getpid()}"
    gcs, nm1, om1, nm2, om2 = _free_ports(5)
    head = [
        "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(gcs), "--num-cpus", "1",
        "--node-manager-port", str(nm1), "--object-manager-port", str(om1), "--temp-dir", str(temp_dir),
        "--disable-usage-stats",
    ]  # fmt: skip
    worker = [
        "start", "--address", f"127.0.0.1:{gcs}", "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
        "--node-manager-port", str(nm2), "--object-manager-port", str(om2), "--disable-usage-stats",
    ]  # fmt: skip
    sessions: set[int] = set()
    try:
        _ray(env, *head, sessions=sessions)
        _ray(env, *worker, sessions=sessions)
        # `ray start` returns before the head has heard from the new node; wait until it has.
        end = time.monotonic() + 120
        while len(re.findall(r"^\s*1 node_", _ray(env, "status", "--address", f"127.0.0.1:{gcs}").stdout, re.M)) < 2:
            assert time.monotonic() < end, "the second node never joined"
            time.sleep(0.5)
        yield f"127.0.0.1:{gcs}", env
    finally:
        _stop(sessions)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_a_run_spreads_over_both_nodes_of_a_cluster(tmp_path, db_url, two_nodes):
    address, env = two_nodes
    # The driver runs in the environment `arena ray-env` gives, as a user would.
    env = {k: v for k, v in env.items() if k != "ARENA_DB"}
    r = arena(
        tmp_path,
        "simulate",
        "--address",
        address,
        "--cases",
        "16",
        "--actors",
        "2",
        "--doctor",
        "mock/doctor?questions=3&latency=0.05",
        "--no-judge",
        "--db",
        db_url,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    store = Store(db_url)
    (run, n, errors), *_ = store.list_runs()
    assert (n, errors) == (16, 0)
    nodes = {t.worker.split(":")[0] for t in store.transcripts(run.id)}
    assert len(nodes) == 2, f"consultations ran on {nodes}"


def test_a_head_node_started_with_the_arena_environment_never_contacts_the_metadata_address(tmp_path):
    assert shutil.which("strace"), "strace is required for this test (.ci/run installs it)"
    env = ray_start_env()
    temp_dir = Path("/tmp") / f"medarena-head-{os.getpid()}"
    trace = tmp_path / "head.trace"
    (gcs,) = _free_ports(1)
    head = ["start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(gcs), "--num-cpus", "1"]
    tracer = None
    try:
        # A head node runs the dashboard, whose usage-stats code is what would probe the cloud.
        tracer = _ray_traced(env, trace, tmp_path / "head.out", *head, "--temp-dir", str(temp_dir))
        assert _wait_for_usage_code(temp_dir)
    finally:
        if tracer is not None:
            _stop({tracer.pid})
            tracer.wait(timeout=60)
        shutil.rmtree(temp_dir, ignore_errors=True)
    text = trace.read_text(errors="ignore")
    assert re.search(r"connect\(", text), "strace saw no connect calls; the check would prove nothing"
    assert "169.254.169.254" not in text
    assert "metadata" not in text.lower() or "google" not in text.lower()
