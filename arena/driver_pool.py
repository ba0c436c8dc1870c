"""Consultations the driver plays itself while a local Ray starts, and the pool that hands over to Ray.

A local Ray takes two to four seconds to start here, and for all that time
its actors cannot take a consultation. So a run starts its first
consultations in the driver at once (:class:`DriverPool`, an event loop on a
thread of its own) and gives every later one to Ray's actors once Ray is up
(:class:`HybridPool`). A run whose models answer over the network (a chat
model behind the openai client, a doctor served over HTTP) spends most of a
consultation waiting, which the driver's loop does as well as an actor, so
the driver keeps up to :data:`DRIVER_CONCURRENCY` of them in flight. A run of
built-in agents is work for the CPU: the driver plays a few at a time
(:data:`CPU_DRIVER_CONCURRENCY`) on its one core while Ray's start takes the
other, and hands over quickly once the actors are ready; a small such run is
over before Ray is up. A local model or an embedding matcher would load a
second copy in the driver, and a model with rate limits would have them
counted once in the driver and again in the actors: those runs wait for Ray
(:func:`driver_capacity`).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from arena.core.types import DEFAULT_MATCHER, Case, Transcript, Turn
from arena.models.registry import Role, resolve, run_policies
from arena.worker import ActorSettings, ConsultationWorker, Job


@dataclass(frozen=True)
class Finished:
    """A consultation a pool is done with: its transcript, or what went wrong."""

    job: Job
    """The consultation."""
    transcript: Transcript | None = None
    """Its transcript (without turns), when it ran to an end."""
    error: BaseException | None = None
    """What it raised instead."""
    lost: bool = False
    """Its worker died under it, so it may be played again from the start."""


class WorkerPool(Protocol):
    """Where the driver's consultations run (see :mod:`arena.runner`)."""

    def has_room(self) -> bool:
        """Whether one more consultation may start now."""
        ...

    def submit(self, job: Job) -> None:
        """Start a consultation."""
        ...

    def in_flight(self) -> int:
        """Consultations started and not yet returned by :meth:`wait`."""
        ...

    def wait(self, timeout_s: float) -> list[Finished]:
        """Let the consultations run for at most ``timeout_s``; return those that ended."""
        ...

    def drain(self) -> list[list[Turn]]:
        """The turns every worker produced since the last call, one batch per worker."""
        ...

    def close(self) -> None:
        """Stop every worker; consultations still running are abandoned."""
        ...


DRIVER_CONCURRENCY = 200
"""Most consultations that wait on models the driver plays at once while a local Ray starts: its one core also
starts Ray and writes the store, so a run wider than this waits for Ray's actors for the rest."""

CPU_DRIVER_CONCURRENCY = 8
"""Most consultations of built-in agents the driver plays at once while a local Ray starts. They never wait, so
more in flight would not go faster; few in flight means those the driver holds when Ray is up end soon after."""


def driver_capacity(
    doctors: Iterable[str],
    patient: str,
    gatekeeper: str,
    verifier: str | None = None,
    matcher: str = DEFAULT_MATCHER,
) -> int:
    """How many of a run's consultations the driver may play at once while a local Ray starts (0: none).

    The driver plays when every policy is a built-in one, a doctor served over HTTP, or a chat model
    called with the official openai client and no rate limit, and a model-played patient's guard uses
    the default matcher.

    Args:
        doctors: The run's doctor names.
        patient: The patient name.
        gatekeeper: The gatekeeper name.
        verifier: The guard's verifier, if any.
        matcher: The guard's matcher.

    Returns:
        :data:`DRIVER_CONCURRENCY` when some policy waits on a model over the network,
        :data:`CPU_DRIVER_CONCURRENCY` when every policy is built in, 0 when the run must wait for Ray.
    """
    from arena.models import OpenAIModel, get_model

    waits = False
    for role, name in run_policies(doctors, patient, gatekeeper, verifier):
        provider = resolve(role, name).provider
        if provider.builtin:
            continue
        if provider.key == "http":
            waits = True
            continue
        if not provider.fallback:
            return 0  # a person at the terminal plays in the driver alone
        model = get_model(name)
        if not isinstance(model, OpenAIModel):
            return 0
        if model.policy.rpm or model.policy.tpm or model.policy.concurrency:
            return 0
        if role is Role.PATIENT and matcher != DEFAULT_MATCHER:
            return 0
        waits = True
    return DRIVER_CONCURRENCY if waits else CPU_DRIVER_CONCURRENCY


