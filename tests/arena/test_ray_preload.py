"""A local Ray started for a run that never calls the openai client leaves it out of its workers' start."""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import sys
    import ray
    from arena.ray_local import WORKER_MODULES, init_ray, shutdown_ray

    init_ray(num_cpus=1, openai_client=False)

    @ray.remote(num_cpus=0)
    def modules():
        return sorted(sys.modules)

    found = set(ray.get(modules.remote()))
    shutdown_ray()
    print("CONSULTATION", all(m in found for m in WORKER_MODULES))
    print("OPENAI", any(m == "openai" or m.startswith("openai.") for m in found))
    """
)


def test_workers_of_a_run_without_the_openai_client_start_without_it():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.startswith(("CONSULTATION", "OPENAI")))
    assert lines == {"CONSULTATION": "True", "OPENAI": "False"}
