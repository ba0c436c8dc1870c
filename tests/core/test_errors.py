import pytest

from arena.core.errors import error_line


def test_an_error_line_is_the_first_line_of_the_message():
    assert error_line(ValueError("bad field 'age'\n  at line 3\n  details")) == "bad field 'age'"


def test_an_empty_message_names_the_exception_class():
    assert error_line(KeyError()) == "KeyError"
    assert error_line(RuntimeError("   \n  ")) == "RuntimeError"


def test_a_limit_cuts_a_long_line():
    assert error_line(ValueError("x" * 300), limit=200) == "x" * 200


def test_a_data_file_error_names_the_file_and_the_line_or_field():
    from pydantic import BaseModel

    from arena.core.errors import parse_data_file

    class Entry(BaseModel):
        price: float

    class File(BaseModel):
        items: dict[str, Entry]

    class BadFile(ValueError):
        pass

    assert parse_data_file(File, '{"items": {"a": {"price": 1}}}', "f.json", BadFile).items["a"].price == 1
    with pytest.raises(BadFile, match=r"^f\.json:2: invalid JSON: "):
        parse_data_file(File, '{"items":\n  oops}', "f.json", BadFile)
    with pytest.raises(BadFile, match=r"^f\.json: field items\.a\.price: Input should be a valid number"):
        parse_data_file(File, '{"items": {"a": {"price": "ten"}}}', "f.json", BadFile)
    with pytest.raises(BadFile, match=r"^f\.json: field \(top level\): "):
        parse_data_file(File, "[]", "f.json", BadFile)
