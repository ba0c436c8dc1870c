"""OpenAI-compatible endpoints through the official client, against the mock server on 127.0.0.1."""

import asyncio
import json

import openai
import pytest

from arena.core.types import Case
from arena.doctors import get_doctor
from arena.engine import run_consultation
from arena.models import OpenAIModel, closing, get_model, load_litellm
from arena.models.mock_scripts import register_script
from arena.models.mock_server import MockServer
from arena.models.openai_compat import ClientConfigError, _clients
from personas.catalog import get_persona
from personas.factory import get_patient
from personas.measurement import CaseMeasurement


def test_a_consultation_runs_over_http_with_both_sides_on_the_server(stemi: Case):
    async def play():
        async with MockServer() as server:
            base = server.base_url
            doctor = get_doctor(f"openai/doctor?questions=3&api_base={base}", 0, 10)
            patient = get_patient(f"hosted_vllm/patient?api_base={base}", stemi, get_persona("plain"))
            return await closing(
                run_consultation(
                    stemi, doctor, patient, CaseMeasurement(stemi), consultation_id="c", run_id="r", max_turns=10
                )
            )

    tr = asyncio.run(play())
    assert tr.error is None and tr.stop_reason == "final_answer"
    assert tr.final is not None and tr.final.diagnosis == "Viral illness"
    # Three questions, three answers, one final answer; token counts come from the server's usage field.
    assert tr.usage["doctor"].calls == 4 and tr.usage["patient"].calls == 3
    assert [t.role for t in tr.turns].count("patient") == 4  # the opening complaint is the case's, not a call
    assert tr.usage["doctor"].completion_tokens > 0 and tr.usage["patient"].prompt_tokens > 0


def test_server_faults_are_retried_by_the_call_policy_and_then_raised():
    async def go():
        async with MockServer() as server:
            flaky = get_model(f"openai/echo?fail=1&faults=429&retries=2&backoff=0&api_base={server.base_url}")
            with pytest.raises(openai.RateLimitError):
                await flaky.complete([{"role": "user", "content": "hi"}])
            sometimes = get_model(
                f"openai/echo?fail=0.5&fault_seed=3&faults=500&retries=20&backoff=0&api_base={server.base_url}"
            )
            outs = [await sometimes.complete([{"role": "user", "content": f"hi {i}"}]) for i in range(10)]
            await _close()
            return outs

    outs = asyncio.run(go())
    assert [o.text for o in outs] == [f"hi {i}" for i in range(10)]
    assert sum(o.usage.retries for o in outs) > 0


async def _close():
    from arena.models.openai_compat import close_clients

    await close_clients()


def test_a_priced_model_costs_litellm_s_price_for_its_tokens(monkeypatch):
    register_script("gpt-4o-mini", lambda messages, params: "one two three four")

    async def go():
        async with MockServer() as server:
            # Set by the environment, so the name is OpenAI's own (a name with api_base is self-hosted).
            monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
            model = get_model("openai/gpt-4o-mini?api_key=k")
            assert isinstance(model, OpenAIModel) and model.uses_litellm
            own = get_model(f"openai/gpt-4o-mini?api_base={server.base_url}")
            assert not own.uses_litellm
            free = await own.complete([{"role": "user", "content": "a b"}])
            assert free.usage.cost_usd == 0.0
            return await closing(model.complete([{"role": "user", "content": "a b c d e f"}]))

    out = asyncio.run(go())
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (6, 4)
    prompt_usd, completion_usd = load_litellm().cost_per_token(
        model="openai/gpt-4o-mini", prompt_tokens=6, completion_tokens=4
    )
    assert out.usage.cost_usd == pytest.approx(prompt_usd + completion_usd)
    assert out.usage.cost_usd > 0


def test_clients_are_shared_per_endpoint_and_closed_with_their_loop():
    async def go():
        async with MockServer() as server:
            a = get_model(f"openai/echo?api_base={server.base_url}")
            b = get_model(f"openai/echo?temperature=0&api_base={server.base_url}")
            await a.complete([{"role": "user", "content": "x"}])
            await b.complete([{"role": "user", "content": "y"}])
            loop = asyncio.get_running_loop()
            shared = list(_clients[loop].values())
            await _close()
            return shared, loop in _clients

    shared, still_there = asyncio.run(go())
    assert len(shared) == 1 and shared[0].is_closed()
    assert not still_there


