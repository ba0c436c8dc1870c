import json

import pytest
from pydantic import ValidationError

from arena.core.types import Case, RubricItem, Transcript


def _case_dict(stemi: Case) -> dict:
    return json.loads(stemi.model_dump_json())


def test_case_rejects_unknown_keys(stemi):
    d = _case_dict(stemi)
    d["facts"][0]["colour"] = "blue"
    with pytest.raises(ValidationError) as e:
        Case.model_validate(d)
    assert "colour" in str(e.value)


def test_case_rejects_duplicate_fact_ids(stemi):
    d = _case_dict(stemi)
    d["facts"].append(dict(d["facts"][0]))
    with pytest.raises(ValidationError, match="duplicate fact ids"):
        Case.model_validate(d)


def test_rubric_check_must_name_existing_facts(stemi):
    d = _case_dict(stemi)
    item = next(i for i in d["rubric"] if i["check"] and i["check"]["kind"] == "elicit")
    item["check"]["targets"] = ["no.such.fact"]
    with pytest.raises(ValidationError, match="unknown facts"):
        Case.model_validate(d)


def test_rubric_points_must_not_be_zero():
    with pytest.raises(ValidationError, match="zero"):
        RubricItem(id="x", criterion="Asks about fever", points=0)


def test_axis_property_reads_the_axis_tag():
    assert RubricItem(id="x", criterion="c", points=2, tags=["priority:must", "axis:history"]).axis == "history"
    assert RubricItem(id="x", criterion="c", points=2).axis == "other"


def test_transcript_round_trips_through_json(stemi):
    tr = Transcript(id="c1", run_id="r1", case_id=stemi.id, doctor="d", patient="p", stop_reason="max_turns")
    again = Transcript.model_validate_json(tr.model_dump_json())
    assert again == tr
    assert again.schema_version == 1
