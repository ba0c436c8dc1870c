"""Starting (or joining) Ray without any call to the cloud.

Ray's usage-stats module, which runs in the dashboard process of every head
node, asks the cloud-metadata address 169.254.169.254 (and
metadata.google.internal) which cloud it is on whenever
``~/ray_bootstrap_config.yaml`` does not exist - even with usage stats
switched off. For a local Ray we start the head's processes with ``HOME``
pointing at a private folder that holds an empty bootstrap config, so that
probe never runs; workers take the real ``HOME`` back from
``MEDARENA_REAL_HOME`` when :mod:`arena.worker` is imported. (A runtime
environment could set it too, but a job with one cannot use the workers Ray
starts ahead of time: each actor then took 0.9 s to start instead of 0.3 s.)
Usage stats are switched off as well.

A cluster started by hand (``ray start``) needs the same care:
:func:`ray_start_env` gives the environment to start each node with, and
``arena ray-env`` prints it as shell exports.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from arena.core.errors import error_line

_NO_PROBE_HOME = "medarena-ray-home"

WORKER_MODULES = (
    "arena.worker",
    "arena.engine",
    "arena.doctors",
    "personas.factory",
    "cases.brief",
)
"""What a consultation worker imports, imported by every worker of a local Ray as it starts, before it
takes work: an actor made on a worker Ray started ahead is then ready at once (about 0.3 s of imports;
litellm, which takes seconds, is imported only by a run that calls it)."""

OPENAI_MODULES = ("arena.models.openai_compat", "openai.types.chat")
"""The official openai client, imported too by the workers of a run that calls it. It is 0.4 s more per
worker, which the actors of any other run would wait for: Ray starts its workers ahead only once the driver
has joined, so their imports come between Ray's start and the actors' first consultation."""

REAL_HOME_VAR = "MEDARENA_REAL_HOME"
"""Where a local Ray's processes, started with a private ``HOME``, find the user's own."""


def _no_probe_home() -> Path:
    home = Path(tempfile.gettempdir()) / f"{_NO_PROBE_HOME}-{os.getuid()}"
    home.mkdir(mode=0o700, exist_ok=True)
    # An empty mapping: Ray reads it as a cluster config that names no cloud.
    (home / "ray_bootstrap_config.yaml").write_text("{}\n", encoding="utf-8")
    return home


def _auth_token(home: Path) -> Path:
    """The token file under ``home``, made with a fresh secret if it is missing or empty.

    The token is written beside its final name and linked into place, so a
    second process starting Ray at the same moment either finds the whole
    token or makes its own link fail harmlessly; nobody ever reads a file
    that exists but is still empty.
    """
    token = home / ".ray" / "auth_token"
    token.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if token.stat().st_size > 0:
            return token
        token.unlink()  # an empty token is what Ray refuses; a new one replaces it
    fd, draft = tempfile.mkstemp(dir=token.parent, prefix=".auth_token.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_hex(32))
        with contextlib.suppress(FileExistsError):
            os.link(draft, token)
    finally:
        os.unlink(draft)
    return token


NO_REPORT_URL = "http://127.0.0.1:9/usage"
"""Where a hand-started cluster would send its "usage stats disabled" notice:
the local discard port, so nothing leaves the machine."""


def ray_start_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment to run ``ray start`` with so no node contacts the cloud.

    Args:
        base: Environment to extend (default this process's).

    Returns:
        ``base`` with HOME pointing at a folder whose empty bootstrap config
        stops the cloud-metadata probe, usage stats off, their report URL
        pointed at the local discard port, and token authentication on with
        a token kept in that folder (made on first use), so every node and
        driver started with this environment shares it.
    """
    env = dict(os.environ if base is None else base)
    home = _no_probe_home()
    token = _auth_token(home)
    env["HOME"] = str(home)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["RAY_USAGE_STATS_REPORT_URL"] = NO_REPORT_URL
    env["RAY_AUTH_MODE"] = "token"
    env["RAY_AUTH_TOKEN_PATH"] = str(token)
    return env