def test_an_openai_model_without_a_key_fails_in_one_line(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    model = get_model("openai/gpt-4o-mini")
    with pytest.raises(ClientConfigError, match="no API key"):
        asyncio.run(model.complete([{"role": "user", "content": "hi"}]))


def test_the_server_refuses_bad_requests_plainly():
    import aiohttp

    async def go():
        async with MockServer() as server, aiohttp.ClientSession() as http:
            url = f"{server.base_url}/chat/completions"
            async with http.post(url, data="not json") as r1:
                bad = (r1.status, await r1.json())
            async with http.post(url, json={"model": "nope", "messages": []}) as r2:
                unknown = (r2.status, await r2.json())
            async with http.get(f"{server.base_url}/models") as r3:
                models = json.loads(await r3.text())
            return bad, unknown, models

    bad, unknown, models = asyncio.run(go())
    assert bad[0] == 400 and "not JSON" in bad[1]["error"]["message"]
    assert unknown[0] == 404 and "nope" in unknown[1]["error"]["message"]
    assert "doctor" in {m["id"] for m in models["data"]}


def test_the_server_runs_as_its_own_process_and_says_where():
    import subprocess
    import sys
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "arena.models.mock_server", "--port", "0", "--latency", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        with urllib.request.urlopen(f"{line.split()[-1]}/models", timeout=10) as r:
            assert "patient" in {m["id"] for m in json.loads(r.read())["data"]}
    finally:
        proc.terminate()
        proc.wait(10)


def test_an_endpoint_that_drops_the_connection_fails_with_what_broke_not_only_connection_error():
    async def go():
        dropped = get_model("mock/echo?fail=1&faults=reset&retries=1&backoff=0")
        timed_out = get_model("mock/echo?fail=1&faults=timeout&retries=0")
        with pytest.raises(openai.APIConnectionError) as reset:
            await dropped.complete([{"role": "user", "content": "hi"}])
        with pytest.raises(openai.APITimeoutError) as late:
            await timed_out.complete([{"role": "user", "content": "hi"}])
        await _close()
        return str(reset.value), str(late.value)

    reset, late = asyncio.run(go())
    assert reset.startswith("Connection error.") and "connection reset by peer" in reset
    assert late.startswith("Request timed out.") and "injected fault: request timed out" in late


class _Recorder:
    """An aiohttp endpoint on 127.0.0.1 that keeps each request's headers and answers with a set body."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.headers: list[dict[str, str]] = []

    async def __aenter__(self) -> str:
        from aiohttp import web

        async def completions(request: web.Request) -> web.Response:
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
            return web.Response(body=self.body, content_type="application/json")

        app = web.Application()
        app.router.add_post("/v1/chat/completions", completions)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


def test_requests_carry_the_key_and_the_body_type_but_not_the_client_s_description_of_itself():
    reply = json.dumps({"choices": [{"message": {"content": "hello"}}], "usage": {"prompt_tokens": 3}}).encode()
    recorder = _Recorder(reply)

    async def go():
        async with recorder as base:
            model = get_model(f"openai/any?api_base={base}&api_key=k-123&timeout=30")
            out = [await model.complete([{"role": "user", "content": "hi"}]) for _ in range(2)]
            await _close()
            return out

    outs = asyncio.run(go())
    assert [o.text for o in outs] == ["hello", "hello"] and outs[0].usage.prompt_tokens == 3
    assert len(recorder.headers) == 2
    for headers in recorder.headers:
        assert headers["authorization"] == "Bearer k-123"
        assert headers["content-type"] == "application/json"
        assert not [h for h in headers if h.startswith("x-stainless")]


@pytest.mark.parametrize(
    "body",
    [b"<html>gateway error page</html>", b'{"choices": "none"}', b'{"choices": [{"message": {"content": 7}}]}'],
)
def test_a_reply_that_is_not_a_chat_completion_fails_in_one_line_naming_the_model(body: bytes):
    from arena.models.openai_compat import MalformedReply

    async def go():
        async with _Recorder(body) as base:
            model = get_model(f"openai/any?api_base={base}&retries=0")
            try:
                await model.complete([{"role": "user", "content": "hi"}])
            finally:
                await _close()

    with pytest.raises(MalformedReply) as caught:
        asyncio.run(go())
    message = str(caught.value)
    assert message.startswith("openai/any?api_base=") and "is not a chat completion" in message
