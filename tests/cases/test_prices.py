"""The price list (cases/data/prices.json) and what a consultation's care costs."""

import json
import statistics
from importlib import resources

import pytest

import cases.prices
from arena.core.types import DoctorAction, SynthesisRule, Synthesized, Turn
from cases.knowledge import match_topics, topics
from cases.prices import (
    OTHER,
    PRICES_FILE,
    VISIT,
    PriceListError,
    care_cost,
    order_item,
    parse_prices,
    price_list,
    price_of,
)

RAW = resources.files("cases").joinpath("data", "prices.json").read_text("utf-8")


def _raw() -> dict:
    return json.loads(RAW)


# --------------------------------------------------------------------------- the list


def test_the_list_prices_the_visit_and_every_exam_and_test_topic():
    prices = price_list()
    assert len(prices.items) >= 60
    assert prices.items[VISIT].kind == "visit" and prices.items[VISIT].price > 0
    wanted = {t.topic: t.kind for t in topics().values() if t.kind != "history"}
    assert sum(k == "exam" for k in wanted.values()) == 19 and sum(k == "test" for k in wanted.values()) == 45
    for topic, kind in wanted.items():
        assert topic in prices.items, topic
        assert prices.items[topic].kind == kind, topic
    assert set(OTHER.values()) <= set(prices.items)


def test_currency_and_sources_are_stated_at_the_top():
    raw = _raw()
    assert list(raw)[:3] == ["_doc", "currency", "_sources"]
    assert raw["currency"] == "USD" == cases.prices.CURRENCY == price_list().currency
    names = {s.id: s for s in price_list().sources}
    published = [s for s in names.values() if s.year is not None]
    assert len(published) >= 3
    assert all(s.name.startswith("CMS ") and 2000 < s.year < 2100 for s in published)
    assert any("Clinical Laboratory Fee Schedule" in s.name for s in published)
    assert any("Physician Fee Schedule" in s.name for s in published)


def test_every_item_rests_on_a_known_source_and_code_or_on_its_parts():
    prices = price_list()
    known = {s.id: s for s in prices.sources}
    for key, it in prices.items.items():
        if it.parts:
            assert it.price == pytest.approx(sum(prices.items[p].price for p in it.parts)), key
            continue
        assert it.source in known, key
        if known[it.source].year is not None:  # a published schedule: the code must be named
            assert it.codes, key
        else:
            assert it.note, key  # a rule of the list says what the rule is


def test_examinations_are_part_of_the_visit():
    prices = price_list()
    exams = [it for it in prices.items.values() if it.kind == "exam"]
    assert len(exams) == 19
    assert all(it.price == 0 for it in exams)
    assert "examination is part of the visit" in prices.doc


def test_an_unnamed_test_costs_the_median_named_test():
    prices = price_list()
    named = [it.price for k, it in prices.items.items() if it.kind == "test" and k != "other_test"]
    assert prices.items["other_test"].price == round(statistics.median(named))


def test_price_of_reads_the_list():
    raw = _raw()["items"]
    assert price_of("ct_head") == raw["ct_head"]["price"]
    assert price_of("blood_cultures") == 2 * raw["blood_culture_set"]["price"]
    with pytest.raises(KeyError, match="no price for 'unobtainium'"):
        price_of("unobtainium")
    with pytest.raises(AttributeError):
        _ = cases.prices.CURRENCIES


# --------------------------------------------------------------------------- a bad file


def _broken(change) -> str:
    raw = _raw()
    change(raw)
    return json.dumps(raw, indent=2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["items"]["ecg"].update(price=-1), "field items.ecg.price: Input should be greater than or equal"),
        (lambda r: r["items"]["ecg"].update(colour="red"), "field items.ecg.colour: Extra inputs are not permitted"),
        (lambda r: r["items"].pop("ecg"), "field items.ecg: missing (test topic)"),
        (lambda r: r["items"].pop("visit"), "field items.visit: missing"),
        (
            lambda r: r["items"]["ecg"].update(source="nhs-tariff"),
            "field items.ecg.source: unknown source 'nhs-tariff'",
        ),
        (lambda r: r["items"]["tft"].update(price=99.0), "field items.tft.price: 99 is not the sum of its parts"),
        (lambda r: r["items"]["tft"].update(parts=["tsh", "t3"]), "field items.tft.parts: unknown item 't3'"),
        (lambda r: r["items"]["ecg"].update(kind="exam"), "field items.ecg.kind: 'exam', expected 'test'"),
        (lambda r: r.update(currency="dollars"), "field currency: String should match pattern"),
        (lambda r: r.pop("_sources"), "field _sources: Field required"),
        (lambda r: r["items"]["ecg"].pop("source"), "field items.ecg: needs a source"),
    ],
)
def test_a_bad_price_list_fails_in_one_line_naming_file_and_field(change, message):
    with pytest.raises(PriceListError) as err:
        parse_prices(_broken(change))
    text = str(err.value)
    assert text.startswith(f"{PRICES_FILE}: ")
    assert message in text
    assert "\n" not in text