@contextlib.contextmanager
def _home_without_cloud_probe() -> Iterator[str]:
    real = os.environ.get("HOME", str(Path.home()))
    home = _no_probe_home()
    os.environ["HOME"] = str(home)
    try:
        yield real
    finally:
        os.environ["HOME"] = real


_UNIX_SOCKET_MAX = 107
"""Longest path a Unix socket may have on Linux (108 bytes with the final NUL)."""
_SESSION_SOCKET = "/ray/session_2026-01-01_00-00-00_000000_4194304/sockets/plasma_store"
"""The longest socket path Ray makes below its temporary folder, with a seven-digit process id."""


def _session_root() -> str | None:
    """Where a local Ray keeps its sessions: None (Ray's default, under TMPDIR) when its socket paths fit.

    Ray puts its Unix sockets under ``$TMPDIR/ray/session_.../sockets``; a
    long TMPDIR (macOS gives ``/var/folders/.../T/``, CI and test runners give
    deeper ones) pushes them past the kernel's limit and Ray fails to start.
    Then the sessions go to a short per-user folder under ``/tmp`` instead.
    """
    if len(tempfile.gettempdir()) + len(_SESSION_SOCKET) <= _UNIX_SOCKET_MAX:
        return None
    short = Path("/tmp") / f"medarena-ray-{os.getuid()}"
    short.mkdir(mode=0o700, exist_ok=True)
    return str(short / "ray")


class RayStartError(RuntimeError):
    """Ray could not be started here, or the cluster asked for could not be joined."""


JOIN_TIMEOUT_S = 10.0
"""How long to wait for a cluster's head to accept a connection before giving up."""


def _check_reachable(address: str) -> None:
    """Fail at once when nothing listens at a ``host:port`` cluster address.

    Ray itself retries an unreachable head for minutes, logging each try, so
    a mistyped ``--address`` would look like a hang. Addresses Ray resolves
    itself (``auto``, ``ray://...``) are left to it.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in address:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=JOIN_TIMEOUT_S):
            pass
    except OSError as exc:
        raise RayStartError(f"cannot join Ray at {address}: {exc.strerror or exc}") from None


def cluster_address(address: str | None) -> str | None:
    """The cluster to join: ``address``, else ``RAY_ADDRESS``; None starts a local Ray."""
    return address or os.environ.get("RAY_ADDRESS") or None


def init_ray(address: str | None = None, num_cpus: int | None = None, *, openai_client: bool = True) -> dict[str, Any]:
    """Connect to Ray: join ``address`` (or ``RAY_ADDRESS``) if given, else start a local one.

    A local Ray that :func:`start_ray_in_background` is starting is waited for, not started twice.

    Args:
        address: Address of an existing cluster, e.g. ``127.0.0.1:6379``.
        num_cpus: CPUs for a local Ray; None means all.
        openai_client: Whether a local Ray's workers import the official openai client as they start
            (:data:`OPENAI_MODULES`); a worker of a run without it imports it only if it is ever called.

    Returns:
        ``ray.init``'s context as a dict (address, node id, ...).

    Raises:
        RayStartError: if Ray cannot be started or joined; the message is one line.
    """
    starting = _starting
    if starting is not None:
        return starting[0].result()
    return _start_or_join(address, num_cpus, openai_client)


def _start_or_join(address: str | None, num_cpus: int | None, openai_client: bool) -> dict[str, Any]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ.setdefault("RAY_USAGE_STATS_REPORT_URL", NO_REPORT_URL)
    # Ray prints a banner and deprecation notices on import; the CLI has its own output.
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    import ray

    # Ray warns on every start that token authentication is on; that is the
    # wanted state, and the CLI keeps its output to results.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    if ray.is_initialized():
        return {"address": ray.get_runtime_context().gcs_address}
    address = cluster_address(address)
    common: dict[str, Any] = {
        "namespace": "medarena",
        "log_to_driver": False,
        "logging_level": logging.WARNING,
        "ignore_reinit_error": True,
    }
    try:
        if address:
            _check_reachable(address)
            ctx = ray.init(address=address, **common)
        else:
            with _home_without_cloud_probe() as real_home:
                # The new cluster's auth token is written under the private HOME
                # before Ray looks for it; workers get their real HOME back, so
                # they are told where the token is. Ray's processes inherit both.
                os.environ["RAY_AUTH_TOKEN_PATH"] = str(_auth_token(Path(os.environ["HOME"])))
                os.environ[REAL_HOME_VAR] = real_home
                ctx = ray.init(
                    num_cpus=num_cpus,
                    include_dashboard=False,
                    _temp_dir=_session_root(),
                    _system_config={
                        "preload_python_modules": [*WORKER_MODULES, *(OPENAI_MODULES if openai_client else ())]
                    },
                    **common,
                )
    except RayStartError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever Ray raises, the user gets one line
        where = f"join Ray at {address}" if address else "start a local Ray"
        raise RayStartError(f"cannot {where}: {error_line(exc)}") from None
    info = getattr(ctx, "address_info", {})
    return {"address": info.get("address", ""), "node_id": info.get("node_id", "")}


class _NotMainThread(logging.Filter):
    """Drops Ray's warning that a start off the main thread sets no SIGTERM handler.

    Without Ray's handler SIGTERM ends the process as it always does, and Ray's
    processes die with the thread that started them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "not the main thread" not in record.getMessage()


