"""An OpenAI-compatible chat server on 127.0.0.1 that answers with the mock scripts.

It lets a benchmark or a test reach the ``mock/...`` scripts over real HTTP,
through the same client a user's own endpoint (vLLM, Ollama, a gateway)
would be reached with, e.g. ``openai/doctor?questions=10&api_base=http://127.0.0.1:PORT/v1``.

The request's model field names the script and its parameters as a
``mock/...`` name does (``doctor?questions=10``); extra fields of the request
body count as parameters too. ``latency`` (seconds, per request) adds to the
server's own ``--latency``. Only ``POST /v1/chat/completions`` (non-streaming) and
``GET /v1/models`` are served.

Run ``python -m arena.models.mock_server [--port 0] [--latency 0.5]``: it
prints ``listening on http://127.0.0.1:PORT/v1`` once it accepts requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence

from aiohttp import web

from arena.models.mock_scripts import known_scripts
from arena.models.mock_transport import DroppedConnection, ReadTimedOut, mock_reply

HOST = "127.0.0.1"
"""Loopback only: the server is for benchmarks and tests on this machine."""


def make_app(latency_s: float = 0.0) -> web.Application:
    """The server's application.

    Args:
        latency_s: Seconds every request waits before its answer.

    Returns:
        An aiohttp application serving ``/v1/chat/completions`` and ``/v1/models``.
    """

    async def completions(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "request body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "request needs a messages list")
        if body.pop("stream", False):
            return _error(400, "streaming is not served")
        if latency_s > 0:
            await asyncio.sleep(latency_s)
        messages = body.pop("messages")
        try:
            status, payload = await mock_reply(str(body.pop("model", "")), messages, body)
        except DroppedConnection:
            return _error(502, "injected fault: connection reset")
        except ReadTimedOut:
            return _error(504, "injected fault: request timed out")
        return web.json_response(payload, status=status)

    async def models(_request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": s, "object": "model", "owned_by": "medarena"} for s in known_scripts()]}
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_get("/v1/models", models)
    return app


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error"}}, status=status)


class MockServer:
    """The server running on this thread's event loop; ``async with MockServer() as s: s.base_url``."""

    def __init__(self, port: int = 0, latency_s: float = 0.0) -> None:
        """Configure the server.

        Args:
            port: Port on 127.0.0.1; 0 picks a free one.
            latency_s: Seconds every request waits before its answer.
        """
        self.port = port
        self._runner = web.AppRunner(make_app(latency_s), access_log=None)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, the ``api_base`` a client is given."""
        return f"http://{HOST}:{self.port}/v1"

    async def __aenter__(self) -> MockServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self.port, backlog=4096)
        await site.start()
        # Port 0 binds a free port; the bound address is read back from the site's server.
        sockets = getattr(site._server, "sockets", None) or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


async def _serve(port: int, latency_s: float) -> None:
    async with MockServer(port, latency_s) as server:
        print(f"listening on {server.base_url}", flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted."""
    ap = argparse.ArgumentParser(description="OpenAI-compatible chat server answering with the mock scripts.")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds each request waits")
    args = ap.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.latency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