def test_invalid_json_names_the_line():
    with pytest.raises(PriceListError, match=r"^cases/data/prices.json:3: invalid JSON"):
        parse_prices('{\n  "currency": "USD",\n  oops\n}')


# --------------------------------------------------------------------------- pricing a consultation


def _doctor(index: int, kind: str, request: str = "", text: str = "") -> Turn:
    return Turn(
        consultation_id="c1",
        index=index,
        role="doctor",
        content=text or request,
        action=DoctorAction(kind=kind, request=request, text=text or request),
    )


def _say(index: int, role: str, content: str) -> Turn:
    return Turn(consultation_id="c1", index=index, role=role, content=content)


def test_care_cost_is_the_visit_plus_each_order():
    turns = [
        _say(0, "patient", "My chest hurts."),
        _doctor(1, "ask", text="Where does it hurt?"),
        _say(2, "patient", "In the middle."),
        _doctor(3, "exam", "chest exam"),
        _say(4, "measurement", "Clear lungs."),
        _doctor(5, "test", "12-lead ECG"),
        _say(6, "measurement", "ST elevation."),
        _doctor(7, "test", text="Check troponin please"),  # no request: priced by its words
        _say(8, "measurement", "Raised."),
        _doctor(9, "test", "bone marrow biopsy"),  # names no test topic
        _say(10, "measurement", "Not performed."),
        _doctor(11, "test", "12-lead ECG"),  # ordered again: paid again
        _say(12, "measurement", "Unchanged."),
        _doctor(13, "final", text="STEMI"),
    ]
    raw = _raw()["items"]
    care = care_cost(turns)
    assert care.currency == "USD"
    assert [(i.item, i.turn) for i in care.items] == [
        ("visit", None),
        ("respiratory_exam", 3),
        ("ecg", 5),
        ("troponin", 7),
        ("other_test", 9),
        ("ecg", 11),
    ]
    expected = sum(raw[k]["price"] for k in ("visit", "respiratory_exam", "ecg", "troponin", "other_test", "ecg"))
    assert care.total == pytest.approx(expected)
    assert care.total == pytest.approx(sum(i.price for i in care.items))
    assert [i.price for i in care.items] == [raw[i.item]["price"] for i in care.items]
    assert care.total > raw["visit"]["price"] + raw["ecg"]["price"]  # the orders are more than one ECG


def test_a_consultation_without_orders_costs_the_visit():
    care = care_cost([_say(0, "patient", "I feel dizzy."), _doctor(1, "ask", text="Since when?")])
    assert [(i.item, i.price) for i in care.items] == [("visit", _raw()["items"]["visit"]["price"])]
    assert care.total == _raw()["items"]["visit"]["price"]
    assert care_cost([]).total == care.total


def test_an_unanswered_request_naming_several_tests_is_priced_as_the_best_one():
    request = "FBC and CRP"
    ranked = match_topics(request, ("test",))
    assert len(ranked) == 2
    care = care_cost([_doctor(1, "test", request)])
    assert [i.item for i in care.items] == ["visit", ranked[0]]


def test_an_order_costs_every_item_its_result_reported(stemi):
    ecg = next(f for f in stemi.facts if f.topic == "ecg")
    result = Turn(
        consultation_id="c1",
        index=2,
        role="measurement",
        content="...",
        revealed=[ecg.id],
        synthesized=[
            Synthesized(topic="fbc", rule=SynthesisRule.REFERENCE_NORMAL, text="FBC normal"),
            Synthesized(topic="bone_scan", rule=SynthesisRule.REFERENCE_NORMAL, text="no such test"),
        ],
    )
    care = care_cost([_doctor(1, "test", "ECG, FBC and a bone scan"), result], stemi)
    raw = _raw()["items"]
    assert [(i.item, i.turn) for i in care.items] == [("visit", None), ("ecg", 1), ("fbc", 1), ("other_test", 1)]
    assert care.total == pytest.approx(sum(raw[k]["price"] for k in ("visit", "ecg", "fbc", "other_test")))


def test_an_unnamed_exam_is_priced_as_other_exam():
    care = care_cost([_doctor(1, "exam", "tilt the patient sideways")])
    assert care.items[1].item == "other_exam" and care.items[1].price == _raw()["items"]["other_exam"]["price"]


def test_order_lookups_are_cached_per_request():
    order_item.cache_clear()
    assert order_item("test", "a chest radiograph please") == "chest_xray"
    assert order_item("test", "a chest radiograph please") == "chest_xray"
    info = order_item.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    with pytest.raises(ValueError, match="not 'ask'"):
        order_item("ask", "any pain?")


def test_a_broken_price_list_stops_a_run_before_it_starts(monkeypatch, tmp_path, capsys):
    from arena import pipeline
    from arena.cli import main

    def broken() -> None:
        parse_prices(_broken(lambda r: r["items"]["ecg"].update(price="free")))

    monkeypatch.setattr(pipeline, "price_list", broken)
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    assert main(["simulate", "--cases", "1", "--doctor", "builtin/checklist", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "cases/data/prices.json: field items.ecg.price: Input should be a valid number" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "arena.db").exists()  # nothing was written
