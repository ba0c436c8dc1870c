import json

import pytest

from arena.core.types import base_case_id
from cases.loader import CaseFileError, load_case_file, select_cases


def _write(tmp_path, lines):
    p = tmp_path / "cases.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_loads_a_valid_file(tmp_path, bank):
    p = _write(tmp_path, [bank[0].model_dump_json(), "", bank[1].model_dump_json()])
    got = load_case_file(p)
    assert [c.id for c in got] == [bank[0].id, bank[1].id]


def test_bad_json_names_file_and_line(tmp_path, bank):
    p = _write(tmp_path, [bank[0].model_dump_json(), "{not json"])
    with pytest.raises(CaseFileError, match=r"cases\.jsonl:2: invalid JSON"):
        load_case_file(p)


def test_bad_field_names_line_and_field(tmp_path, bank):
    d = json.loads(bank[0].model_dump_json())
    d["demographics"]["age"] = "old"
    p = _write(tmp_path, [bank[1].model_dump_json(), json.dumps(d)])
    with pytest.raises(CaseFileError, match=r":2: field demographics\.age"):
        load_case_file(p)


def test_duplicate_ids_are_an_error(tmp_path, bank):
    p = _write(tmp_path, [bank[0].model_dump_json(), bank[0].model_dump_json()])
    with pytest.raises(CaseFileError, match="duplicate case id"):
        load_case_file(p)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(CaseFileError, match="no such file"):
        load_case_file(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(CaseFileError, match="no cases"):
        load_case_file(empty)


def test_select_cycles_with_distinct_ids(bank):
    got = select_cases(bank, len(bank) + 3)
    ids = [c.id for c in got]
    assert len(set(ids)) == len(ids)
    assert [base_case_id(i) for i in ids[len(bank) :]] == [c.id for c in bank[:3]]
    assert got[len(bank)].facts == bank[0].facts
