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


def test_risk_levels_are_ordered_least_to_most_severe():
    from arena.core.types import RISK_LEVELS, RISK_ORDER

    assert RISK_LEVELS == ("low", "medium", "high", "critical")
    assert sorted(RISK_LEVELS, key=RISK_ORDER.__getitem__, reverse=True) == ["critical", "high", "medium", "low"]


def test_run_config_fills_in_every_option_left_unset():
    from arena.core.types import RunConfig

    c = RunConfig()
    assert (c.cases, c.trials, c.max_turns, c.concurrency, c.seed) == (20, 1, 20, 64, 0)
    assert (c.doctor, c.doctors, c.patient, c.judges) == (
        "builtin/checklist",
        ["builtin/checklist"],
        "builtin/patient",
        ["builtin/rubric"],
    )
    assert (c.guard_matcher, c.guard_verifier, c.persona) == ("lexical", None, "plain")
    # Stored as plain words, so a stored config reads back the same.
    assert json.loads(c.model_dump_json())["guard_matcher"] == "lexical"


def test_choices_are_enums_with_the_words_the_cli_accepts():
    from arena.core.types import DEFAULT_RULE, CommitteeRule, ExportSplit, MatcherBackend

    assert [str(r) for r in CommitteeRule] == ["majority", "mean", "unanimous", "weighted"]
    assert DEFAULT_RULE == "majority"
    assert [str(s) for s in ExportSplit] == ["system", "complaint"]
    assert {str(m) for m in MatcherBackend} == {"lexical", "minilm"}