logging.getLogger("ray._private.worker").addFilter(_NotMainThread())

_starting: tuple[Future[dict[str, Any]], threading.Event] | None = None
"""A local Ray started by :func:`start_ray_in_background`, and what lets its thread end, until :func:`shutdown_ray`."""


def start_ray_in_background(num_cpus: int | None = None, *, openai_client: bool = True) -> Future[dict[str, Any]]:
    """Start a local Ray on a thread of its own and return at once.

    The thread stays until :func:`shutdown_ray`: Ray starts its processes with
    Linux's parent-death signal, which follows the thread that started them, so
    they would be killed the moment it ended. Calling again while it starts (or
    once it is up) returns the same future.

    Args:
        num_cpus: CPUs for the local Ray; None means all.
        openai_client: Whether its workers import the openai client as they start (see :func:`init_ray`).

    Returns:
        Done with :func:`init_ray`'s result once Ray is up, or with its :class:`RayStartError`.
    """
    global _starting
    if _starting is not None:
        return _starting[0]
    future: Future[dict[str, Any]] = Future()
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        future.set_result({"address": ray.get_runtime_context().gcs_address})
        return future
    stop = threading.Event()
    _starting = (future, stop)

    def keep() -> None:
        try:
            future.set_result(_start_or_join(None, num_cpus, openai_client))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(exc)
        stop.wait()

    threading.Thread(target=keep, name="arena-ray-start", daemon=True).start()
    return future


def shutdown_ray() -> None:
    """Disconnect from Ray (and stop it if this process started it).

    A start still under way is let finish first, so no half-started Ray is left behind.
    """
    global _starting
    import ray

    # Ray warns on every start that token authentication is on; that is the
    # wanted state, and the CLI keeps its output to results.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    starting, _starting = _starting, None
    if starting is not None:
        starting[0].exception()  # waits; a failed start left nothing to stop
    try:
        if ray.is_initialized():
            _stop_autoscaler_monitor()
            ray.shutdown()
    finally:
        if starting is not None:
            starting[1].set()


def _stop_autoscaler_monitor() -> None:
    """Kill the autoscaler monitor of a local Ray this process started, before the rest shuts down.

    A local Ray has nothing to autoscale, and its monitor ignores the polite stop
    :func:`ray.shutdown` sends each process first: every shutdown waited a whole
    second for it, then killed it anyway. A joined cluster's monitor is not ours to stop.
    """
    from ray._private import worker

    node = getattr(worker, "_global_node", None)
    if node is None or not node.is_head():
        return
    with contextlib.suppress(Exception):  # Ray's own shutdown still stops it, a second later
        node.kill_monitor(check_alive=False)
