"""Stopping a local Ray the product started leaves none of its processes behind."""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import os, time
    import ray
    from arena.ray_local import init_ray, shutdown_ray

    init_ray(num_cpus=1)

    @ray.remote(num_cpus=0)
    class Echo:
        def ping(self):
            return "pong"

    assert ray.get(Echo.remote().ping.remote()) == "pong"
    node = ray._private.worker._global_node
    started = {kind: [p.process.pid for p in infos] for kind, infos in node.all_processes.items()}
    print("KINDS", " ".join(sorted(started)))
    shutdown_ray()
    assert not ray.is_initialized()
    alive = []
    for kind, pids in started.items():
        for pid in pids:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            alive.append(f"{kind}:{pid}")
    print("ALIVE", " ".join(alive) or "-")
    """
)


def test_shutdown_stops_every_process_a_local_ray_started_the_autoscaler_monitor_too():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.startswith(("KINDS", "ALIVE")))
    assert "monitor" in lines["KINDS"].split() and "raylet" in lines["KINDS"].split()
    assert lines["ALIVE"] == "-"
