"""Asking a model for JSON of a declared shape, through litellm's ``mock_response`` (never the network)."""

import os

# Set before litellm is imported (below, through arena.models), so it never fetches its price map.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import asyncio

from pydantic import BaseModel, RootModel, StrictBool, field_validator

from arena.core.json_reply import first_json_object, parse_reply, valid_entries
from arena.models import ChatModel, Completion, LiteLLMModel, Message, get_model
from arena.models.ask_json import DEFAULT_ATTEMPTS, Answer, Unscored, ask_json


class Verdict(BaseModel):
    met: StrictBool
    why: str = ""


class Verdicts(RootModel[list[Verdict]]):
    @field_validator("root", mode="before")
    @classmethod
    def _usable(cls, v: object) -> object:
        return valid_entries(Verdict, v)


class Scripted(ChatModel):
    """A litellm model whose every call answers with the next scripted reply (litellm's ``mock_response``)."""

    def __init__(self, *replies: str) -> None:
        model = get_model("openai/gpt-4o-mini?client=litellm")
        assert isinstance(model, LiteLLMModel)
        self.inner = model
        self.name = model.name
        self.replies = list(replies)
        self.calls = 0

    async def complete(self, messages: list[Message]) -> Completion:
        self.calls += 1
        self.inner.kwargs["mock_response"] = self.replies.pop(0)
        return await self.inner.complete(messages)


class Failing(ChatModel):
    """Raises on the first ``fails`` calls, then answers ``reply``."""

    name = "test/failing"

    def __init__(self, fails: int, reply: str = '{"met": true}') -> None:
        self.fails = fails
        self.reply = reply
        self.calls = 0

    async def complete(self, messages: list[Message]) -> Completion:
        self.calls += 1
        if self.calls <= self.fails:
            raise ConnectionError("provider down")
        return await Scripted(self.reply).complete(messages)


def test_a_valid_first_reply_is_returned_validated():
    model = Scripted('Sure. {"met": true, "why": "asked about the jaw"}')
    got = asyncio.run(ask_json(model, "Is it met?", Verdict))
    assert isinstance(got, Answer)
    assert got.value == Verdict(met=True, why="asked about the jaw")
    assert model.calls == 1 and got.usage.calls == 1


def test_an_invalid_reply_is_asked_for_again_until_one_is_valid():
    model = Scripted("I think it is met.", '{"met": "yes"}', '```json\n{"met": false}\n```')
    got = asyncio.run(ask_json(model, [{"role": "user", "content": "Is it met?"}], Verdict))
    assert isinstance(got, Answer) and got.value.met is False
    assert model.calls == 3 and got.usage.calls == 3


def test_a_model_that_never_replies_validly_is_unscored_after_the_bounded_attempts():
    model = Scripted(*["no json here {"] * (DEFAULT_ATTEMPTS + 1))
    got = asyncio.run(ask_json(model, "Is it met?", Verdict))
    assert isinstance(got, Unscored)
    assert model.calls == DEFAULT_ATTEMPTS
    assert got.reason == f"no usable reply after {DEFAULT_ATTEMPTS} attempts; unparseable reply: 'no json here {{'"
    assert got.error is None and got.usage.calls == DEFAULT_ATTEMPTS


def test_the_attempts_asked_for_bound_the_calls():
    model = Scripted("nothing", "nothing")
    got = asyncio.run(ask_json(model, "Is it met?", Verdict, attempts=1))
    assert isinstance(got, Unscored) and got.reason.startswith("no usable reply after 1 attempt;")
    assert model.calls == 1


def test_a_call_that_raises_is_a_failed_attempt_and_the_last_error_is_kept():
    recovers = Failing(fails=1)
    got = asyncio.run(ask_json(recovers, "Is it met?", Verdict))
    assert isinstance(got, Answer) and got.value.met is True and recovers.calls == 2
    assert got.usage.calls == 1, "only the answered call has usage"
    down = Failing(fails=DEFAULT_ATTEMPTS)
    lost = asyncio.run(ask_json(down, "Is it met?", Verdict))
    assert isinstance(lost, Unscored) and isinstance(lost.error, ConnectionError)
    assert lost.reason.endswith("ConnectionError: provider down") and down.calls == DEFAULT_ATTEMPTS


def test_the_first_value_of_the_right_shape_is_read_past_braces_and_other_objects():
    text = 'Turn {3} said {"note": 1}; verdict: {"met": true} and then {"met": false}'
    assert parse_reply(text, Verdict) == Verdict(met=True)
    assert parse_reply("no json {", Verdict) is None
    # An array reply keeps the entries that are verdicts and drops the rest.
    reply = parse_reply('[{"met": true}, {"met": "maybe"}, 7, {"met": false, "why": "w"}]', Verdicts)
    assert reply is not None and [v.met for v in reply.root] == [True, False]


def test_the_first_json_object_skips_arrays_and_undecodable_braces():
    assert first_json_object('[1, 2] then {oops} then {"action": "ask"}') == {"action": "ask"}
    assert first_json_object("[1, 2]") is None
