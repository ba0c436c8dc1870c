import asyncio

import pytest

from arena.models import (
    BuiltinRef,
    LiteLLMModel,
    ModelError,
    OpenAIModel,
    get_model,
    load_litellm,
    parse_model_name,
)
from arena.models.mock_scripts import register_script


def test_parse_model_name_with_params():
    n = parse_model_name("openai/gpt-4o-mini?temperature=0&max_tokens=5")
    assert (n.provider, n.name, n.base) == ("openai", "gpt-4o-mini", "openai/gpt-4o-mini")
    assert n.params == {"temperature": "0", "max_tokens": "5"}


@pytest.mark.parametrize("bad", ["gpt-4o", "/x", "openai/", ""])
def test_malformed_names_are_rejected(bad):
    with pytest.raises(ModelError, match="provider/name"):
        get_model(bad)


def test_builtin_names_never_become_litellm_models():
    m = get_model("builtin/checklist?diligence=0.5")
    assert isinstance(m, BuiltinRef)
    assert m.policy == "checklist" and m.params == {"diligence": "0.5"}


def test_real_providers_become_litellm_models_with_typed_params():
    m = get_model("anthropic/claude-3-5-haiku?temperature=0.2&max_tokens=7")
    assert isinstance(m, LiteLLMModel)
    assert m.litellm_model == "anthropic/claude-3-5-haiku"
    assert m.kwargs == {"temperature": 0.2, "max_tokens": 7}


def test_openai_compatible_names_take_the_official_client_with_typed_body():
    m = get_model("openai/gpt-4o-mini?temperature=0.2&max_tokens=7&api_base=http://127.0.0.1:9/v1&weight=2")
    assert isinstance(m, OpenAIModel)
    assert m.call.model_field == "gpt-4o-mini" and m.call.base_url == "http://127.0.0.1:9/v1"
    assert m.call.body == {"temperature": 0.2, "max_tokens": 7}
    assert isinstance(get_model("openai/gpt-4o-mini?client=litellm"), LiteLLMModel)
    assert isinstance(get_model("hosted_vllm/qwen?api_base=http://127.0.0.1:9/v1"), OpenAIModel)
    assert get_model("ollama_chat/llama3").call.base_url == "http://localhost:11434/v1"  # type: ignore[union-attr]
    with pytest.raises(ModelError, match="client must be openai or litellm"):
        get_model("openai/gpt-4o?client=curl")
    with pytest.raises(ModelError, match="openai client serves"):
        get_model("anthropic/claude-3-5-haiku?client=openai")


def test_unknown_mock_script_is_an_error():
    with pytest.raises(ModelError, match="unknown mock model"):
        get_model("mock/nope")


@pytest.mark.parametrize("client", ["openai", "litellm"])
def test_mock_scripts_answer_through_either_client_and_record_usage(client):
    seen = []

    def script(messages, params):
        seen.append((messages[-1]["content"], params))
        return "pong " + params.get("tag", "")

    register_script("test-pong", script)
    m = get_model(f"mock/test-pong?tag=x&client={client}")
    assert isinstance(m, OpenAIModel if client == "openai" else LiteLLMModel)
    out = asyncio.run(m.complete([{"role": "user", "content": "ping one two"}]))
    assert out.text == "pong x"
    assert seen == [("ping one two", {"tag": "x"})]
    assert out.usage.calls == 1
    assert out.usage.prompt_tokens == 3 and out.usage.completion_tokens == 2
    if client == "litellm":
        # The reply really came back as a litellm response through the custom provider.
        litellm = load_litellm()
        assert any(p["provider"] == "mock" for p in litellm.custom_provider_map)


def test_mock_latency_is_injected():
    m = get_model("mock/echo?latency=0.2")
    out = asyncio.run(m.complete([{"role": "user", "content": "hi"}]))
    assert out.text == "hi"
    assert out.latency_s >= 0.2
