"""Prices of care, and what one consultation cost.

``data/prices.json`` prices the visit, every examination and test topic of
``data/topics.json``, and the finer items some of them are made of, in one
currency, each from a named published fee schedule. :func:`care_cost` prices a
consultation as the visit once plus one item per exam or test the doctor
ordered, so doctors can be compared on what their care costs as well as on
their scores.

``CURRENCY`` (read lazily from the file) is the ISO 4217 code of every price.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arena.core.errors import parse_data_file
from arena.core.types import CareCost, CareItem, Case, NonEmpty, Turn
from cases.knowledge import TopicKind, match_topics, topics

PRICES_FILE = "cases/data/prices.json"
"""Where the price list lives, as error messages name it."""
VISIT = "visit"
"""The item every consultation pays once: the consultation itself."""
OTHER = {"exam": "other_exam", "test": "other_test"}
"""The item an order is priced as when its request names no topic of its kind."""
ORDER_KINDS = frozenset(OTHER)
"""Doctor actions that order care, and are priced."""
_KINDS: dict[str, tuple[TopicKind, ...]] = {"exam": ("exam",), "test": ("test",)}

ItemKind = Literal["visit", "exam", "test", "part"]


class PriceListError(ValueError):
    """The price list is malformed; the message names the file and the field."""


class PriceSource(BaseModel):
    """A published fee schedule (or a rule of the list) that prices rest on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: NonEmpty
    """How items refer to it, e.g. ``clfs-2024``."""
    name: NonEmpty
    """Its published name."""
    year: int | None = None
    """The year of the schedule (None for a rule of the list itself)."""
    basis: NonEmpty
    """Which figure of the schedule is taken."""


class PriceItem(BaseModel):
    """One priced item: the visit, an exam or test topic, or a part of one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ItemKind
    """``visit``, ``exam`` or ``test`` (named after its topic), or ``part`` of another item."""
    what: NonEmpty
    """What is priced, in words."""
    price: float = Field(ge=0, allow_inf_nan=False)
    """Its price in the list's currency; for an item with parts, their sum."""
    source: NonEmpty | None = None
    """Id of the source it rests on (items with parts rest on their parts' sources)."""
    codes: tuple[NonEmpty, ...] = ()
    """The schedule's codes it is priced by (CPT/HCPCS, APC)."""
    parts: tuple[NonEmpty, ...] = ()
    """Items it is made of, a part once per time it is done."""
    note: str = ""
    """Why it is priced this way, where that is not obvious."""

    @model_validator(mode="after")
    def _sourced(self) -> PriceItem:
        if self.parts and (self.source or self.codes):
            raise ValueError("an item with parts rests on its parts: give no source or codes of its own")
        if not self.parts and self.source is None:
            raise ValueError("needs a source, or parts that have one")
        return self


