"""Starting a local Ray through the product must not probe the cloud-metadata service."""

import re
import shutil
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

# Runs under strace: start Ray the product's way, wait until the dashboard has run
# the usage-stats code that would probe the cloud (it logs that usage reporting is
# disabled right after), run one actor call, stop.
SCRIPT = textwrap.dedent(
    """
    import glob, time
    import ray
    from arena.ray_local import init_ray, shutdown_ray, start_ray_in_background

    START

    @ray.remote
    class Echo:
        async def ping(self):
            return "pong"

    assert ray.get(Echo.remote().ping.remote()) == "pong"
    session = ray._private.worker.global_worker.node.get_session_dir_path()
    deadline = time.monotonic() + 60
    reached = False
    while time.monotonic() < deadline and not reached:
        logs = "".join(open(f, errors="ignore").read() for f in glob.glob(session + "/logs/dashboard*.log"))
        reached = "Usage reporting is disabled" in logs
        if not reached:
            time.sleep(0.2)
    print("USAGE-CODE-REACHED" if reached else "USAGE-CODE-NOT-REACHED")
    shutdown_ray()
    import threading
    for t in threading.enumerate():
        if t.name == "arena-ray-start":
            t.join(timeout=30)
            assert not t.is_alive(), "the thread that started Ray ends with it"
    """
)


@pytest.mark.parametrize(
    "start",
    [
        "init_ray(num_cpus=1)",
        # The way a run whose driver plays while Ray starts starts it: on a thread of its own, which
        # must outlive the start, or Ray's processes die with it before the actor call below. A
        # start asked for meanwhile (the terminal app's) waits for that one instead of making another.
        "start_ray_in_background(num_cpus=1); init_ray()",
    ],
)
def test_local_ray_never_contacts_the_metadata_address(tmp_path, start):
    strace = shutil.which("strace")
    assert strace, "strace is required for this test (.ci/run installs it)"
    log = tmp_path / "trace"
    proc = subprocess.run(
        [
            strace,
            "-f",
            "-qq",
            "-s",
            "256",
            "-e",
            "trace=connect,sendto,sendmsg,sendmmsg",
            "-o",
            str(log),
            sys.executable,
            "-c",
            SCRIPT.replace("START", start),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # The probe lives in code the dashboard runs at start; it must have run.
    assert "USAGE-CODE-REACHED" in proc.stdout
    trace = log.read_text(errors="ignore")
    connects = re.findall(r"connect\(.*", trace)
    assert connects, "strace saw no connect calls at all; the check would prove nothing"
    assert "169.254.169.254" not in trace
    # The GCP probe resolves metadata.google.internal: its DNS query would carry the labels.
    assert "metadata" not in trace.lower() or "google" not in trace.lower()
