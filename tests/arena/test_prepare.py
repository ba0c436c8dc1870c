"""A new run's cases are made before Ray starts, so a bad case file fails first."""

import json

import pytest

from arena import pipeline
from arena.core.types import RunConfig
from cases.loader import CaseFileError


@pytest.fixture
def ray_starts(monkeypatch):
    calls: list[str | None] = []
    monkeypatch.setattr(pipeline, "init_ray", lambda address=None, **_: calls.append(address))
    return calls


def test_synthesized_cases_are_the_ones_planning_makes_and_ray_starts_once(ray_starts):
    config = RunConfig(cases=7, seed=3)
    made = pipeline.prepare(config, "127.0.0.1:6379")
    assert [c.id for c in made] == [c.id for c in pipeline.plan_cases(config)]
    assert ray_starts == ["127.0.0.1:6379"]


def test_a_bad_case_file_fails_before_ray_starts(tmp_path, ray_starts):
    bad = tmp_path / "cases.jsonl"
    bad.write_text(json.dumps({"id": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(CaseFileError, match=r"cases\.jsonl"):
        pipeline.prepare(RunConfig(cases=1, case_file=str(bad)))
    assert ray_starts == []


def test_a_person_at_the_terminal_needs_no_ray(ray_starts):
    made = pipeline.prepare(RunConfig(cases=2, doctors=["human"]))
    assert len(made) == 2 and ray_starts == []


def test_the_workers_of_a_local_ray_import_the_openai_client_only_for_a_run_that_calls_it(monkeypatch):
    started: list[tuple[str, bool]] = []
    monkeypatch.setattr(
        pipeline, "init_ray", lambda address=None, openai_client=True: started.append(("wait", openai_client))
    )
    monkeypatch.setattr(
        pipeline, "start_ray_in_background", lambda openai_client=True: started.append(("background", openai_client))
    )
    pipeline.start_ray(RunConfig(cases=1))  # built-in doctors and patient
    pipeline.start_ray(RunConfig(cases=1, doctors=["mock/doctor?latency=0.5"], patient="mock/patient"))
    pipeline.start_ray(RunConfig(cases=1, patient="mock/patient?client=litellm", guard_verifier="mock/verifier"))
    pipeline.start_ray(RunConfig(cases=1, doctors=["mock/doctor?client=litellm"]))
    assert started == [("background", False), ("background", True), ("wait", True), ("wait", False)]