class PriceList(BaseModel):
    """The whole price file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    doc: NonEmpty = Field(alias="_doc")
    """What the list is and how it was made."""
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    """ISO 4217 code of every price."""
    sources: tuple[PriceSource, ...] = Field(alias="_sources", min_length=1)
    """The published sources the prices rest on."""
    items: dict[str, PriceItem]
    """Every item by id; an exam or test topic's id is the topic's name."""


def check_prices(prices: PriceList) -> list[str]:
    """Return every cross-reference problem of a price list, as ``field X: problem``.

    The list must price the visit and every exam and test topic (so any order
    can be priced), name known sources, and state for an item with parts the
    sum of their prices.
    """
    out: list[str] = []
    source_ids = [s.id for s in prices.sources]
    for i, sid in enumerate(source_ids):
        if sid in source_ids[:i]:
            out.append(f"field _sources.{i}.id: duplicate id {sid!r}")
    vocab = topics()
    if VISIT not in prices.items:
        out.append(f"field items.{VISIT}: missing")
    for t in vocab.values():
        if t.kind != "history" and t.topic not in prices.items:
            out.append(f"field items.{t.topic}: missing ({t.kind} topic)")
    for key, it in prices.items.items():
        where = f"field items.{key}"
        topic = vocab.get(key)
        if key == VISIT:
            expected: str = "visit"
        elif topic is not None and topic.kind != "history":
            expected = topic.kind
        else:
            expected = "part"
        if it.kind != expected:
            out.append(f"{where}.kind: {it.kind!r}, expected {expected!r}")
        if it.source is not None and it.source not in source_ids:
            out.append(f"{where}.source: unknown source {it.source!r}")
        for p in it.parts:
            part = prices.items.get(p)
            if part is None:
                out.append(f"{where}.parts: unknown item {p!r}")
            elif part.parts:
                out.append(f"{where}.parts: {p!r} has parts of its own")
        if it.parts and all(p in prices.items for p in it.parts):
            total = sum(prices.items[p].price for p in it.parts)
            if abs(total - it.price) > 0.005:
                out.append(f"{where}.price: {it.price:g} is not the sum of its parts ({total:g})")
    return out


def parse_prices(raw: str, name: str = PRICES_FILE) -> PriceList:
    """Read and check a price list.

    Args:
        raw: The file's text.
        name: The file, as error messages name it.

    Returns:
        The checked price list.

    Raises:
        PriceListError: one line naming the file and the field of the first problem.
    """
    prices = parse_data_file(PriceList, raw, name, PriceListError)
    problems = check_prices(prices)
    if problems:
        raise PriceListError(f"{name}: {problems[0]}")
    return prices


@cache
def price_list() -> PriceList:
    """Return the packaged price list, read and checked once per process.

    Raises:
        PriceListError: when the packaged file is malformed.
    """
    return parse_prices(resources.files("cases").joinpath("data", "prices.json").read_text("utf-8"))


def __getattr__(name: str) -> str:
    # CURRENCY is read from the file on first use, so importing this module
    # never reads (or fails on) the price list.
    if name == "CURRENCY":
        return price_list().currency
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def price_of(item: str) -> float:
    """Return the price of an item of the price list, in :data:`CURRENCY`.

    Args:
        item: An item id: ``visit``, an exam or test topic, or a part.

    Raises:
        KeyError: when the list has no such item.
    """
    found = price_list().items.get(item)
    if found is None:
        raise KeyError(f"no price for {item!r} in {PRICES_FILE}")
    return found.price


@lru_cache(maxsize=8192)
def order_item(kind: str, request: str) -> str:
    """Return the price-list item an exam or test request is priced as.

    It is the best topic of that kind the request names (as
    :func:`cases.knowledge.match_topics` ranks them), or ``other_exam`` /
    ``other_test`` when it names none. Cached per request, since the same
    wording comes back in consultation after consultation.

    Args:
        kind: ``exam`` or ``test``.
        request: What the doctor asked for, in words.

    Raises:
        ValueError: for another kind.
    """
    kinds = _KINDS.get(kind)
    if kinds is None:
        raise ValueError(f"only exams and tests are priced, not {kind!r}")
    found = match_topics(request, kinds)
    return found[0] if found else OTHER[kind]


def _reported(result: Turn, case: Case | None, kind: str) -> list[str]:
    """The price-list items a result reported: its revealed facts' topics and its synthesized ones."""
    topics_: list[str] = []
    if case is not None:
        known = {f.id: f.topic for f in case.facts}
        topics_ += [known[i] for i in result.revealed if i in known]
    topics_ += [s.topic for s in result.synthesized]
    items = price_list().items
    return [t if t in items else OTHER[kind] for t in dict.fromkeys(topics_)]


def care_cost(turns: Sequence[Turn], case: Case | None = None) -> CareCost:
    """Price one consultation: the visit once, plus each exam and test the doctor ordered.

    An order is a doctor turn whose action is ``exam`` or ``test``, with ``turn``
    set to its index. It is charged for every item the result that answered it
    reports (the topics of the case facts it revealed, given ``case``, and of
    the results it synthesized), since a request for "FBC and CRP" gets, and
    costs, both. An order no result answered yet is priced as
    :func:`order_item` of its request (or of its text, when it has no request).

    Args:
        turns: The consultation's turns, in order (finished or not).
        case: The case played, to read which topics revealed facts are on.

    Returns:
        The cost, with the visit first and the orders in the order they were made.
    """
    prices = price_list()
    items = prices.items
    care = [CareItem(item=VISIT, price=items[VISIT].price)]
    for i, t in enumerate(turns):
        a = t.action
        if t.role != "doctor" or a is None or a.kind not in ORDER_KINDS:
            continue
        result = turns[i + 1] if i + 1 < len(turns) and turns[i + 1].role == "measurement" else None
        keys = _reported(result, case, a.kind) if result is not None else []
        for key in keys or [order_item(a.kind, a.request or a.text)]:
            care.append(CareItem(item=key, price=items[key].price, turn=t.index))
    # Rounded to cents so a sum of prices never shows float noise.
    return CareCost(currency=prices.currency, total=round(sum(i.price for i in care), 2), items=care)