class DriverPool:
    """One worker whose consultations run on an event loop of the driver's, on a thread of its own.

    The loop runs all the time, not only while the driver waits, so the
    driver's main thread may block on Ray meanwhile.
    """

    def __init__(self, settings: ActorSettings, cases: dict[str, Case], *, concurrency: int, uses_openai: bool) -> None:
        """Start the loop's thread and make the worker.

        Args:
            settings: Shared settings.
            cases: The run's cases by id.
            concurrency: Most consultations in flight here at once.
            uses_openai: Whether any policy of the run calls the official openai client.
        """
        self.concurrency = concurrency
        self._worker = ConsultationWorker(settings, cases, uses_litellm=False, uses_openai=uses_openai)
        # Played here, not in a Ray worker, whether or not Ray is up by now.
        self._worker.where = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="arena-driver-consultations", daemon=True)
        self._thread.start()
        self._done: queue.SimpleQueue[Finished] = queue.SimpleQueue()
        self._running = 0

    async def _play(self, job: Job) -> None:
        try:
            tr = await self._worker.run(job)
        except Exception as exc:  # noqa: BLE001 - the driver stores it as the consultation's error
            self._done.put(Finished(job, error=exc))
        else:
            self._done.put(Finished(job, transcript=tr))

    def has_room(self) -> bool:
        """Room under the concurrency."""
        return self._running < self.concurrency

    def submit(self, job: Job) -> None:
        """Start ``job`` on the loop at once."""
        self._running += 1
        asyncio.run_coroutine_threadsafe(self._play(job), self._loop)

    def in_flight(self) -> int:
        """Consultations started and not yet returned."""
        return self._running

    def wait(self, timeout_s: float) -> list[Finished]:
        """Return the consultations that ended, waiting up to ``timeout_s`` for the first (none: do not wait)."""
        out: list[Finished] = []
        block = timeout_s > 0 and self._running > 0
        try:
            out.append(self._done.get(timeout=timeout_s) if block else self._done.get_nowait())
            while True:
                out.append(self._done.get_nowait())
        except queue.Empty:
            pass
        self._running -= len(out)
        return out

    def drain(self) -> list[list[Turn]]:
        """The worker's turns since the last call (those of a consultation come before it ends)."""
        return [asyncio.run_coroutine_threadsafe(self._worker.drain(), self._loop).result()]

    def close(self) -> None:
        """Cancel what still runs, close the model clients, stop the loop and its thread."""
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _stop(self) -> None:
        from arena.models.openai_compat import close_clients

        here = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not here]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
        await close_clients()


class HybridPool:
    """The driver plays consultations until a local Ray is up; after that new ones go to Ray's actors.

    Those the driver started finish where they are. Ray's failure to start
    is raised at the driver's next call, as :class:`arena.ray_local.RayStartError`.
    """

    def __init__(
        self, local: DriverPool, ray_ready: Future[Any], make_ray: Callable[[], WorkerPool], *, concurrency: int
    ) -> None:
        """Wrap the driver's pool and the Ray pool to come.

        Args:
            local: The driver's own pool.
            ray_ready: Done when Ray is up (or failed to start).
            make_ray: Makes the Ray pool; called once Ray is up.
            concurrency: Most consultations in flight at once, over both.
        """
        self.concurrency = concurrency
        self._local = local
        self._ready = ray_ready
        self._make_ray = make_ray
        self._ray: WorkerPool | None = None

    def _ray_pool(self) -> WorkerPool | None:
        if self._ray is None and self._ready.done():
            self._ready.result()  # a failed start is raised here
            self._ray = self._make_ray()
        return self._ray

    def has_room(self) -> bool:
        """Room under the run's concurrency, in Ray's pool once it is up, else in the driver's."""
        if self.in_flight() >= self.concurrency:
            return False
        ray = self._ray_pool()
        return ray.has_room() if ray is not None else self._local.has_room()

    def submit(self, job: Job) -> None:
        """Start ``job`` in the pool :meth:`has_room` just found room in."""
        (self._ray or self._local).submit(job)

    def in_flight(self) -> int:
        """Consultations in flight in both pools."""
        return self._local.in_flight() + (self._ray.in_flight() if self._ray is not None else 0)

    def wait(self, timeout_s: float) -> list[Finished]:
        """Wait on Ray's actors while they play, else on the driver's loop; take what ended in either."""
        ray = self._ray_pool()
        if ray is not None and ray.in_flight():
            return ray.wait(timeout_s) + self._local.wait(0)
        return self._local.wait(timeout_s)

    def drain(self) -> list[list[Turn]]:
        """The turns both pools produced since the last call."""
        return self._local.drain() + (self._ray.drain() if self._ray is not None else [])

    def close(self) -> None:
        """Stop the driver's consultations and Ray's actors."""
        try:
            self._local.close()
        finally:
            if self._ray is not None:
                self._ray.close()
