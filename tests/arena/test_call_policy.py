"""Rate limits, concurrency caps and retries around model calls."""

import asyncio

import litellm
import openai
import pytest

from arena.models import ModelError, get_model
from arena.models.call_policy import CallPolicy, CallPolicyError, Gate, is_transient, retry_after_s


def test_policy_is_read_from_model_parameters_and_never_sent_to_the_provider():
    params = "rpm=500&tpm=90000&concurrency=8&retries=2&backoff=0.1&temperature=0"
    policy = CallPolicy(rpm=500, tpm=90000, concurrency=8, retries=2, backoff_s=0.1)
    m = get_model(f"openai/gpt-4o-mini?{params}")
    assert m.policy == policy
    assert m.call.body == {"temperature": 0.0}
    m = get_model(f"anthropic/claude-3-5-haiku?{params}")
    assert m.policy == policy
    assert m.kwargs == {"temperature": 0.0}


@pytest.mark.parametrize("param", ["rpm=0", "rpm=fast", "tpm=-5", "concurrency=1.5", "retries=-1", "rpm=inf"])
def test_bad_policy_values_name_the_parameter(param):
    key = param.split("=")[0]
    with pytest.raises(ModelError, match=rf"parameter {key}="):
        get_model(f"openai/gpt-4o-mini?{param}")
    with pytest.raises(CallPolicyError):
        CallPolicy.from_params(dict([param.split("=")]))


def _rate_limited():
    return litellm.RateLimitError("slow down", llm_provider="openai", model="gpt-4o-mini")


def test_transient_errors_are_retried_until_they_pass():
    attempts = []

    async def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise _rate_limited() if len(attempts) == 1 else litellm.InternalServerError("oops", "openai", "m")
        return "ok"

    async def main():
        return await Gate(CallPolicy(retries=4, backoff_s=0.0), 1.0).call(flaky)

    result, retries, _ = asyncio.run(main())
    assert (result, retries, len(attempts)) == ("ok", 2, 3)


def test_retries_are_bounded_and_the_last_error_is_raised():
    attempts = []

    async def always_down():
        attempts.append(1)
        raise litellm.APIConnectionError("connection reset", "openai", "m")

    async def main():
        await Gate(CallPolicy(retries=3, backoff_s=0.0), 1.0).call(always_down)

    with pytest.raises(litellm.APIConnectionError):
        asyncio.run(main())
    assert len(attempts) == 4


def test_permanent_errors_are_not_retried():
    attempts = []

    async def bad_key():
        attempts.append(1)
        raise litellm.AuthenticationError("bad key", "openai", "m")

    with pytest.raises(litellm.AuthenticationError):
        asyncio.run(Gate(CallPolicy(retries=5, backoff_s=0.0), 1.0).call(bad_key))
    assert len(attempts) == 1


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (litellm.RateLimitError("x", "openai", "m"), True),
        (litellm.InternalServerError("x", "openai", "m"), True),
        (litellm.ServiceUnavailableError("x", "openai", "m"), True),
        (litellm.Timeout("x", "m", "openai"), True),
        (litellm.APIConnectionError("x", "openai", "m"), True),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (litellm.BadRequestError("x", "m", "openai"), False),
        (litellm.NotFoundError("x", "openai", "m"), False),
        (ValueError("bad json"), False),
    ],
)
def test_which_errors_count_as_transient(exc, transient):
    assert is_transient(exc) is transient


def test_retry_after_header_is_read():
    import httpx

    response = httpx.Response(429, headers={"Retry-After": "7"}, request=httpx.Request("POST", "http://127.0.0.1/"))
    exc = litellm.RateLimitError("x", "openai", "m", response=response)
    assert retry_after_s(exc) == 7.0
    assert retry_after_s(ValueError()) is None


def test_concurrency_cap_holds_over_many_simultaneous_calls():
    active = 0
    peak = 0

    async def call():
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        return 1

    async def main():
        gate = Gate(CallPolicy(concurrency=3), 1.0)
        return await asyncio.gather(*(gate.call(call) for _ in range(30)))

    results = asyncio.run(main())
    assert len(results) == 30 and peak == 3


def test_a_request_rate_limit_makes_calls_wait_not_fail():
    async def main():
        gate = Gate(CallPolicy(rpm=1200), 1.0)  # 20 a second
        return await asyncio.gather(*(gate.call(lambda: asyncio.sleep(0, "ok")) for _ in range(40)))

    results = asyncio.run(main())
    assert [r for r, _, _ in results] == ["ok"] * 40
    # The first second's worth goes at once; the rest had to wait their turn.
    assert sum(w > 0.2 for _, _, w in results) >= 15


def test_a_share_splits_the_limit_between_workers():
    gate = Gate(CallPolicy(rpm=1200, tpm=60_000, concurrency=8), 0.25)
    assert gate.requests is not None and gate.requests.max_rate == pytest.approx(5.0)
    assert gate.tokens is not None and gate.tokens.max_rate == pytest.approx(250.0)
    assert gate.slots is not None and gate.slots._value == 2


@pytest.mark.parametrize(
    ("client", "rate_limited"), [("openai", openai.RateLimitError), ("litellm", litellm.RateLimitError)]
)
def test_model_calls_report_their_retries(client, rate_limited):
    m = get_model(f"mock/echo?fail=1&faults=429&retries=2&backoff=0&client={client}")
    with pytest.raises(rate_limited):
        asyncio.run(m.complete([{"role": "user", "content": "hi"}]))
    m = get_model(f"mock/echo?fail=0.5&fault_seed=1&faults=500,timeout,reset&retries=10&backoff=0&client={client}")
    usages = [asyncio.run(m.complete([{"role": "user", "content": "hi"}])).usage for _ in range(20)]
    assert all(u.calls == 1 for u in usages)
    assert sum(u.retries for u in usages) > 0
